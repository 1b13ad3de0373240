/*
 * The desk's figures: GET metrics (a row of the endpoint table) and
 * cs_metrics (a location of its own: the Prometheus text exposition
 * format, for a scraper that nginx's allow/deny lets through).
 */

#ifndef NGX_HTTP_CS_METRICS_H_INCLUDED_
#define NGX_HTTP_CS_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_cs_module.h"


/* cs_metrics; */
char *ngx_http_cs_metrics_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* GET metrics: the script's arguments after the caller's */
ngx_int_t ngx_http_cs_metrics_args(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, ngx_array_t *args);


#endif /* NGX_HTTP_CS_METRICS_H_INCLUDED_ */
