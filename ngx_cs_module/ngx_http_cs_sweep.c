/*
 * The desk's sweep: solved and auto_resolved tickets close by themselves,
 * cs_close_after after their latest solve; the assigned tickets of an
 * agent offline for cs_reassign_after go back to routing, never to it.
 *
 * One worker per nginx sweeps (ngx_worker 0), from a timer per desk; the
 * desk's lock in Redis (<prefix>lock:sweep, SET NX PX, the value a random
 * id of the worker) lets one host at a time sweep a desk that many hosts
 * share.  Each tick is one script call (ngx_http_cs_sweep.lua) that takes
 * or renews the lock, closes a batch and re-routes a batch; an idle desk
 * costs it one ZRANGEBYSCORE and a look at each agent's record.  Every
 * closing and every move is atomic in the script and the sweep is
 * idempotent, so a host that dies halfway leaves a consistent store and
 * the next holder carries on.
 *
 * The tick comes every tenth of the shorter of cs_close_after and
 * cs_reassign_after, at least 10 ms and at most 1 s, and again after 1 ms
 * while a batch came back full.  The lock lives
 * ten ticks: a holder that vanishes without a word is replaced after that;
 * one that exits hands it back on its way out.
 *
 * Nothing waits: the call is asynchronous, the timer is cancelable, and a
 * worker that is exiting starts nothing new.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_cs_module.h"
#include "ngx_http_cs_redis.h"
#include "ngx_http_cs_auth.h"
#include "ngx_http_cs_desk.h"


#define NGX_HTTP_CS_SWEEP_PERIOD_MIN   10
#define NGX_HTTP_CS_SWEEP_PERIOD_MAX   1000
#define NGX_HTTP_CS_SWEEP_MORE         1       /* ms: a full batch came */
#define NGX_HTTP_CS_SWEEP_LOCK_TICKS   10
#define NGX_HTTP_CS_SWEEP_BATCH        100

/* the answer's members: {held, closed, more, rerouted} */
#define NGX_HTTP_CS_SWEEP_HELD         0
#define NGX_HTTP_CS_SWEEP_CLOSED       1
#define NGX_HTTP_CS_SWEEP_AGAIN        2
#define NGX_HTTP_CS_SWEEP_REROUTED     3
#define NGX_HTTP_CS_SWEEP_ANSWER       4

/* ARGV[9], the mode, is the tenth of the arguments (the prefix first) */
#define NGX_HTTP_CS_SWEEP_MODE_ARG     9


static void ngx_http_cs_sweep_handler(ngx_event_t *ev);
static void ngx_http_cs_sweep_done(void *data, redisReply *reply,
    ngx_int_t rc);


static ngx_str_t  ngx_http_cs_sweep_mode = ngx_string("sweep");
static ngx_str_t  ngx_http_cs_release_mode = ngx_string("release");


