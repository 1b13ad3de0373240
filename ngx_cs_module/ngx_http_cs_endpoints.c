/*
 * The endpoint table and the route to its rows.
 *
 * Every endpoint is a row: method, path pattern, roles, body schema,
 * script, and the builder of the script's arguments (in the file of the
 * row's concern: ngx_http_cs_intake.c, ngx_http_cs_tickets.c,
 * ngx_http_cs_agents.c, ...).  The route finds the row for a request's
 * method and path below the cs_api prefix (404, 405 with Allow); the
 * arguments every row with a caller starts with are made here too.  The
 * pipeline that runs the rows is in ngx_http_cs_api.c.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_cs_module.h"
#include "ngx_http_cs_json.h"
#include "ngx_http_cs_schema.h"
#include "ngx_http_cs_redis.h"
#include "ngx_http_cs_metrics.h"
#include "ngx_http_cs_insights.h"


#define NGX_HTTP_CS_ID_MAX        15

#define NGX_HTTP_CS_ROLES_ANY_TOKEN  (NGX_HTTP_CS_ROLE_CUSTOMER              \
                                      |NGX_HTTP_CS_ROLE_AGENT                \
                                      |NGX_HTTP_CS_ROLE_ADMIN)


/* the desk's table; v1's intake is its first row */
static const ngx_http_cs_endpoint_t  ngx_http_cs_endpoints[] = {

    { NGX_HTTP_GET, "me",
      NGX_HTTP_CS_ROLES_ANY_TOKEN,
      NULL, 0, NGX_HTTP_CS_SCRIPT_ME, NULL, NULL },

    { NGX_HTTP_GET, "tickets/{id}",
      NGX_HTTP_CS_ROLES_ANY_TOKEN,
      NULL, 0, NGX_HTTP_CS_SCRIPT_TICKET_GET, NULL, NULL },

    { NGX_HTTP_GET, "tickets",
      NGX_HTTP_CS_ROLE_AGENT|NGX_HTTP_CS_ROLE_ADMIN,
      NULL, 0, NGX_HTTP_CS_SCRIPT_TICKETS_LIST,
      ngx_http_cs_tickets_list_args, NULL },

    { NGX_HTTP_POST, "tickets/{id}/messages",
      NGX_HTTP_CS_ROLES_ANY_TOKEN,
      &ngx_http_cs_schema_message, 1, NGX_HTTP_CS_SCRIPT_TICKET_MESSAGE,
      ngx_http_cs_message_args, NULL },

    { NGX_HTTP_POST, "tickets/{id}/status",
      NGX_HTTP_CS_ROLE_AGENT|NGX_HTTP_CS_ROLE_ADMIN,
      &ngx_http_cs_schema_status, 0, NGX_HTTP_CS_SCRIPT_TICKET_STATUS,
      ngx_http_cs_status_args, NULL },

    { NGX_HTTP_POST, "tickets/{id}/assign",
      NGX_HTTP_CS_ROLE_AGENT|NGX_HTTP_CS_ROLE_ADMIN,
      &ngx_http_cs_schema_assign, 0, NGX_HTTP_CS_SCRIPT_TICKET_ASSIGN,
      ngx_http_cs_assign_args, NULL },

    { NGX_HTTP_POST, "tickets/{id}/feedback",
      NGX_HTTP_CS_ROLE_CUSTOMER,
      &ngx_http_cs_schema_feedback, 0, NGX_HTTP_CS_SCRIPT_TICKET_FEEDBACK,
      ngx_http_cs_feedback_args, NULL },

    { NGX_HTTP_POST, "tickets/{id}/fields",
      NGX_HTTP_CS_ROLE_AGENT|NGX_HTTP_CS_ROLE_ADMIN,
      &ngx_http_cs_schema_fields, 0, NGX_HTTP_CS_SCRIPT_TICKET_FIELDS,
      ngx_http_cs_fields_args, NULL },

    { NGX_HTTP_PUT, "agents/{name}",
      NGX_HTTP_CS_ROLE_ADMIN,
      &ngx_http_cs_schema_agent, 0, NGX_HTTP_CS_SCRIPT_AGENT_PUT,
      ngx_http_cs_agent_put_args, NULL },

    { NGX_HTTP_PUT, "agents/{name}/presence",
      NGX_HTTP_CS_ROLE_AGENT,
      &ngx_http_cs_schema_presence, 0, NGX_HTTP_CS_SCRIPT_AGENT_PRESENCE,
      ngx_http_cs_presence_args, NULL },

    { NGX_HTTP_GET, "agents",
      NGX_HTTP_CS_ROLE_ADMIN,
      NULL, 0, NGX_HTTP_CS_SCRIPT_AGENTS_LIST,
      ngx_http_cs_agents_list_args, NULL },

    { NGX_HTTP_GET, "agents/{name}/queue",
      NGX_HTTP_CS_ROLE_AGENT|NGX_HTTP_CS_ROLE_ADMIN,
      NULL, 0, NGX_HTTP_CS_SCRIPT_AGENT_QUEUE,
      ngx_http_cs_agent_queue_args, NULL },

    { NGX_HTTP_DELETE, "agents/{name}",
      NGX_HTTP_CS_ROLE_ADMIN,
      NULL, 0, NGX_HTTP_CS_SCRIPT_AGENT_DELETE,
      ngx_http_cs_agent_delete_args, NULL },

    { NGX_HTTP_POST, "agents/{name}/token",
      NGX_HTTP_CS_ROLE_ADMIN,
      NULL, 0, NGX_HTTP_CS_SCRIPT_AGENT_TOKEN,
      ngx_http_cs_agent_token_args, NULL },

    { NGX_HTTP_POST, "users/export",
      NGX_HTTP_CS_ROLE_ADMIN,
      &ngx_http_cs_schema_user_export, 0, NGX_HTTP_CS_SCRIPT_USER_EXPORT,
      ngx_http_cs_user_export_args, NULL },

    { NGX_HTTP_POST, "users/erase",
      NGX_HTTP_CS_ROLE_ADMIN,
      &ngx_http_cs_schema_user_erase, 0, NGX_HTTP_CS_SCRIPT_USER_ERASE,
      ngx_http_cs_user_erase_args, NULL },

    { NGX_HTTP_GET, "metrics",
      NGX_HTTP_CS_ROLE_ADMIN,
      NULL, 0, NGX_HTTP_CS_SCRIPT_METRICS,
      ngx_http_cs_metrics_args, NULL },

    { NGX_HTTP_GET, "trends",
      NGX_HTTP_CS_ROLE_ADMIN,
      NULL, 0, NGX_HTTP_CS_SCRIPT_TRENDS,
      ngx_http_cs_trends_args, NULL },

    { NGX_HTTP_GET, "insights",
      NGX_HTTP_CS_ROLE_ADMIN,
      NULL, 0, NGX_HTTP_CS_SCRIPT_INSIGHTS,
      ngx_http_cs_insights_args, NULL },

    { 0, NULL, 0, NULL, 0, 0, NULL, NULL }
};


