/*
 * The Redis connection of a worker.
 *
 * hiredis' async context runs on nginx's event loop through an
 * ngx_connection_t around its fd.  Events are added level-triggered: hiredis
 * reads 16 KiB per call and swallows EAGAIN, so an edge-triggered read
 * would stall with a reply left in the socket.  epoll flags belong to the
 * whole fd, so every add here is level-triggered, and the write event is
 * armed only while hiredis has output (an armed level-triggered write
 * spins).
 *
 * The connection is dropped only when Redis itself is judged dead: no
 * reply at all for the longest cs_redis_timeout of the locations that
 * share it (the liveness timer), TCP keepalive, or a reply that says it
 * is no longer a writable primary (READONLY, MASTERDOWN, LOADING), after
 * which it reconnects.  A call that times out gives up alone
 * (ngx_http_cs_redis_call.c).
 *
 * A host name is resolved when the configuration is read.  With nginx's
 * "resolver" set in the location, it is resolved again, without blocking,
 * before every reconnect, so that a fail-over that moves the name to the
 * new primary is followed.
 *
 * The calls are in ngx_http_cs_redis_call.c, the desk's library in
 * ngx_http_cs_library.c; ngx_http_cs_redis_int.h has what they share.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <hiredis/async.h>

#include "ngx_http_cs_redis_int.h"


#define NGX_HTTP_CS_BACKOFF_MIN   100
#define NGX_HTTP_CS_BACKOFF_MAX   5000


static void ngx_http_cs_redis_connect(ngx_http_cs_redis_t *rs);
static void ngx_http_cs_redis_set_host(ngx_http_cs_redis_t *rs,
    struct sockaddr *sa, socklen_t socklen);
static void ngx_http_cs_redis_liveness_handler(ngx_event_t *ev);


ngx_uint_t  ngx_http_cs_redis_exiting;


ngx_http_cs_redis_t *
ngx_http_cs_redis_add(ngx_conf_t *cf, ngx_str_t *server, ngx_str_t *user,
    ngx_str_t *password, ngx_int_t database, ngx_msec_t connect_timeout,
    ngx_msec_t timeout)
{
    size_t                     len;
    ngx_url_t                  u;
    ngx_uint_t                 i;
    ngx_http_cs_redis_t       *rs, **rsp;
    ngx_http_cs_main_conf_t   *cmcf;
    ngx_http_core_loc_conf_t  *clcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_cs_module);
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    rsp = cmcf->servers.elts;
    for (i = 0; i < cmcf->servers.nelts; i++) {
        rs = rsp[i];

        if (rs->database == database
            && rs->name.len == server->len
            && ngx_strncmp(rs->name.data, server->data, server->len) == 0
            && rs->user.len == user->len
            && ngx_strncmp(rs->user.data, user->data, user->len) == 0
            && rs->password.len == password->len
            && ngx_strncmp(rs->password.data, password->data, password->len)
               == 0)
        {
            rs->timeout = ngx_max(rs->timeout, timeout);

            if (rs->resolver == NULL
                || rs->resolver->connections.nelts == 0)
            {
                rs->resolver = clcf->resolver;
                rs->resolver_timeout = clcf->resolver_timeout;
            }

            return rs;
        }
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = *server;
    u.default_port = 6379;

    /* names are resolved here, once, never on a request path */
    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s in cs_redis_server \"%V\"",
                           u.err ? u.err : "invalid address", server);
        return NULL;
    }

    if (u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no address for cs_redis_server \"%V\"", server);
        return NULL;
    }

    rs = ngx_pcalloc(cf->pool, sizeof(ngx_http_cs_redis_t));
    if (rs == NULL) {
        return NULL;
    }

    rs->name = *server;
    rs->user = *user;
    rs->password = *password;
    rs->database = database;
    rs->connect_timeout = connect_timeout;
    rs->timeout = timeout;

#if (NGX_HAVE_UNIX_DOMAIN)
    if (u.family == AF_UNIX) {
        rs->unix_socket = 1;
        len = ngx_strlen(((struct sockaddr_un *) u.addrs[0].sockaddr)
                         ->sun_path);
        rs->host = ngx_pnalloc(cf->pool, len + 1);
        if (rs->host == NULL) {
            return NULL;
        }

        ngx_cpystrn(rs->host,
                    (u_char *) ((struct sockaddr_un *) u.addrs[0].sockaddr)
                    ->sun_path, len + 1);

    } else
