/*
 * POST /api/service: the checks in the contract's order of precedence,
 * the body read and validated as it streams, one script call on the
 * worker's Redis connection, and the JSON answer once Redis has confirmed.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <yajl/yajl_gen.h>

#include "ngx_http_cs_module.h"
#include "ngx_http_cs_json.h"
#include "ngx_http_cs_redis.h"


static ngx_int_t ngx_http_cs_preflight(ngx_http_request_t *r,
    ngx_http_cs_loc_conf_t *cslcf);
static void ngx_http_cs_body_handler(ngx_http_request_t *r);
static void ngx_http_cs_intake_done(ngx_http_request_t *r, redisReply *reply,
    ngx_int_t rc);


#define NGX_HTTP_CS_WRONGTYPE  "CSWRONGTYPE "


static ngx_str_t  ngx_http_cs_json_type = ngx_string("application/json");


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


static ngx_http_cs_error_t  ngx_http_cs_err_method = {
    NGX_HTTP_NOT_ALLOWED, "method_not_allowed", "only POST is allowed here"
};

static ngx_http_cs_error_t  ngx_http_cs_err_media_type = {
    NGX_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
    "the body must be sent as Content-Type: application/json"
};


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
 * The checks made before the body is read, in the contract's order.  The
 * filter uses them too, when nginx answers an oversize body before any
 * content handler has run: method and content type still come first.
 */
