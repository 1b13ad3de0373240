/*
 * The request pipeline.
 *
 * Every endpoint is a row of the table in ngx_http_cs_endpoints.c.  One
 * pipeline runs them all, in the contract's order of precedence: the route
 * (404, 405), the credentials (401, 403), the content type (415), the size
 * (413, nginx's), the body and its schema (400, 422), then one script call
 * on the worker's Redis connection, whose reply makes the answer (the
 * store's own 404, 409, and 503, 504).
 *
 * A cs_service location has one row, the intake; a cs_api location routes
 * the path below its prefix to the rows of the table.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <hiredis/hiredis.h>

#include "ngx_http_cs_module.h"
#include "ngx_http_cs_json.h"
#include "ngx_http_cs_schema.h"
#include "ngx_http_cs_redis.h"


static ngx_int_t ngx_http_cs_preflight(ngx_http_request_t *r,
    ngx_http_cs_loc_conf_t *cslcf);
static void ngx_http_cs_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_cs_call(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx);
static void ngx_http_cs_done(ngx_http_request_t *r, redisReply *reply,
    ngx_int_t rc);


static ngx_str_t  ngx_http_cs_json_type = ngx_string("application/json");


static ngx_http_cs_error_t  ngx_http_cs_err_unauthorized = {
    NGX_HTTP_UNAUTHORIZED, "unauthorized",
    "send valid credentials as Authorization: Bearer <token>"
};

static ngx_http_cs_error_t  ngx_http_cs_err_forbidden = {
    NGX_HTTP_FORBIDDEN, "forbidden", "this role may not do this"
};

static ngx_http_cs_error_t  ngx_http_cs_err_media_type = {
    NGX_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
    "the body must be sent as Content-Type: application/json"
};


static ngx_table_elt_t *
ngx_http_cs_find_header(ngx_http_request_t *r, const char *name,
    ngx_uint_t *count)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *found;

    len = ngx_strlen(name);
    found = NULL;
    *count = 0;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            if (found == NULL) {
                found = &h[i];
            }

            (*count)++;
        }
    }

    return found;
}


ngx_table_elt_t *
ngx_http_cs_header(ngx_http_request_t *r, const char *name, ngx_uint_t *n)
{
    return ngx_http_cs_find_header(r, name, n);
}


ngx_str_t *
ngx_http_cs_cors_origin(ngx_http_request_t *r, ngx_http_cs_loc_conf_t *cslcf)
{
    ngx_uint_t        i, n;
    ngx_str_t        *o;
    ngx_table_elt_t  *h;

    if (cslcf->cors_origins == NULL) {
        return NULL;
    }

    h = ngx_http_cs_find_header(r, "Origin", &n);
    if (h == NULL || n != 1) {
        return NULL;
    }

    o = cslcf->cors_origins->elts;
    for (i = 0; i < cslcf->cors_origins->nelts; i++) {
        if (o[i].len == 1 && o[i].data[0] == '*') {
            return &o[i];
        }

        if (o[i].len == h->value.len
            && ngx_strncasecmp(o[i].data, h->value.data, o[i].len) == 0)
        {
            return &h->value;
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_cs_is_json(ngx_http_request_t *r)
{
    u_char     *p, *end;
    ngx_str_t  *t;

    if (r->headers_in.content_type == NULL) {
        return 0;
    }

    t = &r->headers_in.content_type->value;
    end = ngx_strlchr(t->data, t->data + t->len, ';');
    if (end == NULL) {
        end = t->data + t->len;
    }

    while (end > t->data && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }

    p = t->data;

    return (size_t) (end - p) == ngx_http_cs_json_type.len
           && ngx_strncasecmp(p, ngx_http_cs_json_type.data,
                              ngx_http_cs_json_type.len) == 0;
}


ngx_int_t
ngx_http_cs_precheck(ngx_http_request_t *r, ngx_http_cs_loc_conf_t *cslcf,
    ngx_http_cs_ctx_t *ctx, ngx_http_cs_error_t **err)
{
    ngx_int_t   rc;
    ngx_str_t   v;

    rc = ngx_http_cs_route(r, cslcf, ctx, err);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ctx->ep->roles != NGX_HTTP_CS_ANYONE) {
        rc = ngx_http_cs_authenticate(r, cslcf->secret, cslcf->admin_keys,
                                      &cslcf->key_prefix, &ctx->caller);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_DECLINED) {
            ngx_str_set(&v, "Bearer");
            if (ngx_http_cs_add_header(r, "WWW-Authenticate", &v) != NGX_OK) {
                return NGX_ERROR;
            }

            *err = &ngx_http_cs_err_unauthorized;
            return NGX_DECLINED;
        }

        if (!(ctx->ep->roles & ctx->caller.role)) {
            *err = &ngx_http_cs_err_forbidden;
            return NGX_DECLINED;
        }
    }

    if (ctx->ep->schema != NULL && !ngx_http_cs_is_json(r)) {
        *err = &ngx_http_cs_err_media_type;
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_cs_handler(ngx_http_request_t *r)
{
    ngx_int_t                rc, discarded;
    yajl_alloc_funcs         af;
    ngx_http_cs_ctx_t       *ctx;
    ngx_http_cs_error_t     *err;
    ngx_http_cs_loc_conf_t  *cslcf;

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    if (cslcf->redis == NULL) {
        /* a location this module did not set up */
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method == NGX_HTTP_OPTIONS && cslcf->cors_origins != NULL) {
        return ngx_http_cs_preflight(r, cslcf);
    }

    ctx = ngx_http_cs_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    err = NULL;

    rc = ngx_http_cs_precheck(r, cslcf, ctx, &err);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED || ctx->ep->schema == NULL) {
        /* never let an unread body be taken for the next request */
        discarded = ngx_http_discard_request_body(r);
        if (discarded != NGX_OK) {
            /* a malformed chunked body: nginx's 400, as v1 answered */
            return discarded;
        }

        if (rc == NGX_DECLINED) {
            return ngx_http_cs_send_error(r, err->status, err->code,
                                          err->message, NULL, 0);
        }

        rc = ngx_http_cs_call(r, ctx);

        if (rc != NGX_AGAIN) {
            return rc;
        }

        return ngx_http_cs_wait_for_store(r);
    }

    /*
     * The validator sees the body as it arrives, in the request body
     * filter, so that a body nginx spills to a temporary file is never
     * read back from it on the event loop.
     */
    ngx_http_cs_yajl_funcs(r, &af);

    ctx->json = ngx_http_cs_json_create(ctx->ep->schema,
                                        cslcf->issue_max_length, &af);
    if (ctx->json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_cs_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/*
 * The request waits for Redis: it is counted until the reply, a client
 * that goes away is seen (the call then ends as the adapter says), and
 * nothing is written meanwhile.
 */
ngx_int_t
ngx_http_cs_wait_for_store(ngx_http_request_t *r)
{
    r->main->count++;

    if (!r->discard_body) {
        r->read_event_handler = ngx_http_test_reading;
    }

    r->write_event_handler = ngx_http_request_empty_handler;

    return NGX_DONE;
}


static ngx_int_t
ngx_http_cs_preflight(ngx_http_request_t *r, ngx_http_cs_loc_conf_t *cslcf)
{
    ngx_int_t         rc;
    ngx_str_t         v, *origin;
    ngx_uint_t        n;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (cslcf->kind == NGX_HTTP_CS_KIND_API) {
        ngx_str_set(&v, "GET, POST, PUT, DELETE, OPTIONS");

    } else {
        ngx_str_set(&v, "POST, OPTIONS");
    }

    if (ngx_http_cs_add_header(r, "Allow", &v) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    origin = ngx_http_cs_cors_origin(r, cslcf);

    if (origin != NULL
        && ngx_http_cs_find_header(r, "Access-Control-Request-Method", &n))
    {
        if (ngx_http_cs_add_header(r, "Access-Control-Allow-Methods", &v)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (cslcf->kind == NGX_HTTP_CS_KIND_API) {
            ngx_str_set(&v, "Content-Type, Idempotency-Key, Authorization, "
                            "X-CS-User");

        } else {
            ngx_str_set(&v, "Content-Type, Idempotency-Key");
        }

        if (ngx_http_cs_add_header(r, "Access-Control-Allow-Headers", &v)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_str_set(&v, "86400");
        if (ngx_http_cs_add_header(r, "Access-Control-Max-Age", &v)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    return ngx_http_send_header(r);
}


/* NGX_OK with key->len 0 when absent, NGX_DECLINED when malformed */
static ngx_int_t
ngx_http_cs_idempotency_key(ngx_http_request_t *r, ngx_str_t *key)
{
    ngx_uint_t        i, n;
    ngx_table_elt_t  *h;

    ngx_str_null(key);

    h = ngx_http_cs_find_header(r, "Idempotency-Key", &n);
    if (h == NULL) {
        return NGX_OK;
    }

    if (n != 1 || h->value.len == 0
        || h->value.len > NGX_HTTP_CS_IDEM_KEY_MAX)
    {
        return NGX_DECLINED;
    }

    for (i = 0; i < h->value.len; i++) {
        if (h->value.data[i] < 0x20 || h->value.data[i] > 0x7e) {
            return NGX_DECLINED;
        }
    }

    *key = h->value;

    return NGX_OK;
}


/*
 * Once the body is read: the Idempotency-Key (a chunked body over
 * client_max_body_size was a 413 before this), then the body's verdict.
 * NGX_OK for a good one; otherwise the answer is sent and its finalize
 * code returned in *rc.
 */
static ngx_int_t
ngx_http_cs_body_verdict(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_int_t *rc)
{
    ngx_int_t            v_rc;
    ngx_uint_t           status;
    const char          *code;
    ngx_http_cs_json_t  *v;

    if (ctx->ep->idempotent
        && ngx_http_cs_idempotency_key(r, &ctx->idem_key) != NGX_OK)
    {
        *rc = ngx_http_cs_send_error(r, NGX_HTTP_BAD_REQUEST,
                                     "invalid_idempotency_key",
                                     "Idempotency-Key must be one header of"
                                     " 1 to 128 printable ASCII characters",
                                     NULL, 0);
        return NGX_DONE;
    }

    v = ctx->json;

    v_rc = ngx_http_cs_json_finish(v);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "cs: json: %uz keys, %uz probes",
                   ngx_http_cs_json_keys(v), ngx_http_cs_json_probes(v));

    switch (v_rc) {

    case NGX_HTTP_CS_JSON_OK:
        return NGX_OK;

    case NGX_HTTP_CS_JSON_SYNTAX:
        status = NGX_HTTP_BAD_REQUEST;
        code = "invalid_json";
        break;

    case NGX_HTTP_CS_JSON_MISSING:
        status = NGX_HTTP_CS_UNPROCESSABLE;
        code = "missing_field";
        break;

    case NGX_HTTP_CS_JSON_INVALID:
        status = NGX_HTTP_CS_UNPROCESSABLE;
        code = "invalid_field";
        break;

    case NGX_HTTP_CS_JSON_UNKNOWN:
        status = NGX_HTTP_CS_UNPROCESSABLE;
        code = "unknown_field";
        break;

    default:
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_DONE;
    }

    *rc = ngx_http_cs_send_error(r, status, code,
                                 ngx_http_cs_json_message(v),
                                 ngx_http_cs_json_field(v), 0);

    return NGX_DONE;
}


/*
 * A body another module read first (mirror_request_body, say) never went
 * through the request body filter while the validator was there: it is
 * fed from the request's buffers, which must be in memory.
 */
static void
ngx_http_cs_feed_read_body(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx)
{
    if (!ctx->body_fed && r->request_body != NULL) {
        ngx_http_cs_feed(ctx, r->request_body->bufs);
        ctx->body_fed = 1;
    }
}


static void
ngx_http_cs_body_handler(ngx_http_request_t *r)
{
    ngx_int_t           rc;
    ngx_http_cs_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cs_module);

    ngx_http_cs_feed_read_body(r, ctx);

    if (ctx->body_unread) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "cs: the body was read before this location and is "
                      "in a temporary file; keep it in memory with "
                      "client_body_buffer_size as large as "
                      "client_max_body_size");
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_http_cs_body_verdict(r, ctx, &rc) != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    rc = ngx_http_cs_call(r, ctx);

    if (rc == NGX_AGAIN) {
        /* see the client go away while Redis works, and nothing else */
        r->read_event_handler = ngx_http_test_reading;
        r->write_event_handler = ngx_http_request_empty_handler;
        return;
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * The row's script with the desk's key (the prefix) first, then the
 * arguments.  NGX_AGAIN while Redis works; otherwise the answer is sent
 * and its finalize code returned.
 */
static ngx_int_t
ngx_http_cs_call(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx)
{
    ngx_int_t                rc;
    ngx_array_t             *args;
    ngx_http_cs_loc_conf_t  *cslcf;

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    args = ngx_array_create(r->pool, 16, sizeof(ngx_str_t));
    if (args == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_cs_push(args, cslcf->key_prefix.data, cslcf->key_prefix.len)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the intake, the one row without a caller, has arguments of its own */
    if (ctx->ep->roles != NGX_HTTP_CS_ANYONE
        && ngx_http_cs_caller_args(ctx, cslcf, args) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->ep->args != NULL) {
        /* the row's own: it may answer by itself (a bad body, say) */
        rc = ctx->ep->args(r, ctx, args);

        if (rc == NGX_DONE) {
            return ctx->rc;
        }

        if (rc != NGX_OK) {
            return rc;
        }
    }

    rc = ngx_http_cs_redis_eval(r, cslcf->redis, ctx->ep->script, args,
                                cslcf->redis_timeout, ngx_http_cs_done);

    if (rc == NGX_DECLINED) {
        return ngx_http_cs_send_unavailable(r);
    }

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_AGAIN;
}


#define NGX_HTTP_CS_WRONGTYPE  "CSWRONGTYPE "


/* 503 store_unavailable, with the location's Redis' Retry-After */
ngx_int_t
ngx_http_cs_send_unavailable(ngx_http_request_t *r)
{
    ngx_http_cs_loc_conf_t  *cslcf;

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    return ngx_http_cs_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "store_unavailable",
                                  "the ticket store is not reachable; "
                                  "retry later", NULL,
                                  ngx_http_cs_redis_retry_after(
                                      cslcf->redis));
}


/* the answers every row shares: the store unreachable, late or refusing */
static ngx_int_t
ngx_http_cs_store_error(ngx_http_request_t *r, redisReply *reply,
    ngx_int_t rc)
{
    ngx_http_cs_ctx_t  *ctx;

    if (rc == NGX_HTTP_SERVICE_UNAVAILABLE) {
        return ngx_http_cs_send_unavailable(r);
    }

    if (rc == NGX_HTTP_GATEWAY_TIME_OUT) {
        ctx = ngx_http_get_module_ctx(r, ngx_http_cs_module);

        return ngx_http_cs_send_error(r, NGX_HTTP_GATEWAY_TIME_OUT,
                                      "store_timeout",
                                      ctx->ep->idempotent
                                      ? "the ticket store did not answer in "
                                        "time; retry with the same "
                                        "Idempotency-Key"
                                      : "the ticket store did not answer in "
                                        "time; the outcome is unknown",
                                      NULL, 0);
    }

    if (ngx_strncmp(reply->str, NGX_HTTP_CS_WRONGTYPE,
                    sizeof(NGX_HTTP_CS_WRONGTYPE) - 1) == 0)
    {
        /* a foreign value under the prefix: found before any write */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "cs: the key \"%s\" holds a value of the wrong type; "
                      "nothing was written",
                      reply->str + sizeof(NGX_HTTP_CS_WRONGTYPE) - 1);

        return ngx_http_cs_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      "internal_error", "internal error",
                                      NULL, 0);
    }

    /*
     * a read that met a foreign value without naming its key (Redis'
     * own WRONGTYPE): as lasting as the case above, so not "retry later"
     */
    if (ngx_strncmp(reply->str, "WRONGTYPE ", sizeof("WRONGTYPE ") - 1)
        == 0)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "cs: a desk script read a key that holds a value of "
                      "the wrong type: %s", reply->str);

        return ngx_http_cs_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      "internal_error", "internal error",
                                      NULL, 0);
    }

    /* the scripts check before they write: an error wrote nothing */
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "cs: a desk script failed: %s", reply->str);

    return ngx_http_cs_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "store_unavailable",
                                  "the ticket store refused the request; "
                                  "retry later", NULL, 1);
}


