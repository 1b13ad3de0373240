/*
 * The rows of a user's data: POST users/export and POST users/erase.  The
 * user id travels in the body (never in a path, so never in an access
 * log); nginx names the user's keys by the HMAC of the id (purpose "key",
 * as the intake does, under the current cs_secret and the old one) and
 * gives the script the id and both names; the script finds the user's
 * tickets through the history those name, never by a scan.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_cs_module.h"
#include "ngx_http_cs_schema.h"
#include "ngx_http_cs_auth.h"


/* the rows of the bodies (ngx_http_cs_schema.c) */
#define NGX_HTTP_CS_USER_ID       0
#define NGX_HTTP_CS_USER_CURSOR   1
#define NGX_HTTP_CS_USER_MODE     1


/* the userId, the name of the user's keys and the old name ("" for none) */
static ngx_int_t
ngx_http_cs_push_user(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_array_t *args)
{
    ngx_str_t                        id, name, old;
    ngx_http_cs_loc_conf_t          *cslcf;
    const ngx_http_cs_json_value_t  *user;

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    user = ngx_http_cs_json_get(ctx->json, NGX_HTTP_CS_USER_ID);

    id.data = (u_char *) user->str.data;
    id.len = user->str.len;

    if (ngx_http_cs_user_names(r->pool, cslcf, &id, &name, &old) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_cs_push(args, id.data, id.len) != NGX_OK
        || ngx_http_cs_push(args, name.data, name.len) != NGX_OK
        || ngx_http_cs_push(args, old.data, old.len) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* POST users/export: the user, the cursor ("" for the first page) */
ngx_int_t
ngx_http_cs_user_export_args(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_array_t *args)
{
    const ngx_http_cs_json_value_t  *cursor;

    cursor = ngx_http_cs_json_get(ctx->json, NGX_HTTP_CS_USER_CURSOR);

    if (ngx_http_cs_push_user(r, ctx, args) != NGX_OK
        || ngx_http_cs_push_json_str(args, cursor) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


/* POST users/erase: the user, the mode, routing (the backlog drains) */
ngx_int_t
ngx_http_cs_user_erase_args(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_array_t *args)
{
    const ngx_http_cs_json_value_t  *mode;

    mode = ngx_http_cs_json_get(ctx->json, NGX_HTTP_CS_USER_MODE);

    if (ngx_http_cs_push_user(r, ctx, args) != NGX_OK
        || ngx_http_cs_push_json_str(args, mode) != NGX_OK
        || ngx_http_cs_push_routing(r, args) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}
