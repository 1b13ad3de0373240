/*
 * The Redis calls of a worker, sent on its connection
 * (ngx_http_cs_redis.c).
 *
 * Each call is a small record from a per-worker free list.  The request's
 * pool cleanup detaches it, so a late reply finds no request and is
 * dropped; the record itself returns to the free list only when hiredis is
 * done with it.
 *
 * A call without a request (a timer's, ngx_http_cs_redis_call()) names a
 * callback and its data instead; it has a pool of its own for its
 * arguments, destroyed with the record whatever the outcome, and a
 * cancelable timer, so that it never holds up a graceful quit.
 *
 * A call whose own timer fires answers its request 504 and is detached in
 * the same way: Redis answers in order, so its late reply still finds its
 * record and is dropped there.  The connection is not dropped for it (see
 * ngx_http_cs_redis.c for when it is).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <hiredis/async.h>

#include "ngx_http_cs_redis_int.h"


static int ngx_http_cs_redis_command(redisAsyncContext *ac,
    ngx_http_cs_redis_call_t *call);
static void ngx_http_cs_redis_sent(ngx_http_cs_redis_t *rs);
static void ngx_http_cs_redis_reloaded(redisAsyncContext *ac, void *r,
    void *data);


ngx_queue_t  ngx_http_cs_redis_free;


time_t
ngx_http_cs_redis_retry_after(ngx_http_cs_redis_t *rs)
{
    ngx_msec_int_t  left;

    if (!rs->reconnect.timer_set) {
        return 1;
    }

    left = (ngx_msec_int_t) (rs->next_attempt - ngx_current_msec);
    if (left <= 0) {
        return 1;
    }

    return (time_t) ((left + 999) / 1000);
}


/* calls */

static void
ngx_http_cs_redis_recycle(ngx_http_cs_redis_call_t *call)
{
    if (call->timer.timer_set) {
        ngx_del_timer(&call->timer);
    }

    if (call->pool != NULL) {
        ngx_destroy_pool(call->pool);
        call->pool = NULL;
    }

    call->r = NULL;
    call->done = NULL;
    ngx_queue_insert_head(&ngx_http_cs_redis_free, &call->queue);
}


static void
ngx_http_cs_redis_detach(void *data)
{
    ngx_http_cs_redis_call_t  *call = data;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, call->rs->log, 0,
                   "cs: request gone before its redis reply");

    call->r = NULL;

    if (call->timer.timer_set) {
        ngx_del_timer(&call->timer);
    }

    if (!call->sent) {
        ngx_queue_remove(&call->queue);
        ngx_http_cs_redis_recycle(call);
    }

    /* a sent call returns to the free list when hiredis is done with it */
}


/* hands the outcome to the request, if it is still there */
void
ngx_http_cs_redis_finish(ngx_http_cs_redis_call_t *call, redisReply *reply,
    ngx_int_t rc)
{
    void                          *data;
    ngx_connection_t              *c;
    ngx_http_request_t            *r;
    ngx_http_cs_redis_done_pt      done;
    ngx_http_cs_redis_handler_pt   handler;

    r = call->r;
    handler = call->handler;
    done = call->done;
    data = call->data;

    /* the request no longer owns the call, whatever happens next */
    if (r != NULL) {
        call->cln->handler = NULL;
    }

    ngx_http_cs_redis_recycle(call);

    if (ngx_http_cs_redis_exiting) {
        return;
    }

    if (done != NULL) {
        done(data, reply, rc);
        return;
    }

    if (r == NULL) {
        return;
    }

    c = r->connection;

    handler(r, reply, rc);

    ngx_http_run_posted_requests(c);
}


/* the error replies of a Redis that is not (or not yet) a usable primary */
static ngx_int_t
ngx_http_cs_redis_not_primary(redisReply *reply)
{
    static const char  *codes[] = { "READONLY ", "MASTERDOWN ", "LOADING ",
                                    NULL };

    const char  **code;

    if (reply->type != REDIS_REPLY_ERROR) {
        return 0;
    }

    for (code = codes; *code; code++) {
        if (ngx_strncmp(reply->str, *code, ngx_strlen(*code)) == 0) {
            return 1;
        }
    }

    return 0;
}


