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
 * record and is dropped there.  The connection is dropped only when Redis
 * itself is judged dead: no reply at all for the longest cs_redis_timeout
 * of the locations that share it (the liveness timer), TCP keepalive, or a
 * reply that says it is no longer a writable primary (READONLY,
 * MASTERDOWN, LOADING), after which it reconnects.
 *
 * A host name is resolved when the configuration is read.  With nginx's
 * "resolver" set in the location, it is resolved again, without blocking,
 * before every reconnect, so that a fail-over that moves the name to the
 * new primary is followed.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_sha1.h>
#include <hiredis/async.h>

#include "ngx_http_cs_module.h"
#include "ngx_http_cs_redis.h"
#include "ngx_http_cs_scripts.h"


#define NGX_HTTP_CS_BACKOFF_MIN   100
#define NGX_HTTP_CS_BACKOFF_MAX   5000


typedef enum {
    NGX_HTTP_CS_REDIS_DOWN = 0,
    NGX_HTTP_CS_REDIS_CONNECTING,
    NGX_HTTP_CS_REDIS_READY
} ngx_http_cs_redis_state_e;


struct ngx_http_cs_redis_s {
    ngx_str_t                     name;        /* for the log */
    u_char                       *host;        /* IP text or unix path */
    int                           port;
    unsigned                      unix_socket:1;
    unsigned                      resolve:1;   /* again before connecting */
    ngx_str_t                     host_name;   /* empty for an address */
    ngx_resolver_t               *resolver;
    ngx_msec_t                    resolver_timeout;
    ngx_resolver_ctx_t           *resolving;
    ngx_str_t                     user;       /* with a password: ACL */
    ngx_str_t                     password;
    ngx_int_t                     database;
    ngx_msec_t                    connect_timeout;
    ngx_msec_t                    timeout;     /* the longest call timeout */

    /* per worker from here on */
    redisAsyncContext            *ac;
    ngx_connection_t             *conn;
    ngx_http_cs_redis_state_e     state;
    ngx_uint_t                    handshake;   /* replies still awaited */
    ngx_msec_t                    backoff;
    ngx_msec_t                    next_attempt;
    ngx_event_t                   reconnect;
    ngx_event_t                   connect_timer;
    ngx_event_t                   liveness;    /* armed while calls wait */
    ngx_uint_t                    inflight;    /* sent, reply awaited */
    ngx_queue_t                   waiting;     /* calls not yet sent */
    ngx_log_t                    *log;
};


typedef struct {
    ngx_queue_t                   queue;       /* waiting or free list */
    ngx_http_cs_redis_t          *rs;
    ngx_http_request_t           *r;           /* NULL once detached */
    ngx_pool_cleanup_t           *cln;
    ngx_http_cs_redis_handler_pt  handler;
    ngx_http_cs_redis_done_pt     done;        /* a call without a request */
    void                         *data;
    ngx_pool_t                   *pool;        /* its own, for its args */
    ngx_event_t                   timer;
    ngx_msec_t                    timeout;
    ngx_uint_t                    script;
    int                           argc;
    const char                  **argv;
    size_t                       *argvlen;
    unsigned                      sent:1;
    unsigned                      retried:1;
} ngx_http_cs_redis_call_t;




static void ngx_http_cs_redis_connect(ngx_http_cs_redis_t *rs);
static void ngx_http_cs_redis_drop(ngx_http_cs_redis_t *rs);
static ngx_int_t ngx_http_cs_redis_send(ngx_http_cs_redis_call_t *call);
static int ngx_http_cs_redis_command(redisAsyncContext *ac,
    ngx_http_cs_redis_call_t *call);
