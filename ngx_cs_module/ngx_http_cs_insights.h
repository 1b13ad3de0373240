/*
 * Trends and recurring problems (DESIGN §Feedback, alerts, insights):
 * cs_recurring N window, GET trends and GET insights.  The counting is in
 * ngx_http_cs_insights.lua, which the build puts in front of the intake,
 * the feedback and the two reading scripts.
 */

#ifndef NGX_HTTP_CS_INSIGHTS_H_INCLUDED_
#define NGX_HTTP_CS_INSIGHTS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_cs_module.h"


#define NGX_HTTP_CS_RECURRING_THRESHOLD   5
#define NGX_HTTP_CS_RECURRING_WINDOW      (60 * 60 * 1000)
#define NGX_HTTP_CS_RECURRING_MAX         1000000
/* the window is summed from minute buckets: at most a day of them */
#define NGX_HTTP_CS_RECURRING_WINDOW_MAX  (24 * 60 * 60 * 1000)


/* cs_recurring N window; */
char *ngx_http_cs_recurring_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* the two arguments a counting script takes: N and the window (ms) */
ngx_int_t ngx_http_cs_push_recurring(ngx_http_request_t *r,
    ngx_array_t *args);

/* GET trends: ?from=&to=&bucket=&category= */
ngx_int_t ngx_http_cs_trends_args(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, ngx_array_t *args);

/* GET insights: cs_recurring, and the rule that answers each category */
ngx_int_t ngx_http_cs_insights_args(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, ngx_array_t *args);


#endif /* NGX_HTTP_CS_INSIGHTS_H_INCLUDED_ */