static void
ngx_http_cs_redis_reply(redisAsyncContext *ac, void *rp, void *data)
{
    redisReply                *reply = rp;
    ngx_http_cs_redis_call_t  *call = data;

    ngx_str_t                 *library;
    ngx_http_cs_redis_t       *rs;

    if (reply == NULL) {
        /* written, but the connection went away: the fate is unknown */
        ngx_http_cs_redis_finish(call, NULL, NGX_HTTP_GATEWAY_TIME_OUT);
        return;
    }

    rs = call->rs;

    /* Redis is alive: the liveness bound starts again from this reply */
    if (rs->ac == ac && rs->inflight > 0) {
        rs->inflight--;

        if (rs->inflight > 0) {
            /*
             * ngx_add_timer() keeps a timer whose new deadline is within
             * NGX_TIMER_LAZY_DELAY of the old one: replies closer than
             * that would never push the deadline back
             */
            if (rs->liveness.timer_set) {
                ngx_del_timer(&rs->liveness);
            }

            ngx_add_timer(&rs->liveness, rs->timeout);

        } else if (rs->liveness.timer_set) {
            ngx_del_timer(&rs->liveness);
        }
    }

    if (ngx_http_cs_redis_not_primary(reply)) {
        /* fail-over: this server refuses writes; find the primary again */
        ngx_log_error(NGX_LOG_WARN, rs->log, 0,
                      "cs: redis %V is not a writable primary (%*s), "
                      "reconnecting", &rs->name,
                      (size_t) ngx_min(reply->len, 40), reply->str);

        ngx_http_cs_redis_finish(call, NULL, NGX_HTTP_SERVICE_UNAVAILABLE);

        if (rs->ac == ac) {
            ngx_http_cs_redis_drop(rs);
        }

        return;
    }

    if (reply->type == REDIS_REPLY_ERROR
        && ngx_strncmp(reply->str, "ERR Function not found", 22) == 0
        && !call->retried && (call->r != NULL || call->done != NULL)
        && call->rs->ac == ac)
    {
        /*
         * FUNCTION FLUSH or DELETE, or a restart without persistence:
         * load again and retry once, in order.  One load for all the
         * calls in flight: a retry sent after it runs after it.
         */
        call->retried = 1;

        if (!rs->reloading) {
            ngx_log_error(NGX_LOG_INFO, rs->log, 0,
                          "cs: redis %V lost the desk's library, loading "
                          "it again", &rs->name);

            library = ngx_http_cs_redis_library();

            if (redisAsyncCommand(ac, ngx_http_cs_redis_reloaded, rs,
                                  "FUNCTION LOAD %b", library->data,
                                  library->len)
                == REDIS_OK)
            {
                rs->reloading = 1;
            }
        }

        if (rs->reloading && ngx_http_cs_redis_command(ac, call) == REDIS_OK)
        {
            ngx_http_cs_redis_sent(rs);
            return;
        }
    }

    ngx_http_cs_redis_finish(call, reply, NGX_OK);
}


/* the reply to the FUNCTION LOAD of a lost library: a failure is logged */
static void
ngx_http_cs_redis_reloaded(redisAsyncContext *ac, void *r, void *data)
{
    redisReply           *reply = r;
    ngx_http_cs_redis_t  *rs = data;

    if (rs->ac == ac || rs->ac == NULL) {
        rs->reloading = 0;
    }

    if (reply == NULL || rs->ac != ac) {
        return;
    }

    if (ngx_http_cs_redis_library_loaded(reply) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, rs->log, 0,
                      "cs: redis %V: loading the lost library again "
                      "failed: %*s", &rs->name,
                      (size_t) ngx_min(reply->len, 200),
                      reply->str ? reply->str : "");
    }
}


static void
ngx_http_cs_redis_call_timeout(ngx_event_t *ev)
{
    ngx_connection_t           *c;
    ngx_http_request_t         *r;
    ngx_http_cs_redis_done_pt   done;
    ngx_http_cs_redis_call_t   *call = ev->data;

    if (!call->sent) {
        /* still waiting for the connection */
        ngx_queue_remove(&call->queue);
        ngx_http_cs_redis_finish(call, NULL, NGX_HTTP_SERVICE_UNAVAILABLE);
        return;
    }

    if (call->done != NULL) {
        /* as a request's: the record waits for the late reply */
        done = call->done;
        call->done = NULL;
        done(call->data, NULL, NGX_HTTP_GATEWAY_TIME_OUT);
        return;
    }

    r = call->r;
    if (r == NULL) {
        return;
    }

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "cs: redis %V did not answer this call in %M ms",
                  &call->rs->name, call->timeout);

    /*
     * Only this request gives up.  hiredis keeps the record until the
     * reply comes, in order, and the reply is then dropped.
     */
    call->r = NULL;
    call->cln->handler = NULL;

    c = r->connection;

    call->handler(r, NULL, NGX_HTTP_GATEWAY_TIME_OUT);

    ngx_http_run_posted_requests(c);
}