static void ngx_http_cs_redis_finish(ngx_http_cs_redis_call_t *call,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_cs_redis_sent(ngx_http_cs_redis_t *rs);
static void ngx_http_cs_redis_set_host(ngx_http_cs_redis_t *rs,
    struct sockaddr *sa, socklen_t socklen);
static void ngx_http_cs_redis_liveness_handler(ngx_event_t *ev);


/*
 * The desk's scripts are the functions of one Redis Functions library
 * (ngx_http_cs_library.sh): cs_<v>_<script>, where cs_<v> names the
 * library by its text (<v>: 16 hex digits of the text's SHA-1), so that two
 * builds of the module never share a name, and a worker of the old build
 * still finds its own functions during a reload or a rolling upgrade.
 */

#define NGX_HTTP_CS_LIBRARY_NAME_LEN  (sizeof("cs_") - 1 + 16)

static const char  *ngx_http_cs_script_names[NGX_HTTP_CS_SCRIPT_COUNT] = {
    "intake",
    "me",
    "ticket_get",
    "agent_put",
    "agent_token",
    "agent_presence",
    "agents_list",
    "agent_delete",
    "ticket_message",
    "ticket_status",
    "ticket_assign",
    "ticket_fields",
    "tickets_list",
    "agent_queue",
    "sweep",
    "ticket_feedback",
    "user_export",
    "user_erase",
    "metrics_get",
    "trends",
    "insights_list"
};

#define NGX_HTTP_CS_LIBRARY_HEAD                                             \
    "#!lua name=cs_0123456789abcdef\nlocal LIB = 'cs_0123456789abcdef_'\n"

/*
 * What FUNCTION LOAD sends: its first line and the LIB the registrations
 * use, then the text; static, as the configuration cycle's pools come and
 * go with reloads and failed ones
 */
static u_char     ngx_http_cs_library_load[sizeof(NGX_HTTP_CS_LIBRARY_HEAD)
                                           - 1 + sizeof(ngx_http_cs_library)];
static ngx_str_t  ngx_http_cs_library_text;
static u_char     ngx_http_cs_library_name[NGX_HTTP_CS_LIBRARY_NAME_LEN + 1];

/* cs_<v>_<script>, what FCALL names */
static u_char     ngx_http_cs_function_names[NGX_HTTP_CS_SCRIPT_COUNT][64];
static ngx_str_t  ngx_http_cs_functions[NGX_HTTP_CS_SCRIPT_COUNT];


static ngx_queue_t  ngx_http_cs_redis_free;
static ngx_uint_t   ngx_http_cs_redis_exiting;


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


ngx_int_t
ngx_http_cs_redis_init_scripts(ngx_conf_t *cf)
{
    u_char      *p, digest[20], hex[40];
    size_t       body;
    ngx_uint_t   i;
    ngx_sha1_t   sha1;

    (void) cf;

    body = sizeof(ngx_http_cs_library) - 1;

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, ngx_http_cs_library, body);
    ngx_sha1_final(digest, &sha1);
    ngx_hex_dump(hex, digest, 20);

    ngx_sprintf(ngx_http_cs_library_name, "cs_%*s%Z", (size_t) 16, hex);

    p = ngx_sprintf(ngx_http_cs_library_load,
                    "#!lua name=%s\nlocal LIB = '%s_'\n",
                    ngx_http_cs_library_name, ngx_http_cs_library_name);
    p = ngx_cpymem(p, ngx_http_cs_library, body);

    ngx_http_cs_library_text.data = ngx_http_cs_library_load;
    ngx_http_cs_library_text.len = p - ngx_http_cs_library_load;

    for (i = 0; i < NGX_HTTP_CS_SCRIPT_COUNT; i++) {
        p = ngx_snprintf(ngx_http_cs_function_names[i], 64, "%s_%s",
                         ngx_http_cs_library_name,
                         ngx_http_cs_script_names[i]);

        ngx_http_cs_functions[i].data = ngx_http_cs_function_names[i];
        ngx_http_cs_functions[i].len = p - ngx_http_cs_function_names[i];
    }

    return NGX_OK;
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
    delay = rs->backoff / 2 + (ngx_msec_t) ngx_random() % (rs->backoff / 2 + 1);

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


/*
 * FUNCTION LOAD's reply: the library's name, or, when the library is
 * there already (another worker, host or earlier run loaded it, and Redis
 * keeps it with its data), "ERR Library '...' already exists"
 */
static ngx_int_t
ngx_http_cs_redis_library_loaded(redisReply *reply)
{
    if (reply->type == REDIS_REPLY_STRING) {
        return (reply->len == NGX_HTTP_CS_LIBRARY_NAME_LEN
                && ngx_strncmp(reply->str, ngx_http_cs_library_name,
                               NGX_HTTP_CS_LIBRARY_NAME_LEN) == 0)
               ? NGX_OK : NGX_DECLINED;
    }

    if (reply->type == REDIS_REPLY_ERROR
        && ngx_strstr(reply->str, " already exists") != NULL
        && ngx_strstr(reply->str, (char *) ngx_http_cs_library_name) != NULL)
    {
        return NGX_OK;
    }

    return NGX_DECLINED;
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
                      "failed (Redis 7.0 or later is needed): %*s",
                      &rs->name, (size_t) ngx_min(reply->len, 200),
                      reply->str ? reply->str : "");
        ngx_http_cs_redis_drop(rs);
        return;
    }

    if (--rs->handshake == 0) {
        ngx_http_cs_redis_ready(rs);
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

    /* queued now, written once connected: AUTH, SELECT, then the scripts */
    rs->handshake = 0;

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
    redisAsyncCommand(ac, ngx_http_cs_redis_library_reply, rs,
                      "FUNCTION LOAD %b", ngx_http_cs_library_text.data,
                      ngx_http_cs_library_text.len);

    ngx_add_timer(&rs->connect_timer, rs->connect_timeout);
}


/* frees the context: every call in flight gets a NULL reply, hence 504 */
static void
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
static void
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
        && ngx_strstr(reply->str, "unction not found") != NULL
        && !call->retried && (call->r != NULL || call->done != NULL)
        && call->rs->ac == ac)
    {
        /*
         * FUNCTION FLUSH or DELETE, or a restart without persistence:
         * load again and retry once, in order
         */
        ngx_log_error(NGX_LOG_INFO, call->rs->log, 0,
                      "cs: redis %V lost the desk's library, loading it "
                      "again", &call->rs->name);

        call->retried = 1;

        if (redisAsyncCommand(ac, NULL, NULL, "FUNCTION LOAD %b",
                              ngx_http_cs_library_text.data,
                              ngx_http_cs_library_text.len)
            == REDIS_OK
            && ngx_http_cs_redis_command(ac, call) == REDIS_OK)
        {
            ngx_http_cs_redis_sent(rs);
            return;
        }
    }

    ngx_http_cs_redis_finish(call, reply, NGX_OK);
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
ngx_http_cs_redis_command(redisAsyncContext *ac, ngx_http_cs_redis_call_t *call)
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


static ngx_int_t
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
    ngx_str_t                 *arg;
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
    call->argv[1] = (const char *) ngx_http_cs_functions[script].data;
    call->argvlen[1] = ngx_http_cs_functions[script].len;
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