ngx_int_t
ngx_http_cs_check_request(ngx_http_request_t *r,
    ngx_http_cs_loc_conf_t *cslcf, ngx_http_cs_error_t **err)
{
    ngx_str_t  allow;

    if (r->method != NGX_HTTP_POST) {
        if (cslcf->cors_origins != NULL) {
            ngx_str_set(&allow, "POST, OPTIONS");

        } else {
            ngx_str_set(&allow, "POST");
        }

        if (ngx_http_cs_add_header(r, "Allow", &allow) != NGX_OK) {
            return NGX_ERROR;
        }

        *err = &ngx_http_cs_err_method;
        return NGX_DECLINED;
    }

    if (!ngx_http_cs_is_json(r)) {
        *err = &ngx_http_cs_err_media_type;
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_cs_handler(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    yajl_alloc_funcs         af;
    ngx_http_cs_ctx_t       *ctx;
    ngx_http_cs_error_t     *err;
    ngx_http_cs_loc_conf_t  *cslcf;

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    if (r->method == NGX_HTTP_OPTIONS && cslcf->cors_origins != NULL) {
        return ngx_http_cs_preflight(r, cslcf);
    }

    rc = ngx_http_cs_check_request(r, cslcf, &err);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        /* never let an unread body be taken for the next request */
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_cs_send_error(r, err->status, err->code,
                                      err->message, NULL, 0);
    }

    if (cslcf->redis == NULL) {
        /* a location this module did not set up for the service */
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * The validator sees the body as it arrives, in the request body
     * filter, so that a body nginx spills to a temporary file is never
     * read back from it on the event loop.
     */
    ctx = ngx_http_cs_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_cs_yajl_funcs(r, &af);

    ctx->json = ngx_http_cs_json_create(cslcf->issue_max_length, &af);
    if (ctx->json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * The Idempotency-Key is checked once the body is read: a chunked body
     * over client_max_body_size is a 413 first, as the contract orders.
     */

    rc = ngx_http_read_client_request_body(r, ngx_http_cs_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

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

    ngx_str_set(&v, "POST, OPTIONS");
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

        ngx_str_set(&v, "Content-Type, Idempotency-Key");
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


static ngx_int_t
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


static ngx_int_t
ngx_http_cs_intake(ngx_http_request_t *r)
{
    u_char                        *now, *count;
    ngx_int_t                      rc;
    ngx_str_t                      key, *agent;
    ngx_uint_t                     i, nagents, status;
    ngx_time_t                    *tp;
    ngx_array_t                   *args;
    const char                    *code;
    ngx_http_cs_ctx_t             *ctx;
    ngx_http_cs_json_t            *v;
    ngx_http_cs_loc_conf_t        *cslcf;
    const ngx_http_cs_json_str_t  *val;

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    if (ngx_http_cs_idempotency_key(r, &key) != NGX_OK) {
        return ngx_http_cs_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "invalid_idempotency_key",
                                      "Idempotency-Key must be one header of"
                                      " 1 to 128 printable ASCII characters",
                                      NULL, 0);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_cs_module);

    if (ctx->body_unread) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "cs: a part of the body reached the module only in a "
                      "file");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    v = ctx->json;

    rc = ngx_http_cs_json_finish(v);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "cs: json: %uz keys, %uz probes",
                   ngx_http_cs_json_keys(v), ngx_http_cs_json_probes(v));

    if (rc != NGX_HTTP_CS_JSON_OK) {
        switch (rc) {

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
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_cs_send_error(r, status, code,
                                      ngx_http_cs_json_message(v),
                                      ngx_http_cs_json_field(v), 0);
    }

    nagents = cslcf->agents ? cslcf->agents->nelts : 0;

    args = ngx_array_create(r->pool, 11 + nagents, sizeof(ngx_str_t));
    if (args == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    now = ngx_pnalloc(r->pool, NGX_INT64_LEN + 3);
    count = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (now == NULL || count == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    tp = ngx_timeofday();

    if (ngx_http_cs_push(args, cslcf->key_prefix.data, cslcf->key_prefix.len)
        != NGX_OK
        || ngx_http_cs_push(args, now,
                            ngx_sprintf(now, "%T%03M", tp->sec, tp->msec)
                            - now)
           != NGX_OK
        || ngx_http_cs_push(args,
                            (u_char *) (cslcf->assign
                                        == NGX_HTTP_CS_ASSIGN_LEAST_LOADED
                                        ? "least_loaded" : "round_robin"),
                            cslcf->assign == NGX_HTTP_CS_ASSIGN_LEAST_LOADED
                            ? 12 : 11)
           != NGX_OK
        || ngx_http_cs_push(args, key.data, key.len) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_cs_push(args, count,
                         ngx_sprintf(count, "%ui", nagents) - count)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    agent = nagents ? cslcf->agents->elts : NULL;
    for (i = 0; i < nagents; i++) {
        if (ngx_http_cs_push(args, agent[i].data, agent[i].len) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    for (i = 0; i < NGX_HTTP_CS_F_COUNT; i++) {
        val = ngx_http_cs_json_value(v, i);
        if (ngx_http_cs_push(args, (u_char *) val->data, val->len)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    /*
     * The validator's memory is the pool's: it stays, with the values the
     * arguments point to, until the request is freed.
     */

    rc = ngx_http_cs_redis_eval(r, cslcf->redis, NGX_HTTP_CS_SCRIPT_INTAKE,
                                args, cslcf->redis_timeout,
                                ngx_http_cs_intake_done);

    if (rc == NGX_DECLINED) {
        return ngx_http_cs_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "store_unavailable",
                                      "the ticket store is not reachable; "
                                      "retry later",
                                      NULL,
                                      ngx_http_cs_redis_retry_after(
                                          cslcf->redis));
    }

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_AGAIN;
}


static void
ngx_http_cs_body_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    rc = ngx_http_cs_intake(r);

    if (rc == NGX_AGAIN) {
        /* see the client go away while Redis works, and nothing else */
        r->read_event_handler = ngx_http_test_reading;
        r->write_event_handler = ngx_http_request_empty_handler;
        return;
    }

    ngx_http_finalize_request(r, rc);
}


static ngx_int_t
ngx_http_cs_send_ticket(ngx_http_request_t *r, redisReply *reply)
{
    redisReply         *agent, *state;
    ngx_http_cs_out_t   o;

    agent = reply->element[2];
    state = reply->element[3];

    if (ngx_http_cs_out_init(r, &o) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_cs_out_open(&o);
    ngx_http_cs_out_cstr(&o, "status", "success");
    ngx_http_cs_out_cstr(&o, "message", "Request received and processed.");
    ngx_http_cs_out_int(&o, "ticketId", reply->element[1]->integer);
    ngx_http_cs_out_str(&o, "agent",
                        agent->len ? (u_char *) agent->str : NULL,
                        agent->len);
    ngx_http_cs_out_str(&o, "state", (u_char *) state->str, state->len);
    ngx_http_cs_out_close(&o);

    return ngx_http_cs_send_json(r, NGX_HTTP_CREATED,
                                 ngx_http_cs_out_buf(r, &o));
}


static ngx_int_t
ngx_http_cs_intake_reply(ngx_http_request_t *r, redisReply *reply,
    ngx_int_t rc)
{
    ngx_uint_t               i;
    ngx_http_cs_loc_conf_t  *cslcf;

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    if (rc == NGX_HTTP_SERVICE_UNAVAILABLE) {
        return ngx_http_cs_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "store_unavailable",
                                      "the ticket store is not reachable; "
                                      "retry later", NULL,
                                      ngx_http_cs_redis_retry_after(
                                          cslcf->redis));
    }

    if (rc == NGX_HTTP_GATEWAY_TIME_OUT) {
        return ngx_http_cs_send_error(r, NGX_HTTP_GATEWAY_TIME_OUT,
                                      "store_timeout",
                                      "the ticket store did not answer in "
                                      "time; retry with the same "
                                      "Idempotency-Key", NULL, 0);
    }

    if (reply->type == REDIS_REPLY_ERROR
        && ngx_strncmp(reply->str, NGX_HTTP_CS_WRONGTYPE,
                       sizeof(NGX_HTTP_CS_WRONGTYPE) - 1) == 0)
    {
        /* a foreign value under the prefix: found before any write */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "cs: the key \"%s\" holds a value of the wrong type; "
                      "the ticket was not stored",
                      reply->str + sizeof(NGX_HTTP_CS_WRONGTYPE) - 1);

        return ngx_http_cs_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      "internal_error", "internal error",
                                      NULL, 0);
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        /* the script checks before it writes: an error wrote nothing */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "cs: the intake script failed: %s", reply->str);

        return ngx_http_cs_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "store_unavailable",
                                      "the ticket store refused the ticket; "
                                      "retry later", NULL, 1);
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 4
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[1]->type != REDIS_REPLY_INTEGER)
    {
        goto invalid;
    }

    for (i = 2; i < 4; i++) {
        if (reply->element[i]->type != REDIS_REPLY_STRING) {
            goto invalid;
        }
    }

    if (ngx_strcmp(reply->element[0]->str, "reused") == 0) {
        return ngx_http_cs_send_error(r, NGX_HTTP_CONFLICT,
                                      "idempotency_key_reused",
                                      "this Idempotency-Key was used for a "
                                      "different ticket", NULL, 0);
    }

    return ngx_http_cs_send_ticket(r, reply);

invalid:

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "cs: unexpected reply from the intake script");

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static void
ngx_http_cs_intake_done(ngx_http_request_t *r, redisReply *reply,
    ngx_int_t rc)
{
    ngx_http_finalize_request(r, ngx_http_cs_intake_reply(r, reply, rc));
}
