/*
 * The agents' rows: the registry (PUT and DELETE agents/{name}, a new
 * token, GET agents) and presence.  nginx makes an agent's token and
 * keeps it only long enough to answer; Redis keeps its SHA-256.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_cs_module.h"
#include "ngx_http_cs_schema.h"


/* the rows of the agent's and the presence's bodies (ngx_http_cs_schema.c) */
#define NGX_HTTP_CS_AGENT_CAPACITY   0
#define NGX_HTTP_CS_AGENT_SKILLS     1
#define NGX_HTTP_CS_PRESENCE_STATUS  0


ngx_int_t
ngx_http_cs_push_msec(ngx_http_request_t *r, ngx_array_t *args, ngx_msec_t ms)
{
    u_char  *p;

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_cs_push(args, p, ngx_sprintf(p, "%M", ms) - p);
}


/*
 * What a script that routes needs (routing() in ngx_http_cs_routing.lua):
 * assign, the presence timeout, cs_sticky, and cs_agents' names, a count
 * first; from a location's configuration, for a request or the sweep.
 */
ngx_int_t
ngx_http_cs_push_conf_routing(ngx_pool_t *pool, ngx_http_cs_loc_conf_t *cslcf,
    ngx_array_t *args)
{
    u_char      *p, *timeout, *sticky, *count;
    ngx_str_t   *name;
    ngx_uint_t   i, n;
    const char  *assign;

    assign = (cslcf->assign == NGX_HTTP_CS_ASSIGN_LEAST_LOADED)
             ? "least_loaded" : "round_robin";

    n = cslcf->agents ? cslcf->agents->nelts : 0;

    p = ngx_pnalloc(pool, 3 * NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    timeout = p;
    sticky = ngx_sprintf(timeout, "%M", cslcf->presence_timeout);
    count = ngx_sprintf(sticky, "%M", cslcf->sticky);
    p = ngx_sprintf(count, "%ui", n);

    if (ngx_http_cs_push(args, (u_char *) assign, ngx_strlen(assign))
        != NGX_OK
        || ngx_http_cs_push(args, timeout, sticky - timeout) != NGX_OK
        || ngx_http_cs_push(args, sticky, count - sticky) != NGX_OK
        || ngx_http_cs_push(args, count, p - count) != NGX_OK)
    {
        return NGX_ERROR;
    }

    name = n ? cslcf->agents->elts : NULL;

    for (i = 0; i < n; i++) {
        if (ngx_http_cs_push(args, name[i].data, name[i].len) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_cs_push_routing(ngx_http_request_t *r, ngx_array_t *args)
{
    ngx_http_cs_loc_conf_t  *cslcf;

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    return ngx_http_cs_push_conf_routing(r->pool, cslcf, args);
}


/* a new token for the agent of the path: kept in ctx for the answer */
static ngx_int_t
ngx_http_cs_push_new_token(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_array_t *args)
{
    ngx_str_t                hash;
    ngx_http_cs_loc_conf_t  *cslcf;

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    if (ngx_http_cs_agent_token(r->pool, cslcf->secret, &cslcf->key_prefix,
                                &ctx->param, &ctx->token, &hash)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_cs_push(args, hash.data, hash.len);
}


/* POST agents/{name}/token: the new token's hash */
ngx_int_t
ngx_http_cs_agent_token_args(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_array_t *args)
{
    if (ngx_http_cs_push_new_token(r, ctx, args) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


/* GET agents: the presence timeout, the page */
ngx_int_t
ngx_http_cs_agents_list_args(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_array_t *args)
{
    ngx_http_cs_loc_conf_t  *cslcf;

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    if (ngx_http_cs_push_msec(r, args, cslcf->presence_timeout) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cs_page_args(r, ctx, args);
}


/* GET agents/{name}/queue: the page; whether cs_agents names the agent */
ngx_int_t
ngx_http_cs_agent_queue_args(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_array_t *args)
{
    ngx_int_t                rc;
    ngx_str_t               *name;
    ngx_uint_t               i, known;
    ngx_http_cs_loc_conf_t  *cslcf;

    rc = ngx_http_cs_page_args(r, ctx, args);
    if (rc != NGX_OK) {
        return rc;
    }

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    known = 0;

    if (cslcf->agents) {
        name = cslcf->agents->elts;

        for (i = 0; i < cslcf->agents->nelts; i++) {
            if (name[i].len == ctx->param.len
                && ngx_strncmp(name[i].data, ctx->param.data,
                               ctx->param.len) == 0)
            {
                known = 1;
                break;
            }
        }
    }

    if (ngx_http_cs_push(args, (u_char *) (known ? "1" : "0"), 1) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


/* DELETE agents/{name}: how its tickets are routed again */
ngx_int_t
ngx_http_cs_agent_delete_args(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_array_t *args)
{
    if (ngx_http_cs_push_routing(r, args) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


/*
 * PUT agents/{name}: capacity, skills joined by commas (a skill is
 * [a-z0-9_-], so no comma), the SHA-256 of a new token (the script keeps
 * it only for a new agent), the presence timeout.
 */
ngx_int_t
ngx_http_cs_agent_put_args(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_array_t *args)
{
    u_char                          *p, *cap;
    size_t                           len, i;
    ngx_http_cs_loc_conf_t          *cslcf;
    const ngx_http_cs_json_value_t  *capacity, *skills;

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    capacity = ngx_http_cs_json_get(ctx->json, NGX_HTTP_CS_AGENT_CAPACITY);
    skills = ngx_http_cs_json_get(ctx->json, NGX_HTTP_CS_AGENT_SKILLS);

    cap = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (cap == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = 0;
    for (i = 0; i < skills->nitems; i++) {
        len += skills->items[i].len + 1;
    }

    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = 0;
    for (i = 0; i < skills->nitems; i++) {
        if (i > 0) {
            p[len++] = ',';
        }

        ngx_memcpy(p + len, skills->items[i].data, skills->items[i].len);
        len += skills->items[i].len;
    }

    if (ngx_http_cs_push(args, cap,
                         ngx_sprintf(cap, "%L", capacity->integer) - cap)
        != NGX_OK
        || ngx_http_cs_push(args, p, len) != NGX_OK
        || ngx_http_cs_push_new_token(r, ctx, args) != NGX_OK
        || ngx_http_cs_push_msec(r, args, cslcf->presence_timeout) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


/* PUT agents/{name}/presence: the status, the presence timeout */
ngx_int_t
ngx_http_cs_presence_args(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_array_t *args)
{
    ngx_http_cs_loc_conf_t          *cslcf;
    const ngx_http_cs_json_value_t  *status;

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    status = ngx_http_cs_json_get(ctx->json, NGX_HTTP_CS_PRESENCE_STATUS);

    if (ngx_http_cs_push(args, (u_char *) status->str.data, status->str.len)
        != NGX_OK
        || ngx_http_cs_push_msec(r, args, cslcf->presence_timeout) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}