#endif
    {
        /* room for any address a later resolution brings */
        rs->host = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
        if (rs->host == NULL) {
            return NULL;
        }

        ngx_http_cs_redis_set_host(rs, u.addrs[0].sockaddr,
                                   u.addrs[0].socklen);
        rs->port = ngx_inet_get_port(u.addrs[0].sockaddr);

        if (u.host.len > 0 && u.host.data[0] != '['
            && ngx_inet_addr(u.host.data, u.host.len) == INADDR_NONE)
        {
            rs->host_name = u.host;
        }
    }

    rs->resolver = clcf->resolver;
    rs->resolver_timeout = clcf->resolver_timeout;

    rsp = ngx_array_push(&cmcf->servers);
    if (rsp == NULL) {
        return NULL;
    }

    *rsp = rs;

    return rs;
}


/* the address as hiredis wants it: IP text, IPv6 without brackets */
static void
ngx_http_cs_redis_set_host(ngx_http_cs_redis_t *rs, struct sockaddr *sa,
    socklen_t socklen)
{
    size_t  len;
    u_char  text[NGX_SOCKADDR_STRLEN];

    len = ngx_sock_ntop(sa, socklen, text, NGX_SOCKADDR_STRLEN, 0);

    if (len > 1 && text[0] == '[') {
        ngx_memmove(text, text + 1, len - 2);
        len -= 2;
    }

    ngx_cpystrn(rs->host, text, len + 1);
}


/* event hooks: idempotent, level-triggered */

static void
ngx_http_cs_redis_add_read(void *data)
{
    ngx_http_cs_redis_t  *rs = data;

    if (rs->conn != NULL && !rs->conn->read->active) {
        if (ngx_add_event(rs->conn->read, NGX_READ_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, rs->log, 0,
                          "cs: redis %V: adding the read event failed",
                          &rs->name);
        }
    }
}