static ngx_http_cs_error_t  ngx_http_cs_err_not_found = {
    NGX_HTTP_NOT_FOUND, "not_found", "there is no such endpoint"
};

static ngx_http_cs_error_t  ngx_http_cs_err_method = {
    NGX_HTTP_NOT_ALLOWED, "method_not_allowed",
    "this method is not allowed here"
};

static ngx_http_cs_error_t  ngx_http_cs_err_method_post = {
    NGX_HTTP_NOT_ALLOWED, "method_not_allowed", "only POST is allowed here"
};


/* {id}: 1 to 15 digits, leading zeros dropped; {name}: an agent's name */
static ngx_int_t
ngx_http_cs_segment(const char *pat, size_t plen, ngx_str_t *seg,
    ngx_str_t *param)
{
    size_t  i;

    if (plen == 4 && ngx_strncmp(pat, "{id}", 4) == 0) {
        if (seg->len == 0 || seg->len > NGX_HTTP_CS_ID_MAX) {
            return 0;
        }

        for (i = 0; i < seg->len; i++) {
            if (seg->data[i] < '0' || seg->data[i] > '9') {
                return 0;
            }
        }

        *param = *seg;

        while (param->len > 1 && param->data[0] == '0') {
            param->data++;
            param->len--;
        }

        return !(param->len == 1 && param->data[0] == '0');
    }

    if (plen == 6 && ngx_strncmp(pat, "{name}", 6) == 0) {
        if (!ngx_http_cs_agent_name_ok(seg->data, seg->len)) {
            return 0;
        }

        *param = *seg;
        return 1;
    }

    return plen == seg->len && ngx_strncmp(pat, seg->data, plen) == 0;
}