static ngx_int_t
ngx_http_cs_status(redisReply *v)
{
    if (v->type != REDIS_REPLY_INTEGER || v->integer < 200
        || v->integer > 599)
    {
        return NGX_ERROR;
    }

    return (ngx_int_t) v->integer;
}


/*
 * A desk script answers {"ok", status, value} or {"error", status, code,
 * message[, field]}; an object value gets "status":"success" first.
 */
static ngx_int_t
ngx_http_cs_script_answer(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    redisReply *reply)
{
    ngx_str_t           bearer;
    ngx_int_t           status;
    redisReply         *v, **e;
    ngx_http_cs_out_t   o;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3
        || reply->element[0]->type != REDIS_REPLY_STRING
        || (status = ngx_http_cs_status(reply->element[1])) == NGX_ERROR)
    {
        goto invalid;
    }

    e = reply->element;

    if (ngx_strcmp(e[0]->str, "error") == 0) {
        if (reply->elements < 4 || e[2]->type != REDIS_REPLY_STRING
            || e[3]->type != REDIS_REPLY_STRING)
        {
            goto invalid;
        }

        if (status == NGX_HTTP_UNAUTHORIZED) {
            ngx_str_set(&bearer, "Bearer");

            if (ngx_http_cs_add_header(r, "WWW-Authenticate", &bearer)
                != NGX_OK)
            {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        return ngx_http_cs_send_error(r, status, e[2]->str, e[3]->str,
                                      (reply->elements > 4
                                       && e[4]->type == REDIS_REPLY_STRING)
                                      ? e[4]->str : NULL, 0);
    }

    if (ngx_strcmp(e[0]->str, "ok") != 0) {
        goto invalid;
    }

    v = e[2];

    if (ngx_http_cs_out_init(r, &o) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (v->type == REDIS_REPLY_ARRAY && v->elements > 0
        && v->element[0]->type == REDIS_REPLY_STRING
        && v->element[0]->len == 1 && v->element[0]->str[0] == '{')
    {
        if (ngx_http_cs_note_answer(r, ctx, v) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_cs_out_open(&o);
        ngx_http_cs_out_cstr(&o, "status", "success");
        ngx_http_cs_out_members(&o, v, 0);

        /* a token nginx made is shown with the creation, this once */
        if (status == NGX_HTTP_CREATED && ctx->token.len > 0) {
            ngx_http_cs_out_str(&o, "token", ctx->token.data,
                                ctx->token.len);
        }

        ngx_http_cs_out_close(&o);

    } else {
        ngx_http_cs_out_reply(&o, v, 0);
    }

    return ngx_http_cs_send_json(r, status, ngx_http_cs_out_buf(r, &o));

invalid:

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "cs: unexpected reply from a desk script");

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static void
ngx_http_cs_done(ngx_http_request_t *r, redisReply *reply, ngx_int_t rc)
{
    ngx_http_cs_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cs_module);

    if (rc != NGX_OK || reply->type == REDIS_REPLY_ERROR) {
        ngx_http_finalize_request(r, ngx_http_cs_store_error(r, reply, rc));
        return;
    }

    if (ctx->ep->answer != NULL) {
        ngx_http_finalize_request(r, ctx->ep->answer(r, ctx, reply));
        return;
    }

    ngx_http_finalize_request(r, ngx_http_cs_script_answer(r, ctx, reply));
}
