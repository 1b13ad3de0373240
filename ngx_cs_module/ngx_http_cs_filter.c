/*
 * Answers of a cs_service location are JSON even when nginx itself makes
 * them (the 413 for a declared length, sent before any content handler
 * runs, the 413 and 400 of a chunked body, limit_req's 429), and every
 * answer to a listed origin carries the CORS headers.  A filter limited
 * to those locations does both, so the user adds nothing to the config.
 *
 * The request body filter hands the validator each piece of the body as
 * nginx receives it, before nginx may write it to a temporary file, so
 * the body is validated as it streams and never read back from disk.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_cs_module.h"


static ngx_http_cs_error_t  ngx_http_cs_own_errors[] = {
    { NGX_HTTP_BAD_REQUEST, "bad_request",
      "the request is malformed" },
    { NGX_HTTP_UNAUTHORIZED, "unauthorized",
      "the request is not authorised" },
    { NGX_HTTP_FORBIDDEN, "forbidden",
      "access to this resource is forbidden" },
    { NGX_HTTP_REQUEST_TIME_OUT, "request_timeout",
      "the request was not received in time" },
    { NGX_HTTP_LENGTH_REQUIRED, "length_required",
      "the request needs a length" },
    { NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
      "the body is larger than client_max_body_size" },
    { 429, "rate_limited",
      "too many requests; retry later" },
    { NGX_HTTP_INTERNAL_SERVER_ERROR, "internal_error",
      "internal error" },
    { NGX_HTTP_SERVICE_UNAVAILABLE, "service_unavailable",
      "the service is unavailable; retry later" },
    { 0, "http_error", "the request failed" }
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;
static ngx_http_request_body_filter_pt   ngx_http_next_request_body_filter;


ngx_http_cs_ctx_t *
ngx_http_cs_get_ctx(ngx_http_request_t *r)
{
    ngx_http_cs_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cs_module);
    if (ctx != NULL) {
        return ctx;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_cs_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_cs_module);

    return ctx;
}


static ngx_int_t
ngx_http_cs_cors_headers(ngx_http_request_t *r, ngx_http_cs_loc_conf_t *cslcf)
{
    ngx_str_t  v, *origin;

    if (cslcf->cors_origins == NULL) {
        return NGX_OK;
    }

    /* the answer depends on Origin whether or not this one is listed */
    ngx_str_set(&v, "Origin");
    if (ngx_http_cs_add_header(r, "Vary", &v) != NGX_OK) {
        return NGX_ERROR;
    }

    origin = ngx_http_cs_cors_origin(r, cslcf);
    if (origin == NULL) {
        return NGX_OK;
    }

    if (ngx_http_cs_add_header(r, "Access-Control-Allow-Origin", origin)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&v, "Retry-After");

    return ngx_http_cs_add_header(r, "Access-Control-Expose-Headers", &v);
}


static ngx_int_t
ngx_http_cs_header_filter(ngx_http_request_t *r)
{
    ngx_str_t                  v;
    ngx_http_cs_ctx_t         *ctx;
    ngx_http_cs_error_t       *e;
    ngx_http_cs_loc_conf_t    *cslcf;

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    if (cslcf->kind == NGX_HTTP_CS_KIND_NONE || r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    if (ngx_http_cs_cors_headers(r, cslcf) != NGX_OK) {
        return NGX_ERROR;
    }

    /* err_status is set only when nginx makes the answer itself */
    if (r->err_status < NGX_HTTP_BAD_REQUEST) {
        return ngx_http_next_header_filter(r);
    }

    for (e = ngx_http_cs_own_errors; e->status; e++) {
        if (e->status == (ngx_uint_t) r->err_status) {
            break;
        }
    }

    ctx = ngx_http_cs_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    /*
     * nginx refuses a declared length over client_max_body_size before
     * the content handler runs; the contract checks the route, the
     * credentials and the content type first.  The body is dropped with
     * the connection either way.
     */
    if (r->err_status == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE
        && ctx->ep == NULL
        && !(r->method == NGX_HTTP_OPTIONS && cslcf->cors_origins != NULL))
    {
        switch (ngx_http_cs_precheck(r, cslcf, ctx, &e)) {

        case NGX_ERROR:
            return NGX_ERROR;

        case NGX_DECLINED:
            r->headers_out.status = e->status;
            r->err_status = e->status;
            break;

        default: /* NGX_OK: the 413 stands */
            break;
        }
    }

    ctx->error_body = ngx_http_cs_error_json(r, e->code, e->message, NULL);
    if (ctx->error_body == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;
    r->headers_out.content_length_n = ctx->error_body->last
                                      - ctx->error_body->pos;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    if (e->status == 429 || e->status == NGX_HTTP_SERVICE_UNAVAILABLE) {
        ngx_str_set(&v, "1");
        if (ngx_http_cs_add_header(r, "Retry-After", &v) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_cs_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t         out, *cl;
    ngx_http_cs_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cs_module);

    if (ctx == NULL || ctx->error_body == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    /* nginx's HTML page is consumed and never sent */
    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    if (ctx->error_sent) {
        return NGX_OK;
    }

    ctx->error_sent = 1;

    out.buf = ctx->error_body;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


static ngx_int_t
ngx_http_cs_request_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_http_cs_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cs_module);

    if (ctx == NULL || ctx->json == NULL) {
        return ngx_http_next_request_body_filter(r, in);
    }

    ngx_http_cs_feed(ctx, in);

    return ngx_http_next_request_body_filter(r, in);
}


/* hands the validator the body's buffers; one only in a file is noted */
void
ngx_http_cs_feed(ngx_http_cs_ctx_t *ctx, ngx_chain_t *in)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (!ngx_buf_in_memory(b)) {
            if (ngx_buf_size(b) > 0) {
                ctx->body_unread = 1;
            }

            continue;
        }

        /* once the verdict is a 400 the rest of the body is not looked at */
        (void) ngx_http_cs_json_feed(ctx->json, b->pos, b->last - b->pos);
        ctx->body_fed = 1;
    }
}


ngx_int_t
ngx_http_cs_filter_init(ngx_conf_t *cf)
{
    (void) cf;

    ngx_http_next_request_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_http_cs_request_body_filter;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_cs_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_cs_body_filter;

    return NGX_OK;
}