/* 1 when the path matches the row's pattern, segment by segment */
static ngx_int_t
ngx_http_cs_match(const char *pattern, ngx_str_t *path, ngx_str_t *param)
{
    u_char      *p, *end, *slash;
    size_t       plen;
    ngx_str_t    seg;
    const char  *pat, *pend;

    pat = pattern;
    p = path->data;
    end = path->data + path->len;

    for ( ;; ) {
        pend = ngx_strchr(pat, '/');
        plen = pend ? (size_t) (pend - pat) : ngx_strlen(pat);

        slash = ngx_strlchr(p, end, '/');

        seg.data = p;
        seg.len = (slash ? slash : end) - p;

        if (!ngx_http_cs_segment(pat, plen, &seg, param)) {
            return 0;
        }

        if (pend == NULL || slash == NULL) {
            /* both must end here */
            return pend == NULL && slash == NULL;
        }

        pat = pend + 1;
        p = slash + 1;
    }
}


/* the methods a row may have, in the order Allow lists them */
static const struct {
    ngx_uint_t   method;
    ngx_str_t    name;
} ngx_http_cs_methods[] = {
    { NGX_HTTP_GET, ngx_string("GET") },
    { NGX_HTTP_POST, ngx_string("POST") },
    { NGX_HTTP_PUT, ngx_string("PUT") },
    { NGX_HTTP_DELETE, ngx_string("DELETE") },
    { 0, ngx_null_string }
};


/* Allow: the methods of the rows that match, and OPTIONS with CORS */
static ngx_int_t
ngx_http_cs_allow(ngx_http_request_t *r, ngx_http_cs_loc_conf_t *cslcf,
    ngx_uint_t methods)
{
    u_char     *p;
    ngx_str_t   allow;
    ngx_uint_t  m;

    p = ngx_pnalloc(r->pool, sizeof("GET, POST, PUT, DELETE, OPTIONS"));
    if (p == NULL) {
        return NGX_ERROR;
    }

    allow.data = p;

    for (m = 0; ngx_http_cs_methods[m].method; m++) {
        if (methods & ngx_http_cs_methods[m].method) {
            if (p != allow.data) {
                *p++ = ','; *p++ = ' ';
            }

            p = ngx_cpymem(p, ngx_http_cs_methods[m].name.data,
                           ngx_http_cs_methods[m].name.len);
        }
    }

    if (cslcf->cors_origins != NULL) {
        p = ngx_cpymem(p, ", OPTIONS", sizeof(", OPTIONS") - 1);
    }

    allow.len = p - allow.data;

    return ngx_http_cs_add_header(r, "Allow", &allow);
}


