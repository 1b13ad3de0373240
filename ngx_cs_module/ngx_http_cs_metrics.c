/*
 * The desk's figures.  The Redis script (ngx_http_cs_metrics_get.lua)
 * reads them and makes both answers: GET metrics' JSON object, through
 * the endpoint table's pipeline, and cs_metrics' Prometheus text, which
 * this file sends as it comes.
 *
 * cs_metrics is a location of its own with no token: nginx protects it
 * (allow/deny, auth_basic, ...).  It reads the desk of its location's
 * cs_key_prefix on its cs_redis_server, as cs_api does.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <hiredis/hiredis.h>

#include "ngx_http_cs_module.h"
#include "ngx_http_cs_redis.h"
#include "ngx_http_cs_metrics.h"


static ngx_int_t ngx_http_cs_metrics_handler(ngx_http_request_t *r);
static void ngx_http_cs_metrics_done(ngx_http_request_t *r,
    redisReply *reply, ngx_int_t rc);


static ngx_str_t  ngx_http_cs_metrics_type =
    ngx_string("text/plain; version=0.0.4; charset=utf-8");


char *
ngx_http_cs_metrics_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cs_loc_conf_t    *cslcf = conf;
    ngx_http_core_loc_conf_t  *clcf;

    if (cslcf->kind == NGX_HTTP_CS_KIND_METRICS) {
        return "is duplicate";
    }

    if (cslcf->kind != NGX_CONF_UNSET_UINT) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cs_metrics\" in a location that has "
                           "cs_service or cs_api: give it a location of "
                           "its own");
        return NGX_CONF_ERROR;
    }

    cslcf->kind = NGX_HTTP_CS_KIND_METRICS;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_cs_metrics_handler;

    return NGX_CONF_OK;
}


/* the figures' format, then cs_agents' names (see routing()) */
static ngx_int_t
ngx_http_cs_metrics_push(ngx_http_request_t *r, ngx_array_t *args,
    const char *format)
{
    ngx_http_cs_loc_conf_t  *cslcf;

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    if (ngx_http_cs_push(args, (u_char *) format, ngx_strlen(format))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_cs_push_conf_routing(r->pool, cslcf, args);
}


ngx_int_t
ngx_http_cs_metrics_args(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_array_t *args)
{
    if (ngx_http_cs_metrics_push(r, args, "json") != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_cs_metrics_handler(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_str_t                allow;
    ngx_array_t             *args;
    ngx_http_cs_loc_conf_t  *cslcf;

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    if (cslcf->redis == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        ngx_str_set(&allow, "GET, HEAD");
        if (ngx_http_cs_add_header(r, "Allow", &allow) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_cs_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                      "method_not_allowed",
                                      "only GET is allowed here", NULL, 0);
    }

    args = ngx_array_create(r->pool, 16, sizeof(ngx_str_t));
    if (args == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the desk's key, then a caller without a token: nginx let it in */
    if (ngx_http_cs_push(args, cslcf->key_prefix.data, cslcf->key_prefix.len)
           != NGX_OK
        || ngx_http_cs_push(args, (u_char *) "scrape", 6) != NGX_OK
        || ngx_http_cs_push(args, NULL, 0) != NGX_OK
        || ngx_http_cs_push(args, NULL, 0) != NGX_OK
        || ngx_http_cs_push(args, NULL, 0) != NGX_OK
        || ngx_http_cs_push(args, (u_char *) "1", cslcf->agents ? 1 : 0)
           != NGX_OK
        || ngx_http_cs_metrics_push(r, args, "prometheus") != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_cs_redis_eval(r, cslcf->redis, NGX_HTTP_CS_SCRIPT_METRICS,
                                args, cslcf->redis_timeout,
                                ngx_http_cs_metrics_done);

    if (rc == NGX_DECLINED) {
        return ngx_http_cs_send_unavailable(r);
    }

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cs_wait_for_store(r);
}


/* {"ok", 200, text}: the text is the answer */
static ngx_int_t
ngx_http_cs_metrics_answer(ngx_http_request_t *r, redisReply *reply)
{
    ngx_buf_t   *b;
    redisReply  *text;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3
        || reply->element[0]->type != REDIS_REPLY_STRING
        || ngx_strcmp(reply->element[0]->str, "ok") != 0
        || reply->element[2]->type != REDIS_REPLY_STRING)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "cs: unexpected reply from the metrics script");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    text = reply->element[2];

    /* the reply is freed once this returns: the answer keeps a copy */
    b = ngx_create_temp_buf(r->pool, text->len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->pos, text->str, text->len);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;

    return ngx_http_cs_send_body(r, &ngx_http_cs_metrics_type, b);
}


static void
ngx_http_cs_metrics_done(ngx_http_request_t *r, redisReply *reply,
    ngx_int_t rc)
{
    if (rc == NGX_HTTP_SERVICE_UNAVAILABLE) {
        rc = ngx_http_cs_send_unavailable(r);

    } else if (rc == NGX_HTTP_GATEWAY_TIME_OUT) {
        rc = ngx_http_cs_send_error(r, NGX_HTTP_GATEWAY_TIME_OUT,
                                    "store_timeout",
                                    "the ticket store did not answer in "
                                    "time", NULL, 0);

    } else if (reply->type == REDIS_REPLY_ERROR) {
        /* a foreign value at the figures' key, say: nothing was written */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "cs: the metrics script failed: %s", reply->str);

        rc = ngx_http_cs_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    "internal_error", "internal error",
                                    NULL, 0);

    } else {
        rc = ngx_http_cs_metrics_answer(r, reply);
    }

    ngx_http_finalize_request(r, rc);
}
