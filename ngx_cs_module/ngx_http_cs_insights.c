/*
 * Trends and recurring problems: the cs_recurring directive and the
 * arguments of GET trends and GET insights.  What is counted, and how, is
 * in ngx_http_cs_insights.lua; the rows are in ngx_http_cs_endpoints.c.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_cs_module.h"
#include "ngx_http_cs_schema.h"
#include "ngx_http_cs_rules.h"
#include "ngx_http_cs_insights.h"


/* a time in ms: up to 15 digits, as a ticket id */
#define NGX_HTTP_CS_TRENDS_MS_MAX  15


/*
 * cs_recurring N window;  N from 1 to 1000000; the window a whole number
 * of minutes from 1m to 24h, as it is summed from minute buckets.
 */
char *
ngx_http_cs_recurring_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_cs_loc_conf_t  *cslcf = conf;

    ngx_int_t    n;
    ngx_str_t   *value;
    ngx_msec_t   window;

    if (cslcf->recurring_threshold != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);

    if (n == NGX_ERROR || n < 1 || n > NGX_HTTP_CS_RECURRING_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive: the "
                           "threshold is a whole number from 1 to 1000000",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    window = ngx_parse_time(&value[2], 0);

    if (window == (ngx_msec_t) NGX_ERROR || window < 60000
        || window > NGX_HTTP_CS_RECURRING_WINDOW_MAX || window % 60000 != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive: the "
                           "window is a whole number of minutes from 1m to "
                           "24h", &value[2], &cmd->name);
        return NGX_CONF_ERROR;
    }

    cslcf->recurring_threshold = n;
    cslcf->recurring_window = window;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_cs_push_recurring(ngx_http_request_t *r, ngx_array_t *args)
{
    u_char                  *p;
    ngx_http_cs_loc_conf_t  *cslcf;

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_cs_push(args, p,
                         ngx_sprintf(p, "%i", cslcf->recurring_threshold)
                         - p)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_cs_push_msec(r, args, cslcf->recurring_window);
}


/*
 * A query argument of GET trends: its value ("" when absent), or NGX_DONE
 * when it is not good, with the 422 naming it sent.
 */
static ngx_int_t
ngx_http_cs_trends_arg(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    const char *name, ngx_str_t *value)
{
    size_t       i;
    ngx_uint_t   good;
    const char  *message;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), value) != NGX_OK) {
        ngx_str_null(value);
        return NGX_OK;
    }

    if (ngx_strcmp(name, "bucket") == 0) {
        good = (value->len == 4
                && ngx_strncmp(value->data, "hour", 4) == 0)
               || (value->len == 3
                   && ngx_strncmp(value->data, "day", 3) == 0);
        message = "bucket must be hour or day";

    } else if (ngx_strcmp(name, "category") == 0) {
        good = ngx_http_cs_category_ok(value->data, value->len);
        message = "category must be 1 to 64 characters of [a-z0-9_-]";

    } else {
        good = value->len > 0 && value->len <= NGX_HTTP_CS_TRENDS_MS_MAX;

        for (i = 0; good && i < value->len; i++) {
            good = value->data[i] >= '0' && value->data[i] <= '9';
        }

        message = ngx_strcmp(name, "from") == 0
                  ? "from must be a time in ms since the epoch"
                  : "to must be a time in ms since the epoch";
    }

    if (good) {
        return NGX_OK;
    }

    ctx->rc = ngx_http_cs_send_error(r, NGX_HTTP_CS_UNPROCESSABLE,
                                     "invalid_field", message, name, 0);
    return NGX_DONE;
}


/*
 * GET trends: from, to ("" for the defaults), the bucket (hour when
 * absent), the category ("" for all).  The range's own checks (from after
 * to, too many buckets) are the script's, which knows the time.
 */
ngx_int_t
ngx_http_cs_trends_args(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_array_t *args)
{
    ngx_int_t    rc;
    ngx_str_t    v[4];
    ngx_uint_t   i;

    static const char  *names[] = { "from", "to", "bucket", "category" };

    for (i = 0; i < 4; i++) {
        rc = ngx_http_cs_trends_arg(r, ctx, names[i], &v[i]);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (v[2].len == 0) {
        ngx_str_set(&v[2], "hour");
    }

    for (i = 0; i < 4; i++) {
        if (ngx_http_cs_push(args, v[i].data, v[i].len) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * GET insights: N, the window (ms), then for each cs_rule with a category
 * the category and the rule's name, in order (the first for a category is
 * the one that answers it).
 */
ngx_int_t
ngx_http_cs_insights_args(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_array_t *args)
{
    ngx_uint_t               i;
    ngx_http_cs_rule_t      *rule;
    ngx_http_cs_loc_conf_t  *cslcf;

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    if (ngx_http_cs_push_recurring(r, args) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (cslcf->rules == NULL) {
        return NGX_OK;
    }

    rule = cslcf->rules->elts;

    for (i = 0; i < cslcf->rules->nelts; i++) {
        if (rule[i].category.len == 0) {
            continue;
        }

        if (ngx_http_cs_push(args, rule[i].category.data,
                             rule[i].category.len)
            != NGX_OK
            || ngx_http_cs_push(args, rule[i].name.data, rule[i].name.len)
               != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return NGX_OK;
}
