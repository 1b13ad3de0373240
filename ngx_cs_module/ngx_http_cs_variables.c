/*
 * The module's variables, for access logs without personal data:
 *
 *   $cs_ticket_id        the ticket the request was about, as the store
 *                        answered (the intake's new id, or the ticketId of
 *                        the script's answer)
 *   $cs_agent            the ticket's agent after the call
 *   $cs_user_pseudonym   the pseudonym of the request's userId: the same
 *                        HMAC under cs_secret (purpose "pseudonym") that
 *                        set_cs_pseudonym makes, never the id itself
 *
 * Each is "not found" (logged as "-") until Redis answered, for a request
 * that is not the desk's, for an answer without the value, and, for the
 * pseudonym, on a desk without cs_secret.  The values are noted in the
 * request's context while the answer is made, copied out of the reply,
 * which is freed before the log phase.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <hiredis/hiredis.h>

#include "ngx_http_cs_module.h"
#include "ngx_http_cs_auth.h"


static ngx_int_t ngx_http_cs_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_cs_variable_pseudonym(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_cs_variables[] = {

    { ngx_string("cs_ticket_id"), NULL, ngx_http_cs_variable,
      offsetof(ngx_http_cs_ctx_t, ticket_id), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("cs_agent"), NULL, ngx_http_cs_variable,
      offsetof(ngx_http_cs_ctx_t, agent), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("cs_user_pseudonym"), NULL,
      ngx_http_cs_variable_pseudonym, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    ngx_http_null_variable
};


ngx_int_t
ngx_http_cs_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_cs_variables; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_cs_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_str_t          *s;
    ngx_http_cs_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cs_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ngx_str_t *) ((u_char *) ctx + data);

    if (s->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = s->data;
    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_cs_variable_pseudonym(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                out;
    ngx_http_cs_ctx_t       *ctx;
    ngx_http_cs_loc_conf_t  *cslcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cs_module);
    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    if (ctx == NULL || ctx->user_id.len == 0 || cslcf->secret == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    /* set_cs_pseudonym's function: one pseudonym for one id */
    if (ngx_http_cs_hmac_name(r->pool, &cslcf->secret->current, "pseudonym",
                              &ctx->user_id, &out)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    v->data = out.data;
    v->len = out.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_cs_note_str(ngx_http_request_t *r, ngx_str_t *dst, u_char *data,
    size_t len)
{
    dst->data = ngx_pnalloc(r->pool, len);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, data, len);
    dst->len = len;

    return NGX_OK;
}


ngx_int_t
ngx_http_cs_note(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    long long id, u_char *agent, size_t len)
{
    u_char  *p;

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->ticket_id.data = p;
    ctx->ticket_id.len = ngx_sprintf(p, "%L", id) - p;

    if (len > 0) {
        return ngx_http_cs_note_str(r, &ctx->agent, agent, len);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_cs_note_answer(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    redisReply *value)
{
    size_t       i;
    redisReply  *k, *v;

    /* an object: "{", name, value, ... (see ngx_http_cs_answer.c) */
    for (i = 1; i + 1 < value->elements; i += 2) {
        k = value->element[i];
        v = value->element[i + 1];

        if (k->type != REDIS_REPLY_STRING) {
            continue;
        }

        if (ngx_strcmp(k->str, "ticketId") == 0
            && v->type == REDIS_REPLY_INTEGER)
        {
            if (ngx_http_cs_note(r, ctx, v->integer, NULL, 0) != NGX_OK) {
                return NGX_ERROR;
            }

        } else if (ngx_strcmp(k->str, "agent") == 0
                   && v->type == REDIS_REPLY_STRING && v->len > 0)
        {
            if (ngx_http_cs_note_str(r, &ctx->agent, (u_char *) v->str,
                                     v->len)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

        } else if (ngx_strcmp(k->str, "userId") == 0
                   && v->type == REDIS_REPLY_STRING && v->len > 0)
        {
            if (ngx_http_cs_note_str(r, &ctx->user_id, (u_char *) v->str,
                                     v->len)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}