/* one more call awaits a reply: Redis must give some reply in time */
static void
ngx_http_cs_redis_sent(ngx_http_cs_redis_t *rs)
{
    if (rs->inflight++ == 0) {
        ngx_add_timer(&rs->liveness, rs->timeout);
    }
}


/*
 * A call's command in RESP, formatted here in one pass into one buffer:
 * hiredis' redisAsyncCommandArgv() grows an sds argument by argument with
 * sdscatfmt(), which cost more than the rest of the call's sending.
 */
#define NGX_HTTP_CS_REDIS_CMD_STACK  4096

/* n in decimal (ngx_sprintf's general path costs more per argument) */
static u_char *
ngx_http_cs_redis_digits(u_char *p, size_t n)
{
    u_char  *q, tmp[NGX_SIZE_T_LEN];

    q = tmp + sizeof(tmp);

    do {
        *--q = (u_char) ('0' + n % 10);
        n /= 10;
    } while (n);

    return ngx_cpymem(p, q, tmp + sizeof(tmp) - q);
}


static int
ngx_http_cs_redis_command(redisAsyncContext *ac,
    ngx_http_cs_redis_call_t *call)
{
    int      rc, i;
    size_t   len;
    u_char  *buf, *p, stack[NGX_HTTP_CS_REDIS_CMD_STACK];

    /* "*argc\r\n", then "$len\r\n" arg "\r\n" each */
    len = 1 + NGX_INT_T_LEN + 2;

    for (i = 0; i < call->argc; i++) {
        len += 1 + NGX_SIZE_T_LEN + 2 + call->argvlen[i] + 2;
    }

    if (len <= sizeof(stack)) {
        buf = stack;

    } else {
        buf = ngx_alloc(len, ngx_cycle->log);
        if (buf == NULL) {
            return REDIS_ERR;
        }
    }

    p = ngx_sprintf(buf, "*%d\r\n", call->argc);

    for (i = 0; i < call->argc; i++) {
        *p++ = '$';
        p = ngx_http_cs_redis_digits(p, call->argvlen[i]);
        *p++ = '\r';
        *p++ = '\n';
        p = ngx_cpymem(p, call->argv[i], call->argvlen[i]);
        *p++ = '\r';
        *p++ = '\n';
    }

    rc = redisAsyncFormattedCommand(ac, ngx_http_cs_redis_reply, call,
                                    (const char *) buf, p - buf);

    if (buf != stack) {
        ngx_free(buf);
    }

    return rc;
}


ngx_int_t
ngx_http_cs_redis_send(ngx_http_cs_redis_call_t *call)
{
    ngx_http_cs_redis_t  *rs;

    rs = call->rs;

    if (ngx_http_cs_redis_command(rs->ac, call) != REDIS_OK) {
        return NGX_ERROR;
    }

    call->sent = 1;

    if (call->timer.timer_set) {
        ngx_del_timer(&call->timer);
    }

    /* armed first, so that at equal times the call gives up first */
    ngx_add_timer(&call->timer, call->timeout);

    ngx_http_cs_redis_sent(rs);

    return NGX_OK;
}


/*
 * A record with its argument vector from pool (and the arguments, when
 * copy is set); the caller sets its owner.
 */
