/*
 * What the files of a worker's Redis connection and calls share, and no
 * other file sees (the rest of the module includes ngx_http_cs_redis.h):
 *
 *   ngx_http_cs_redis.c       the connection: its events, handshake,
 *                             liveness, resolution and reconnects;
 *   ngx_http_cs_redis_call.c  the calls: their records, the command each
 *                             sends, its reply and its timeout;
 *   ngx_http_cs_library.c     the desk's Redis Functions library: the text
 *                             FUNCTION LOAD sends, the names FCALL calls.
 */

#ifndef NGX_HTTP_CS_REDIS_INT_H_INCLUDED_
#define NGX_HTTP_CS_REDIS_INT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <hiredis/async.h>

#include "ngx_http_cs_module.h"
#include "ngx_http_cs_redis.h"


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
    unsigned                      reloading:1; /* a FUNCTION LOAD is out */
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


/* per worker: the records of finished calls, and the worker's exit */
extern ngx_queue_t  ngx_http_cs_redis_free;
extern ngx_uint_t   ngx_http_cs_redis_exiting;


/* ngx_http_cs_redis.c */
void ngx_http_cs_redis_drop(ngx_http_cs_redis_t *rs);

/* ngx_http_cs_redis_call.c */
ngx_int_t ngx_http_cs_redis_send(ngx_http_cs_redis_call_t *call);
void ngx_http_cs_redis_finish(ngx_http_cs_redis_call_t *call,
    redisReply *reply, ngx_int_t rc);

/* ngx_http_cs_library.c */
ngx_str_t *ngx_http_cs_redis_library(void);
u_char *ngx_http_cs_redis_library_name(void);
ngx_str_t *ngx_http_cs_redis_function(ngx_uint_t script);
ngx_int_t ngx_http_cs_redis_library_loaded(redisReply *reply);


#endif /* NGX_HTTP_CS_REDIS_INT_H_INCLUDED_ */
