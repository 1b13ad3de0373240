/*
 * One hiredis async connection per worker per distinct (address, database,
 * password), driven by nginx's event loop, carrying many requests' script
 * calls pipelined.
 */

#ifndef NGX_HTTP_CS_REDIS_H_INCLUDED_
#define NGX_HTTP_CS_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <hiredis/hiredis.h>


#define NGX_HTTP_CS_SCRIPT_INTAKE      0
#define NGX_HTTP_CS_SCRIPT_ME          1
#define NGX_HTTP_CS_SCRIPT_TICKET_GET      2
#define NGX_HTTP_CS_SCRIPT_AGENT_PUT       3
#define NGX_HTTP_CS_SCRIPT_AGENT_TOKEN     4
#define NGX_HTTP_CS_SCRIPT_AGENT_PRESENCE  5
#define NGX_HTTP_CS_SCRIPT_AGENTS_LIST     6
#define NGX_HTTP_CS_SCRIPT_AGENT_DELETE    7
#define NGX_HTTP_CS_SCRIPT_TICKET_MESSAGE  8
#define NGX_HTTP_CS_SCRIPT_TICKET_STATUS   9
#define NGX_HTTP_CS_SCRIPT_TICKET_ASSIGN   10
#define NGX_HTTP_CS_SCRIPT_TICKET_FIELDS   11
#define NGX_HTTP_CS_SCRIPT_TICKETS_LIST    12
#define NGX_HTTP_CS_SCRIPT_AGENT_QUEUE     13
#define NGX_HTTP_CS_SCRIPT_SWEEP           14
#define NGX_HTTP_CS_SCRIPT_TICKET_FEEDBACK 15
#define NGX_HTTP_CS_SCRIPT_USER_EXPORT     16
#define NGX_HTTP_CS_SCRIPT_USER_ERASE      17
#define NGX_HTTP_CS_SCRIPT_METRICS         18
#define NGX_HTTP_CS_SCRIPT_TRENDS          19
#define NGX_HTTP_CS_SCRIPT_INSIGHTS        20
#define NGX_HTTP_CS_SCRIPT_COUNT           21


/*
 * Called once per call while its request is still there.  rc is NGX_OK
 * with a reply (which may be an error reply), NGX_HTTP_SERVICE_UNAVAILABLE
 * when the call was never sent, or NGX_HTTP_GATEWAY_TIME_OUT when it was
 * sent and its fate is unknown.
 */
typedef void (*ngx_http_cs_redis_handler_pt)(ngx_http_request_t *r,
    redisReply *reply, ngx_int_t rc);

/* the same for a call made without a request (a timer's) */
typedef void (*ngx_http_cs_redis_done_pt)(void *data, redisReply *reply,
    ngx_int_t rc);


ngx_http_cs_redis_t *ngx_http_cs_redis_add(ngx_conf_t *cf, ngx_str_t *server,
    ngx_str_t *user, ngx_str_t *password, ngx_int_t database,
    ngx_msec_t connect_timeout, ngx_msec_t timeout);
ngx_int_t ngx_http_cs_redis_init_scripts(ngx_conf_t *cf);
ngx_int_t ngx_http_cs_redis_init_process(ngx_cycle_t *cycle);
void ngx_http_cs_redis_exit_process(ngx_cycle_t *cycle);

/*
 * Runs a script for r: args[0] (ngx_str_t) is its one key, the desk's
 * prefix, and the rest are its arguments.  Returns NGX_AGAIN when the
 * handler will be called later, NGX_DECLINED when Redis is unavailable
 * (the caller answers 503 with ngx_http_cs_redis_retry_after()), or
 * NGX_ERROR.
 */
ngx_int_t ngx_http_cs_redis_eval(ngx_http_request_t *r,
    ngx_http_cs_redis_t *rs, ngx_uint_t script, ngx_array_t *args,
    ngx_msec_t timeout, ngx_http_cs_redis_handler_pt handler);

/*
 * Runs a script for no request, as ngx_http_cs_redis_eval() does, with
 * args copied into the call's own pool.  Returns NGX_AGAIN, NGX_DECLINED
 * when Redis is unavailable, or NGX_ERROR.  After NGX_AGAIN, done(data,
 * reply, rc) is called once, with rc as a request's handler gets it; not
 * at all when the worker exits first, or when done is NULL (the reply is
 * then dropped).  Whatever the outcome (a reply, Redis down, a timeout,
 * the worker exiting), the call frees all it took.  Its timer is
 * cancelable: it never holds up a graceful quit.
 */
ngx_int_t ngx_http_cs_redis_call(ngx_http_cs_redis_t *rs, ngx_uint_t script,
    ngx_array_t *args, ngx_msec_t timeout, ngx_http_cs_redis_done_pt done,
    void *data);

time_t ngx_http_cs_redis_retry_after(ngx_http_cs_redis_t *rs);


#endif /* NGX_HTTP_CS_REDIS_H_INCLUDED_ */