static ngx_http_cs_redis_call_t *
ngx_http_cs_redis_new_call(ngx_http_cs_redis_t *rs, ngx_uint_t script,
    ngx_array_t *args, ngx_msec_t timeout, ngx_pool_t *pool, ngx_uint_t copy)
{
    u_char                    *data;
    ngx_str_t                 *arg, *function;
    ngx_uint_t                 i;
    ngx_queue_t               *q;
    ngx_http_cs_redis_call_t  *call;

    if (!ngx_queue_empty(&ngx_http_cs_redis_free)) {
        q = ngx_queue_head(&ngx_http_cs_redis_free);
        ngx_queue_remove(q);
        call = ngx_queue_data(q, ngx_http_cs_redis_call_t, queue);

    } else {
        call = ngx_pcalloc(ngx_cycle->pool, sizeof(ngx_http_cs_redis_call_t));
        if (call == NULL) {
            return NULL;
        }

        call->timer.handler = ngx_http_cs_redis_call_timeout;
        call->timer.data = call;
    }

    call->argc = (int) args->nelts + 3;
    call->argv = ngx_palloc(pool, call->argc * sizeof(char *));
    call->argvlen = ngx_palloc(pool, call->argc * sizeof(size_t));

    if (call->argv == NULL || call->argvlen == NULL) {
        ngx_queue_insert_head(&ngx_http_cs_redis_free, &call->queue);
        return NULL;
    }

    call->argv[0] = "FCALL";
    call->argvlen[0] = sizeof("FCALL") - 1;
    function = ngx_http_cs_redis_function(script);

    call->argv[1] = (const char *) function->data;
    call->argvlen[1] = function->len;
    call->argv[2] = "1";
    call->argvlen[2] = 1;

    arg = args->elts;
    for (i = 0; i < args->nelts; i++) {
        data = arg[i].data;

        if (copy && arg[i].len > 0) {
            data = ngx_pnalloc(pool, arg[i].len);
            if (data == NULL) {
                ngx_queue_insert_head(&ngx_http_cs_redis_free, &call->queue);
                return NULL;
            }

            ngx_memcpy(data, arg[i].data, arg[i].len);
        }

        call->argv[i + 3] = (const char *) data;
        call->argvlen[i + 3] = arg[i].len;
    }

    call->rs = rs;
    call->script = script;
    call->timeout = timeout;
    call->sent = 0;
    call->retried = 0;

    return call;
}


/* NGX_AGAIN, or NGX_DECLINED when it could not be sent (not recycled) */
static ngx_int_t
ngx_http_cs_redis_start(ngx_http_cs_redis_call_t *call)
{
    ngx_http_cs_redis_t  *rs;

    rs = call->rs;

    if (rs->state == NGX_HTTP_CS_REDIS_READY) {
        if (ngx_http_cs_redis_send(call) != NGX_OK) {
            return NGX_DECLINED;
        }

        return NGX_AGAIN;
    }

    /* a connect is under way: wait for it, within its own bound */
    ngx_queue_insert_tail(&rs->waiting, &call->queue);
    ngx_add_timer(&call->timer, rs->connect_timeout);

    return NGX_AGAIN;
}


ngx_int_t
ngx_http_cs_redis_eval(ngx_http_request_t *r, ngx_http_cs_redis_t *rs,
    ngx_uint_t script, ngx_array_t *args, ngx_msec_t timeout,
    ngx_http_cs_redis_handler_pt handler)
{
    ngx_pool_cleanup_t        *cln;
    ngx_http_cs_redis_call_t  *call;

    if (rs->state == NGX_HTTP_CS_REDIS_DOWN) {
        return NGX_DECLINED;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    call = ngx_http_cs_redis_new_call(rs, script, args, timeout, r->pool, 0);
    if (call == NULL) {
        return NGX_ERROR;
    }

    call->r = r;
    call->cln = cln;
    call->handler = handler;
    call->timer.log = r->connection->log;
    call->timer.cancelable = 0;

    cln->handler = ngx_http_cs_redis_detach;
    cln->data = call;

    if (ngx_http_cs_redis_start(call) != NGX_AGAIN) {
        cln->handler = NULL;
        ngx_http_cs_redis_recycle(call);
        return NGX_DECLINED;
    }

    return NGX_AGAIN;
}


ngx_int_t
ngx_http_cs_redis_call(ngx_http_cs_redis_t *rs, ngx_uint_t script,
    ngx_array_t *args, ngx_msec_t timeout, ngx_http_cs_redis_done_pt done,
    void *data)
{
    ngx_pool_t                *pool;
    ngx_http_cs_redis_call_t  *call;

    if (rs->state == NGX_HTTP_CS_REDIS_DOWN) {
        return NGX_DECLINED;
    }

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, rs->log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    call = ngx_http_cs_redis_new_call(rs, script, args, timeout, pool, 1);
    if (call == NULL) {
        ngx_destroy_pool(pool);
        return NGX_ERROR;
    }

    call->r = NULL;
    call->done = done;
    call->data = data;
    call->pool = pool;
    call->timer.log = rs->log;
    call->timer.cancelable = 1;

    if (ngx_http_cs_redis_start(call) != NGX_AGAIN) {
        ngx_http_cs_redis_recycle(call);
        return NGX_DECLINED;
    }

    return NGX_AGAIN;
}