static ngx_int_t
ngx_http_cs_sweep_push_num(ngx_pool_t *pool, ngx_array_t *args,
    ngx_msec_t n)
{
    u_char  *p, *last;

    p = ngx_pnalloc(pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    last = ngx_sprintf(p, "%M", n);

    return ngx_http_cs_push(args, p, last - p);
}


/*
 * The script's arguments, fixed for the worker's life: the prefix, then
 * the prelude's five (role "sweep", this worker's lock id, two empty, and
 * "1" with cs_agents), then cs_close_after, the lock's lifetime, the
 * batch, the mode, cs_reassign_after and the routing settings.
 */
static ngx_int_t
ngx_http_cs_sweep_args(ngx_cycle_t *cycle, ngx_http_cs_desk_t *desk)
{
    u_char                  *p, *last;
    ngx_str_t                nonce;
    ngx_uint_t               i;
    ngx_array_t             *args;
    ngx_http_cs_loc_conf_t  *cslcf;

    cslcf = desk->conf;

    args = ngx_array_create(cycle->pool, 16, sizeof(ngx_str_t));
    if (args == NULL) {
        return NGX_ERROR;
    }

    /* host:pid:random, so that an operator can tell who holds the lock */
    if (ngx_http_cs_nonce(cycle->pool, &nonce) != NGX_OK) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(cycle->pool, cycle->hostname.len + NGX_INT64_LEN
                                 + nonce.len + 2);
    if (p == NULL) {
        return NGX_ERROR;
    }

    last = ngx_sprintf(p, "%V:%P:%V", &cycle->hostname, ngx_pid, &nonce);

    if (ngx_http_cs_push(args, cslcf->key_prefix.data, cslcf->key_prefix.len)
        != NGX_OK
        || ngx_http_cs_push(args, (u_char *) "sweep", 5) != NGX_OK
        || ngx_http_cs_push(args, p, last - p) != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < 2; i++) {
        if (ngx_http_cs_push(args, (u_char *) "", 0) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    /* a desk of cs_agents has no registry: nothing to re-route */
    if (ngx_http_cs_push(args, (u_char *) "1", cslcf->agents ? 1 : 0)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_cs_sweep_push_num(cycle->pool, args, cslcf->close_after)
        != NGX_OK
        || ngx_http_cs_sweep_push_num(cycle->pool, args,
                                      desk->period
                                      * NGX_HTTP_CS_SWEEP_LOCK_TICKS)
           != NGX_OK
        || ngx_http_cs_sweep_push_num(cycle->pool, args,
                                      NGX_HTTP_CS_SWEEP_BATCH)
           != NGX_OK
        || ngx_http_cs_push(args, NULL, 0) != NGX_OK
        || ngx_http_cs_sweep_push_num(cycle->pool, args,
                                      cslcf->reassign_after)
           != NGX_OK
        || ngx_http_cs_push_conf_routing(cycle->pool, cslcf, args) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the array is complete: its elements stay where they are now */
    desk->args = args;
    desk->mode = (ngx_str_t *) args->elts + NGX_HTTP_CS_SWEEP_MODE_ARG;

    return NGX_OK;
}


ngx_int_t
ngx_http_cs_sweep_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                i;
    ngx_msec_t                period;
    ngx_http_cs_desk_t      **dp, *desk;
    ngx_http_cs_main_conf_t  *cmcf;

    /* one worker of each nginx; the lock picks one nginx of many */
    if (ngx_worker != 0) {
        return NGX_OK;
    }

    cmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_cs_module);
    if (cmcf == NULL) {
        return NGX_OK;
    }

    dp = cmcf->desks.elts;
    for (i = 0; i < cmcf->desks.nelts; i++) {
        desk = dp[i];

        /* the shorter of the two derivations */
        period = ngx_min(desk->conf->close_after,
                         desk->conf->reassign_after) / 10;
        period = ngx_max(period, NGX_HTTP_CS_SWEEP_PERIOD_MIN);
        desk->period = ngx_min(period, NGX_HTTP_CS_SWEEP_PERIOD_MAX);

        if (ngx_http_cs_sweep_args(cycle, desk) != NGX_OK) {
            return NGX_ERROR;
        }

        desk->busy = 0;
        desk->held = 0;

        desk->timer.handler = ngx_http_cs_sweep_handler;
        desk->timer.data = desk;
        desk->timer.log = cycle->log;
        desk->timer.cancelable = 1;

        ngx_add_timer(&desk->timer, desk->period);
    }

    return NGX_OK;
}


/* hands the lock back, if this worker held it at the last word */
static void
ngx_http_cs_sweep_release(ngx_http_cs_desk_t *desk)
{
    if (!desk->held) {
        return;
    }

    desk->held = 0;
    *desk->mode = ngx_http_cs_release_mode;

    /* its reply is of no interest: the worker is on its way out */
    (void) ngx_http_cs_redis_call(desk->conf->redis, NGX_HTTP_CS_SCRIPT_SWEEP,
                                  desk->args, desk->conf->redis_timeout,
                                  NULL, NULL);
}


static void
ngx_http_cs_sweep_handler(ngx_event_t *ev)
{
    ngx_int_t            rc;
    ngx_http_cs_desk_t  *desk = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        ngx_http_cs_sweep_release(desk);
        return;
    }

    if (desk->busy) {
        return;
    }

    *desk->mode = ngx_http_cs_sweep_mode;

    rc = ngx_http_cs_redis_call(desk->conf->redis, NGX_HTTP_CS_SCRIPT_SWEEP,
                                desk->args, desk->conf->redis_timeout,
                                ngx_http_cs_sweep_done, desk);

    if (rc == NGX_AGAIN) {
        desk->busy = 1;
        return;
    }

    /* Redis is down (its connection's own log says so), or no memory */
    ngx_add_timer(&desk->timer, desk->period);
}


static void
ngx_http_cs_sweep_answer(ngx_http_cs_desk_t *desk, redisReply *reply,
    ngx_msec_t *delay)
{
    ngx_uint_t               i, held;
    ngx_http_cs_loc_conf_t  *cslcf;

    cslcf = desk->conf;

    if (reply->type == REDIS_REPLY_ERROR) {
        /* a foreign value under the prefix is named: nothing was written */
        ngx_log_error(NGX_LOG_ERR, desk->timer.log, 0,
                      "cs: the sweep of desk \"%V\" failed: %*s",
                      &cslcf->key_prefix, (size_t) ngx_min(reply->len, 200),
                      reply->str);
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY
        || reply->elements != NGX_HTTP_CS_SWEEP_ANSWER)
    {
        goto invalid;
    }

    for (i = 0; i < NGX_HTTP_CS_SWEEP_ANSWER; i++) {
        if (reply->element[i]->type != REDIS_REPLY_INTEGER) {
            goto invalid;
        }
    }

    held = reply->element[NGX_HTTP_CS_SWEEP_HELD]->integer ? 1 : 0;

    if (held && !desk->held) {
        ngx_log_error(NGX_LOG_INFO, desk->timer.log, 0,
                      "cs: this worker sweeps desk \"%V\" on %V now",
                      &cslcf->key_prefix, &cslcf->redis_server);

    } else if (!held && desk->held) {
        ngx_log_error(NGX_LOG_INFO, desk->timer.log, 0,
                      "cs: desk \"%V\" on %V is swept by another worker now",
                      &cslcf->key_prefix, &cslcf->redis_server);
    }

    desk->held = held;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, desk->timer.log, 0,
                   "cs: sweep of desk \"%V\": %i closed, %i rerouted",
                   &cslcf->key_prefix,
                   (ngx_int_t) reply->element[NGX_HTTP_CS_SWEEP_CLOSED]
                   ->integer,
                   (ngx_int_t) reply->element[NGX_HTTP_CS_SWEEP_REROUTED]
                   ->integer);

    if (reply->element[NGX_HTTP_CS_SWEEP_AGAIN]->integer) {
        *delay = NGX_HTTP_CS_SWEEP_MORE;
    }

    return;

invalid:

    ngx_log_error(NGX_LOG_ERR, desk->timer.log, 0,
                  "cs: unexpected reply to the sweep of desk \"%V\"",
                  &cslcf->key_prefix);
}