static void
ngx_http_cs_redis_del_read(void *data)
{
    ngx_http_cs_redis_t  *rs = data;

    if (rs->conn != NULL && rs->conn->read->active) {
        (void) ngx_del_event(rs->conn->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_cs_redis_add_write(void *data)
{
    ngx_http_cs_redis_t  *rs = data;

    if (rs->conn != NULL && !rs->conn->write->active) {
        if (ngx_add_event(rs->conn->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, rs->log, 0,
                          "cs: redis %V: adding the write event failed",
                          &rs->name);
        }
    }
}


static void
ngx_http_cs_redis_del_write(void *data)
{
    ngx_http_cs_redis_t  *rs = data;

    if (rs->conn != NULL && rs->conn->write->active) {
        (void) ngx_del_event(rs->conn->write, NGX_WRITE_EVENT, 0);
    }
}


static void
ngx_http_cs_redis_schedule(ngx_http_cs_redis_t *rs)
{
    ngx_msec_t  delay;

    if (ngx_exiting || ngx_quit || ngx_terminate
        || ngx_http_cs_redis_exiting)
    {
        return;
    }

    if (rs->backoff == 0) {
        rs->backoff = NGX_HTTP_CS_BACKOFF_MIN;

    } else {
        rs->backoff = ngx_min(rs->backoff * 2, NGX_HTTP_CS_BACKOFF_MAX);
    }

    /* jitter keeps the workers of many hosts from reconnecting in step */
    delay = rs->backoff / 2
            + (ngx_msec_t) ngx_random() % (rs->backoff / 2 + 1);

    rs->next_attempt = ngx_current_msec + delay;

    ngx_add_timer(&rs->reconnect, delay);
}


/*
 * hiredis calls this when it frees the context, sometimes twice; it must
 * leave no event, posted event or timer behind.  hiredis closes the fd.
 */
static void
ngx_http_cs_redis_cleanup(void *data)
{
    ngx_http_cs_redis_t       *rs = data;

    ngx_queue_t               *q;
    ngx_connection_t          *c;
    ngx_http_cs_redis_call_t  *call;

    c = rs->conn;
    if (c == NULL) {
        return;
    }

    ngx_http_cs_redis_del_read(rs);
    ngx_http_cs_redis_del_write(rs);

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    c->fd = (ngx_socket_t) -1;
    ngx_free_connection(c);

    rs->conn = NULL;
    rs->ac = NULL;
    rs->state = NGX_HTTP_CS_REDIS_DOWN;
    rs->resolve = 1;

    if (rs->connect_timer.timer_set) {
        ngx_del_timer(&rs->connect_timer);
    }

    if (rs->liveness.timer_set) {
        ngx_del_timer(&rs->liveness);
    }

    rs->inflight = 0;

    ngx_http_cs_redis_schedule(rs);

    /* calls that waited for this connection were never sent */
    while (!ngx_queue_empty(&rs->waiting)) {
        q = ngx_queue_head(&rs->waiting);
        call = ngx_queue_data(q, ngx_http_cs_redis_call_t, queue);
        ngx_queue_remove(q);

        ngx_http_cs_redis_finish(call, NULL, NGX_HTTP_SERVICE_UNAVAILABLE);
    }
}


static void
ngx_http_cs_redis_read_handler(ngx_event_t *ev)
{
    ngx_connection_t     *c = ev->data;
    ngx_http_cs_redis_t  *rs = c->data;

    /* the call may free the context and the connection: touch neither */
    if (rs->ac != NULL) {
        redisAsyncHandleRead(rs->ac);
    }
}


static void
ngx_http_cs_redis_write_handler(ngx_event_t *ev)
{
    ngx_connection_t     *c = ev->data;
    ngx_http_cs_redis_t  *rs = c->data;

    if (rs->ac != NULL) {
        redisAsyncHandleWrite(rs->ac);
    }
}


static void
ngx_http_cs_redis_on_connect(const redisAsyncContext *ac, int status)
{
    ngx_http_cs_redis_t  *rs = ac->data;

    if (status != REDIS_OK) {
        ngx_log_error(NGX_LOG_ERR, rs->log, 0,
                      "cs: redis %V: connect failed: %s", &rs->name,
                      ac->errstr);
    }
}


static void
ngx_http_cs_redis_on_disconnect(const redisAsyncContext *ac, int status)
{
    ngx_http_cs_redis_t  *rs = ac->data;

    if (status != REDIS_OK) {
        ngx_log_error(NGX_LOG_ERR, rs->log, 0,
                      "cs: redis %V: connection lost: %s", &rs->name,
                      ac->errstr);
    }
}


static void
ngx_http_cs_redis_ready(ngx_http_cs_redis_t *rs)
{
    ngx_queue_t               *q;
    ngx_http_cs_redis_call_t  *call;

    if (rs->connect_timer.timer_set) {
        ngx_del_timer(&rs->connect_timer);
    }

    rs->state = NGX_HTTP_CS_REDIS_READY;
    rs->backoff = 0;

    ngx_log_error(NGX_LOG_INFO, rs->log, 0, "cs: redis %V: connected",
                  &rs->name);

    while (!ngx_queue_empty(&rs->waiting) && rs->ac != NULL) {
        q = ngx_queue_head(&rs->waiting);
        call = ngx_queue_data(q, ngx_http_cs_redis_call_t, queue);
        ngx_queue_remove(q);

        if (ngx_http_cs_redis_send(call) != NGX_OK) {
            ngx_http_cs_redis_finish(call, NULL,
                                     NGX_HTTP_SERVICE_UNAVAILABLE);
        }
    }
}


static void
ngx_http_cs_redis_library_reply(redisAsyncContext *ac, void *r, void *data)
{
    redisReply           *reply = r;
    ngx_http_cs_redis_t  *rs = data;

    if (reply == NULL || rs->ac != ac) {
        return;
    }

    if (ngx_http_cs_redis_library_loaded(reply) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, rs->log, 0,
                      "cs: redis %V: FUNCTION LOAD of the desk's library "
                      "failed: %*s",
                      &rs->name, (size_t) ngx_min(reply->len, 200),
                      reply->str ? reply->str : "");
        ngx_http_cs_redis_drop(rs);
        return;
    }

    if (--rs->handshake == 0) {
        ngx_http_cs_redis_ready(rs);
    }
}


/*
 * FUNCTION LIST LIBRARYNAME's reply: when the library is there (another
 * worker, host or earlier run loaded it, and Redis keeps it with its
 * data), the handshake is done without a write, so that a Redis over its
 * maxmemory, or under CLIENT PAUSE WRITE, which both hold FUNCTION LOAD,
 * still serves what it can; else FUNCTION LOAD, in the handshake's place
 */
static void
ngx_http_cs_redis_library_listed(redisAsyncContext *ac, void *r, void *data)
{
    redisReply           *reply = r;
    ngx_str_t            *library;
    ngx_http_cs_redis_t  *rs = data;

    if (reply == NULL || rs->ac != ac) {
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY) {
        ngx_log_error(NGX_LOG_ERR, rs->log, 0,
                      "cs: redis %V: FUNCTION LIST failed%s: %*s",
                      &rs->name,
                      (reply->str && ngx_strncmp(reply->str, "ERR unknown",
                                                 11) == 0)
                      ? " (Redis 7.0 or later is needed)" : "",
                      (size_t) ngx_min(reply->len, 200),
                      reply->str ? reply->str : "");
        ngx_http_cs_redis_drop(rs);
        return;
    }

    if (reply->elements > 0) {
        if (--rs->handshake == 0) {
            ngx_http_cs_redis_ready(rs);
        }

        return;
    }

    library = ngx_http_cs_redis_library();

    if (redisAsyncCommand(ac, ngx_http_cs_redis_library_reply, rs,
                          "FUNCTION LOAD %b", library->data, library->len)
        != REDIS_OK)
    {
        ngx_http_cs_redis_drop(rs);
    }
}


static void
ngx_http_cs_redis_handshake_reply(redisAsyncContext *ac, void *r, void *data)
{
    redisReply           *reply = r;
    ngx_http_cs_redis_t  *rs = data;

    if (reply == NULL || rs->ac != ac) {
        /* the context is being freed; its cleanup does the rest */
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        if (ngx_strncmp(reply->str, "LOADING", 7) == 0) {
            ngx_log_error(NGX_LOG_WARN, rs->log, 0,
                          "cs: redis %V is loading its dataset", &rs->name);

        } else {
            ngx_log_error(NGX_LOG_ERR, rs->log, 0,
                          "cs: redis %V: connection set-up failed: %s",
                          &rs->name, reply->str);
        }

        ngx_http_cs_redis_drop(rs);
        return;
    }

    if (--rs->handshake == 0) {
        ngx_http_cs_redis_ready(rs);
    }
}


/* no reply at all for the longest call timeout: Redis is judged dead */
static void
ngx_http_cs_redis_liveness_handler(ngx_event_t *ev)
{
    ngx_http_cs_redis_t  *rs = ev->data;

    ngx_log_error(NGX_LOG_ERR, rs->log, 0,
                  "cs: redis %V gave no reply in %M ms, dropping the "
                  "connection", &rs->name, rs->timeout);

    ngx_http_cs_redis_drop(rs);
}


static void
ngx_http_cs_redis_reconnect_handler(ngx_event_t *ev)
{
    ngx_http_cs_redis_connect(ev->data);
}


static void
ngx_http_cs_redis_resolved(ngx_resolver_ctx_t *ctx)
{
    ngx_http_cs_redis_t  *rs = ctx->data;

    if (ctx->state != NGX_OK || ctx->naddrs == 0) {
        ngx_log_error(NGX_LOG_WARN, rs->log, 0,
                      "cs: redis %V: could not resolve \"%V\" again (%i: "
                      "%s); connecting to the last address", &rs->name,
                      &ctx->name, ctx->state,
                      ngx_resolver_strerror(ctx->state));

    } else {
        ngx_http_cs_redis_set_host(rs, ctx->addrs[0].sockaddr,
                                   ctx->addrs[0].socklen);

        ngx_log_error(NGX_LOG_INFO, rs->log, 0,
                      "cs: redis %V resolved to %s", &rs->name, rs->host);
    }

    ngx_resolve_name_done(ctx);
    rs->resolving = NULL;
    rs->resolve = 0;

    ngx_http_cs_redis_connect(rs);
}


/* NGX_AGAIN while a resolution runs; NGX_DECLINED to connect now */
static ngx_int_t
ngx_http_cs_redis_resolve(ngx_http_cs_redis_t *rs)
{
    ngx_resolver_ctx_t  *ctx;

    if (rs->resolving != NULL) {
        return NGX_AGAIN;
    }

    if (!rs->resolve || rs->host_name.len == 0) {
        return NGX_DECLINED;
    }

    ctx = ngx_resolve_start(rs->resolver, NULL);
    if (ctx == NULL || ctx == NGX_NO_RESOLVER) {
        /* no "resolver" here: the address read with the configuration */
        rs->resolve = 0;
        return NGX_DECLINED;
    }

    ctx->name = rs->host_name;
    ctx->handler = ngx_http_cs_redis_resolved;
    ctx->data = rs;
    ctx->timeout = rs->resolver_timeout;
    ctx->cancelable = 1;

    rs->resolving = ctx;

    if (ngx_resolve_name(ctx) != NGX_OK) {
        rs->resolving = NULL;
        rs->resolve = 0;
        return NGX_DECLINED;
    }

    /* the answer may have come already, and the connect with it */
    return NGX_AGAIN;
}


static void
ngx_http_cs_redis_connect_timeout_handler(ngx_event_t *ev)
{
    ngx_http_cs_redis_t  *rs = ev->data;

    ngx_log_error(NGX_LOG_ERR, rs->log, 0,
                  "cs: redis %V: connection set-up timed out", &rs->name);

    ngx_http_cs_redis_drop(rs);
}


static void
ngx_http_cs_redis_connect(ngx_http_cs_redis_t *rs)
{
    char                 db[NGX_INT_T_LEN + 1];
    ngx_connection_t    *c;
    redisAsyncContext   *ac;

    if (rs->ac != NULL || ngx_exiting || ngx_quit || ngx_terminate
        || ngx_http_cs_redis_exiting)
    {
        return;
    }

    if (ngx_http_cs_redis_resolve(rs) == NGX_AGAIN) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, rs->log, 0,
                   "cs: redis %V: connecting", &rs->name);

    if (rs->unix_socket) {
        ac = redisAsyncConnectUnix((char *) rs->host);

    } else {
        ac = redisAsyncConnect((char *) rs->host, rs->port);
    }

    if (ac == NULL) {
        ngx_log_error(NGX_LOG_ERR, rs->log, 0,
                      "cs: redis %V: no memory for a connection", &rs->name);
        ngx_http_cs_redis_schedule(rs);
        return;
    }

    if (ac->err) {
        ngx_log_error(NGX_LOG_ERR, rs->log, 0,
                      "cs: redis %V: connect failed: %s", &rs->name,
                      ac->errstr);
        redisAsyncFree(ac);
        ngx_http_cs_redis_schedule(rs);
        return;
    }

    c = ngx_get_connection(ac->c.fd, rs->log);
    if (c == NULL) {
        redisAsyncFree(ac);
        ngx_http_cs_redis_schedule(rs);
        return;
    }

    c->data = rs;
    c->read->handler = ngx_http_cs_redis_read_handler;
    c->write->handler = ngx_http_cs_redis_write_handler;
    c->read->log = rs->log;
    c->write->log = rs->log;

    rs->conn = c;
    rs->ac = ac;
    rs->state = NGX_HTTP_CS_REDIS_CONNECTING;
    rs->inflight = 0;

    /* a peer that vanished without a word is found while idle too */
    if (!rs->unix_socket && redisEnableKeepAlive(&ac->c) != REDIS_OK) {
        ngx_log_error(NGX_LOG_WARN, rs->log, 0,
                      "cs: redis %V: TCP keepalive could not be set",
                      &rs->name);
    }

    ac->data = rs;
    ac->ev.data = rs;
    ac->ev.addRead = ngx_http_cs_redis_add_read;
    ac->ev.delRead = ngx_http_cs_redis_del_read;
    ac->ev.addWrite = ngx_http_cs_redis_add_write;
    ac->ev.delWrite = ngx_http_cs_redis_del_write;
    ac->ev.cleanup = ngx_http_cs_redis_cleanup;

    /* the connect callback arms the write event, so hooks come first */
    redisAsyncSetConnectCallback(ac, ngx_http_cs_redis_on_connect);
    redisAsyncSetDisconnectCallback(ac, ngx_http_cs_redis_on_disconnect);

    /* queued now, written once connected: AUTH, SELECT, PING, the library */
    rs->handshake = 0;
    rs->reloading = 0;

    if (rs->user.len) {
        rs->handshake++;
        redisAsyncCommand(ac, ngx_http_cs_redis_handshake_reply, rs,
                          "AUTH %b %b", rs->user.data, (size_t) rs->user.len,
                          rs->password.data, (size_t) rs->password.len);

    } else if (rs->password.len) {
        rs->handshake++;
        redisAsyncCommand(ac, ngx_http_cs_redis_handshake_reply, rs,
                          "AUTH %b", rs->password.data,
                          (size_t) rs->password.len);
    }

    if (rs->database) {
        ngx_sprintf((u_char *) db, "%i%Z", rs->database);
        rs->handshake++;
        redisAsyncCommand(ac, ngx_http_cs_redis_handshake_reply, rs,
                          "SELECT %s", db);
    }

    /*
     * a small command first: a server that wants a password answers it
     * NOAUTH, which the log then names, where a script's text would be
     * more than Redis reads from a client that has not authenticated (it
     * closes the connection then, without a word)
     */
    rs->handshake++;
    redisAsyncCommand(ac, ngx_http_cs_redis_handshake_reply, rs, "PING");

    rs->handshake++;
    redisAsyncCommand(ac, ngx_http_cs_redis_library_listed, rs,
                      "FUNCTION LIST LIBRARYNAME %s",
                      ngx_http_cs_redis_library_name());

    ngx_add_timer(&rs->connect_timer, rs->connect_timeout);
}


/* frees the context: every call in flight gets a NULL reply, hence 504 */
void
ngx_http_cs_redis_drop(ngx_http_cs_redis_t *rs)
{
    redisAsyncContext  *ac;

    ac = rs->ac;
    if (ac == NULL) {
        return;
    }

    /* nothing is sent on a context that is going away */
    rs->ac = NULL;
    rs->state = NGX_HTTP_CS_REDIS_DOWN;

    if (rs->liveness.timer_set) {
        ngx_del_timer(&rs->liveness);
    }

    redisAsyncFree(ac);
}


ngx_int_t
ngx_http_cs_redis_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                i;
    ngx_http_cs_redis_t      *rs, **rsp;
    ngx_http_cs_main_conf_t  *cmcf;

    ngx_queue_init(&ngx_http_cs_redis_free);
    ngx_http_cs_redis_exiting = 0;

    cmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_cs_module);
    if (cmcf == NULL) {
        return NGX_OK;
    }

    rsp = cmcf->servers.elts;
    for (i = 0; i < cmcf->servers.nelts; i++) {
        rs = rsp[i];

        rs->log = cycle->log;
        ngx_queue_init(&rs->waiting);

        rs->reconnect.handler = ngx_http_cs_redis_reconnect_handler;
        rs->reconnect.data = rs;
        rs->reconnect.log = cycle->log;
        rs->reconnect.cancelable = 1;

        rs->connect_timer.handler = ngx_http_cs_redis_connect_timeout_handler;
        rs->connect_timer.data = rs;
        rs->connect_timer.log = cycle->log;
        rs->connect_timer.cancelable = 1;

        rs->liveness.handler = ngx_http_cs_redis_liveness_handler;
        rs->liveness.data = rs;
        rs->liveness.log = cycle->log;
        rs->liveness.cancelable = 1;

        ngx_http_cs_redis_connect(rs);
    }

    return NGX_OK;
}


void
ngx_http_cs_redis_exit_process(ngx_cycle_t *cycle)
{
    int                       done;
    ngx_uint_t                i;
    ngx_http_cs_redis_t      *rs, **rsp;
    ngx_http_cs_main_conf_t  *cmcf;

    ngx_http_cs_redis_exiting = 1;

    cmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_cs_module);
    if (cmcf == NULL) {
        return;
    }

    rsp = cmcf->servers.elts;
    for (i = 0; i < cmcf->servers.nelts; i++) {
        rs = rsp[i];

        if (rs->reconnect.timer_set) {
            ngx_del_timer(&rs->reconnect);
        }

        if (rs->resolving != NULL) {
            ngx_resolve_name_done(rs->resolving);
            rs->resolving = NULL;
        }

        /*
         * a last word, such as the sweep's lock handed back, goes out now
         * if the socket takes it (it never blocks: the fd is non-blocking)
         */
        if (rs->state == NGX_HTTP_CS_REDIS_READY) {
            (void) redisBufferWrite(&rs->ac->c, &done);
        }

        ngx_http_cs_redis_drop(rs);
    }
}
