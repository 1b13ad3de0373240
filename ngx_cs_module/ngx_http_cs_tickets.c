/*
 * The tickets' rows after the intake: a message, a change of state, of
 * agent or of fields, and the lists (GET tickets, an agent's queue).  Each
 * gives its script the body's values and, where the script routes, the
 * routing settings; the rules of the ticket's life are in the scripts.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_cs_module.h"
#include "ngx_http_cs_schema.h"
#include "ngx_http_cs_crypt.h"
#include "ngx_http_cs_insights.h"


/* the rows of the bodies (ngx_http_cs_schema.c) */
#define NGX_HTTP_CS_MESSAGE_BODY      0
#define NGX_HTTP_CS_MESSAGE_INTERNAL  1
#define NGX_HTTP_CS_STATUS_STATE      0
#define NGX_HTTP_CS_ASSIGN_AGENT      0
#define NGX_HTTP_CS_FIELDS_PRIORITY   0
#define NGX_HTTP_CS_FIELDS_CATEGORY   1
#define NGX_HTTP_CS_FEEDBACK_CSAT     0
#define NGX_HTTP_CS_FEEDBACK_CES      1
#define NGX_HTTP_CS_FEEDBACK_COMMENT  2

#define NGX_HTTP_CS_LIMIT_DEFAULT     "20"
#define NGX_HTTP_CS_LIMIT_MAX         100
#define NGX_HTTP_CS_CURSOR_MAX        15


static const char *const  ngx_http_cs_states[] = {
    "queued", "assigned", "pending", "solved", "closed", "auto_resolved",
    NULL
};


/*
 * POST tickets/{id}/messages: body, internal, Idempotency-Key, routing;
 * with cs_encrypt_key the body sealed, and its fingerprint last
 */