static void
ngx_http_cs_sweep_done(void *data, redisReply *reply, ngx_int_t rc)
{
    ngx_http_cs_desk_t  *desk = data;

    ngx_msec_t  delay;

    desk->busy = 0;
    delay = desk->period;

    if (rc == NGX_OK) {
        ngx_http_cs_sweep_answer(desk, reply, &delay);

    } else if (rc == NGX_HTTP_GATEWAY_TIME_OUT) {
        ngx_log_error(NGX_LOG_WARN, desk->timer.log, 0,
                      "cs: redis %V did not answer the sweep of desk \"%V\" "
                      "in %M ms", &desk->conf->redis_server,
                      &desk->conf->key_prefix, desk->conf->redis_timeout);
    }

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        ngx_http_cs_sweep_release(desk);
        return;
    }

    ngx_add_timer(&desk->timer, delay);
}


void
ngx_http_cs_sweep_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                i;
    ngx_http_cs_desk_t      **dp, *desk;
    ngx_http_cs_main_conf_t  *cmcf;

    if (ngx_worker != 0) {
        return;
    }

    cmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_cs_module);
    if (cmcf == NULL) {
        return;
    }

    dp = cmcf->desks.elts;
    for (i = 0; i < cmcf->desks.nelts; i++) {
        desk = dp[i];

        if (desk->timer.timer_set) {
            ngx_del_timer(&desk->timer);
        }

        /* written before the connection closes, if the socket takes it */
        ngx_http_cs_sweep_release(desk);
    }
}