/* finds the row for the request; NGX_DECLINED with *err when none */
ngx_int_t
ngx_http_cs_route(ngx_http_request_t *r, ngx_http_cs_loc_conf_t *cslcf,
    ngx_http_cs_ctx_t *ctx, ngx_http_cs_error_t **err)
{
    ngx_str_t                      path, param;
    ngx_uint_t                     methods;
    const ngx_http_cs_endpoint_t  *ep;

    if (cslcf->kind == NGX_HTTP_CS_KIND_SERVICE) {
        if (r->method != NGX_HTTP_POST) {
            if (ngx_http_cs_allow(r, cslcf, NGX_HTTP_POST) != NGX_OK) {
                return NGX_ERROR;
            }

            *err = &ngx_http_cs_err_method_post;
            return NGX_DECLINED;
        }

        ctx->ep = &ngx_http_cs_intake_endpoint;
        return NGX_OK;
    }

    if (r->uri.len < cslcf->prefix_uri.len
        || ngx_strncmp(r->uri.data, cslcf->prefix_uri.data,
                       cslcf->prefix_uri.len) != 0)
    {
        *err = &ngx_http_cs_err_not_found;
        return NGX_DECLINED;
    }

    path.data = r->uri.data + cslcf->prefix_uri.len;
    path.len = r->uri.len - cslcf->prefix_uri.len;

    /* "location /api" as well as "location /api/" */
    if (path.len > 0 && path.data[0] == '/') {
        path.data++;
        path.len--;
    }

    methods = 0;

    if (ngx_http_cs_match("service", &path, &param)) {
        if (r->method == NGX_HTTP_POST) {
            ctx->ep = &ngx_http_cs_intake_endpoint;
            return NGX_OK;
        }

        methods |= NGX_HTTP_POST;
    }

    for (ep = ngx_http_cs_endpoints; ep->path; ep++) {
        ngx_str_null(&param);

        if (!ngx_http_cs_match(ep->path, &path, &param)) {
            continue;
        }

        if (ep->method == r->method) {
            ctx->ep = ep;
            ctx->param = param;
            return NGX_OK;
        }

        methods |= ep->method;
    }

    if (methods == 0) {
        *err = &ngx_http_cs_err_not_found;
        return NGX_DECLINED;
    }

    if (ngx_http_cs_allow(r, cslcf, methods) != NGX_OK) {
        return NGX_ERROR;
    }

    *err = &ngx_http_cs_err_method;

    return NGX_DECLINED;
}


ngx_int_t
ngx_http_cs_push(ngx_array_t *args, u_char *data, size_t len)
{
    ngx_str_t  *s;

    s = ngx_array_push(args);
    if (s == NULL) {
        return NGX_ERROR;
    }

    s->data = data;
    s->len = len;

    return NGX_OK;
}


/* a STRING row's value; null (and absent) is "" */
ngx_int_t
ngx_http_cs_push_json_str(ngx_array_t *args,
    const ngx_http_cs_json_value_t *v)
{
    return ngx_http_cs_push(args, (u_char *) v->str.data,
                            v->is_null ? 0 : v->str.len);
}


/*
 * The first arguments of every row that has a caller: role, who, proof,
 * the path's {id} or {name}, and "1" when the agents are cs_agents' static
 * ones (ngx_http_cs_common.lua reads them).
 */
ngx_int_t
ngx_http_cs_caller_args(ngx_http_cs_ctx_t *ctx,
    ngx_http_cs_loc_conf_t *cslcf, ngx_array_t *args)
{
    const char            *role;
    ngx_str_t              who, proof;
    ngx_http_cs_caller_t  *c;

    c = &ctx->caller;

    switch (c->role) {

    case NGX_HTTP_CS_ROLE_CUSTOMER:
        role = "customer";
        who = c->ticket;
        proof = c->nonce;
        break;

    case NGX_HTTP_CS_ROLE_AGENT:
        role = "agent";
        who = c->name;
        proof = c->token_hash;
        break;

    case NGX_HTTP_CS_ROLE_ADMIN:
        role = "admin";
        who = c->name;
        ngx_str_null(&proof);
        break;

    default:
        role = "anyone";
        ngx_str_null(&who);
        ngx_str_null(&proof);
    }

    if (ngx_http_cs_push(args, (u_char *) role, ngx_strlen(role)) != NGX_OK
        || ngx_http_cs_push(args, who.data, who.len) != NGX_OK
        || ngx_http_cs_push(args, proof.data, proof.len) != NGX_OK
        || ngx_http_cs_push(args, ctx->param.data, ctx->param.len) != NGX_OK
        || ngx_http_cs_push(args, (u_char *) "1", cslcf->agents ? 1 : 0)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}