ngx_int_t
ngx_http_cs_message_args(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_array_t *args)
{
    ngx_uint_t                       i;
    const ngx_http_cs_json_value_t  *body, *internal;

    body = ngx_http_cs_json_get(ctx->json, NGX_HTTP_CS_MESSAGE_BODY);
    internal = ngx_http_cs_json_get(ctx->json, NGX_HTTP_CS_MESSAGE_INTERNAL);

    i = args->nelts;

    if (ngx_http_cs_push_json_str(args, body) != NGX_OK
        || ngx_http_cs_push(args, (u_char *) "1", internal->boolean ? 1 : 0)
           != NGX_OK
        || ngx_http_cs_push(args, ctx->idem_key.data, ctx->idem_key.len)
           != NGX_OK
        || ngx_http_cs_push_routing(r, args) != NGX_OK
        || ngx_http_cs_crypt_message_args(r, ctx, args, i) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


/* POST tickets/{id}/status: the state, routing */
ngx_int_t
ngx_http_cs_status_args(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_array_t *args)
{
    if (ngx_http_cs_push_json_str(args,
            ngx_http_cs_json_get(ctx->json, NGX_HTTP_CS_STATUS_STATE))
        != NGX_OK
        || ngx_http_cs_push_routing(r, args) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


/* POST tickets/{id}/assign: the agent ("" for null), routing */
ngx_int_t
ngx_http_cs_assign_args(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_array_t *args)
{
    const ngx_http_cs_json_value_t  *agent;

    agent = ngx_http_cs_json_get(ctx->json, NGX_HTTP_CS_ASSIGN_AGENT);

    if (ngx_http_cs_push_json_str(args, agent) != NGX_OK
        || ngx_http_cs_push_routing(r, args) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


/*
 * POST tickets/{id}/fields: for each field, "1" when sent, then its value;
 * then routing (a waiting ticket whose category changes is routed again)
 */
ngx_int_t
ngx_http_cs_fields_args(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_array_t *args)
{
    const ngx_http_cs_json_value_t  *priority, *category;

    priority = ngx_http_cs_json_get(ctx->json, NGX_HTTP_CS_FIELDS_PRIORITY);
    category = ngx_http_cs_json_get(ctx->json, NGX_HTTP_CS_FIELDS_CATEGORY);

    if (!priority->present && !category->present) {
        ctx->rc = ngx_http_cs_send_error(r, NGX_HTTP_CS_UNPROCESSABLE,
                                         "missing_field",
                                         "send priority, category or both",
                                         "priority", 0);
        return NGX_DONE;
    }

    if (ngx_http_cs_push(args, (u_char *) "1", priority->present) != NGX_OK
        || ngx_http_cs_push_json_str(args, priority) != NGX_OK
        || ngx_http_cs_push(args, (u_char *) "1", category->present)
           != NGX_OK
        || ngx_http_cs_push_json_str(args, category) != NGX_OK
        || ngx_http_cs_push_routing(r, args) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


/*
 * POST tickets/{id}/feedback: csat, ces ("" for none), "1" when a comment
 * was sent, the comment, cs_feedback_window, cs_alert_csat, cs_recurring
 * (N, the window); with cs_encrypt_key the comment sealed, and "1" last
 */
ngx_int_t
ngx_http_cs_feedback_args(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_array_t *args)
{
    u_char                          *p;
    ngx_uint_t                       i;
    ngx_http_cs_loc_conf_t          *cslcf;
    const ngx_http_cs_json_value_t  *csat, *ces, *comment;

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    csat = ngx_http_cs_json_get(ctx->json, NGX_HTTP_CS_FEEDBACK_CSAT);
    ces = ngx_http_cs_json_get(ctx->json, NGX_HTTP_CS_FEEDBACK_CES);
    comment = ngx_http_cs_json_get(ctx->json, NGX_HTTP_CS_FEEDBACK_COMMENT);

    /* two one-digit numbers and the alert's threshold */
    p = ngx_pnalloc(r->pool, 3 * NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the comment's, after csat, ces and its "1" */
    i = args->nelts + 3;

    if (ngx_http_cs_push(args, p, ngx_sprintf(p, "%L", csat->integer) - p)
        != NGX_OK
        || ngx_http_cs_push(args, p + NGX_INT_T_LEN,
                            ces->present
                            ? (size_t) (ngx_sprintf(p + NGX_INT_T_LEN, "%L",
                                                    ces->integer)
                                        - (p + NGX_INT_T_LEN))
                            : 0)
           != NGX_OK
        || ngx_http_cs_push(args, (u_char *) "1", comment->present) != NGX_OK
        || ngx_http_cs_push_json_str(args, comment) != NGX_OK
        || ngx_http_cs_push_msec(r, args, cslcf->feedback_window) != NGX_OK
        || ngx_http_cs_push(args, p + 2 * NGX_INT_T_LEN,
                            ngx_sprintf(p + 2 * NGX_INT_T_LEN, "%i",
                                        cslcf->alert_csat)
                            - (p + 2 * NGX_INT_T_LEN))
           != NGX_OK
        || ngx_http_cs_push_recurring(r, args) != NGX_OK
        || ngx_http_cs_crypt_feedback_args(r, ctx, args, i) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_cs_digits(ngx_str_t *s, size_t max)
{
    size_t  i;

    if (s->len == 0 || s->len > max) {
        return 0;
    }

    for (i = 0; i < s->len; i++) {
        if (s->data[i] < '0' || s->data[i] > '9') {
            return 0;
        }
    }

    return 1;
}


/*
 * A query argument: NGX_OK with its value ("" when absent), or NGX_DONE
 * when it is not good: then the 422 naming it has been sent.
 */
static ngx_int_t
ngx_http_cs_query_arg(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    const char *name, ngx_str_t *value)
{
    ngx_int_t    n;
    ngx_uint_t   i, good;
    const char  *message;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), value) != NGX_OK) {
        ngx_str_null(value);
        return NGX_OK;
    }

    if (ngx_strcmp(name, "limit") == 0) {
        n = ngx_http_cs_digits(value, 3) ? ngx_atoi(value->data, value->len)
                                         : 0;
        good = n >= 1 && n <= NGX_HTTP_CS_LIMIT_MAX;
        message = "limit must be an integer from 1 to 100";

    } else if (ngx_strcmp(name, "cursor") == 0) {
        good = ngx_http_cs_digits(value, NGX_HTTP_CS_CURSOR_MAX);
        message = "cursor must be a cursor from an earlier page";

    } else if (ngx_strcmp(name, "agent") == 0) {
        good = ngx_http_cs_agent_name_ok(value->data, value->len);
        message = "agent must be 1 to 64 characters of [A-Za-z0-9_.-], "
                  "other than ., .. and unassigned";

    } else {
        good = 0;
        for (i = 0; ngx_http_cs_states[i]; i++) {
            if (value->len == ngx_strlen(ngx_http_cs_states[i])
                && ngx_strncmp(value->data, ngx_http_cs_states[i],
                               value->len) == 0)
            {
                good = 1;
            }
        }
        message = "state must be one of queued, assigned, pending, solved, "
                  "closed, auto_resolved";
    }

    if (good) {
        return NGX_OK;
    }

    ctx->rc = ngx_http_cs_send_error(r, NGX_HTTP_CS_UNPROCESSABLE,
                                     "invalid_field", message, name, 0);
    return NGX_DONE;
}


/* ?limit=&cursor=: the page's size (20 when absent) and where it starts */
static ngx_int_t
ngx_http_cs_push_page(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_array_t *args)
{
    ngx_int_t  rc;
    ngx_str_t  limit, cursor;

    rc = ngx_http_cs_query_arg(r, ctx, "limit", &limit);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_cs_query_arg(r, ctx, "cursor", &cursor);
    if (rc != NGX_OK) {
        return rc;
    }

    if (limit.len == 0) {
        ngx_str_set(&limit, NGX_HTTP_CS_LIMIT_DEFAULT);
    }

    if (ngx_http_cs_push(args, limit.data, limit.len) != NGX_OK
        || ngx_http_cs_push(args, cursor.data, cursor.len) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


/* GET tickets: ?state=&agent=, then the page */
ngx_int_t
ngx_http_cs_tickets_list_args(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_array_t *args)
{
    ngx_int_t  rc;
    ngx_str_t  state, agent;

    rc = ngx_http_cs_query_arg(r, ctx, "state", &state);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_cs_query_arg(r, ctx, "agent", &agent);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_cs_push(args, state.data, state.len) != NGX_OK
        || ngx_http_cs_push(args, agent.data, agent.len) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cs_push_page(r, ctx, args);
}


/* GET agents/{name}/queue and GET agents: the page */
ngx_int_t
ngx_http_cs_page_args(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_array_t *args)
{
    return ngx_http_cs_push_page(r, ctx, args);
}
