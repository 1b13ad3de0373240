/*
 * The module's answers: JSON made with yajl_gen from the request pool, the
 * headers it adds, and the one way an answer is sent.
 *
 * A JSON answer is all or nothing: every generator step is checked, and a
 * value that yajl refuses (a string from Redis that is not UTF-8, say)
 * turns the whole answer into a 500, never into a broken body.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>

#include "ngx_http_cs_module.h"
#include "ngx_http_cs_crypt.h"


#define NGX_HTTP_CS_ALLOC_HEADER  16
#define NGX_HTTP_CS_REPLY_DEPTH   8


static ngx_str_t  ngx_http_cs_json_type = ngx_string("application/json");


/*
 * yajl allocates from the request pool: whatever path the request takes,
 * the pool takes its memory back.  A header keeps the size for realloc.
 */

static void *
ngx_http_cs_pool_malloc(void *ctx, size_t size)
{
    u_char  *p;

    p = ngx_palloc(ctx, size + NGX_HTTP_CS_ALLOC_HEADER);
    if (p == NULL) {
        return NULL;
    }

    *(size_t *) p = size;

    return p + NGX_HTTP_CS_ALLOC_HEADER;
}


static void
ngx_http_cs_pool_free(void *ctx, void *ptr)
{
    if (ptr != NULL) {
        (void) ngx_pfree(ctx, (u_char *) ptr - NGX_HTTP_CS_ALLOC_HEADER);
    }
}


static void *
ngx_http_cs_pool_realloc(void *ctx, void *ptr, size_t size)
{
    size_t   old;
    u_char  *p;

    if (ptr == NULL) {
        return ngx_http_cs_pool_malloc(ctx, size);
    }

    old = *(size_t *) ((u_char *) ptr - NGX_HTTP_CS_ALLOC_HEADER);
    if (size <= old) {
        return ptr;
    }

    p = ngx_http_cs_pool_malloc(ctx, size);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, ptr, old);
    ngx_http_cs_pool_free(ctx, ptr);

    return p;
}


void
ngx_http_cs_yajl_funcs(ngx_http_request_t *r, yajl_alloc_funcs *af)
{
    af->malloc = ngx_http_cs_pool_malloc;
    af->realloc = ngx_http_cs_pool_realloc;
    af->free = ngx_http_cs_pool_free;
    af->ctx = r->pool;
}


ngx_int_t
ngx_http_cs_out_init(ngx_http_request_t *r, ngx_http_cs_out_t *o)
{
    yajl_alloc_funcs  af;

    ngx_http_cs_yajl_funcs(r, &af);

    o->failed = 0;
    o->r = r;
    o->crypt_failed = 0;

    o->g = yajl_gen_alloc(&af);
    if (o->g == NULL) {
        return NGX_ERROR;
    }

    if (!yajl_gen_config(o->g, yajl_gen_validate_utf8, 1)) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_cs_out_check(ngx_http_cs_out_t *o, yajl_gen_status st)
{
    if (st != yajl_gen_status_ok) {
        o->failed = 1;
    }
}


void
ngx_http_cs_out_open(ngx_http_cs_out_t *o)
{
    ngx_http_cs_out_check(o, yajl_gen_map_open(o->g));
}


void
ngx_http_cs_out_close(ngx_http_cs_out_t *o)
{
    ngx_http_cs_out_check(o, yajl_gen_map_close(o->g));
}


static void
ngx_http_cs_out_key(ngx_http_cs_out_t *o, const char *key)
{
    ngx_http_cs_out_check(o, yajl_gen_string(o->g, (const u_char *) key,
                                             ngx_strlen(key)));
}


void
ngx_http_cs_out_list_open(ngx_http_cs_out_t *o, const char *key)
{
    ngx_http_cs_out_key(o, key);
    ngx_http_cs_out_check(o, yajl_gen_array_open(o->g));
}


void
ngx_http_cs_out_list_close(ngx_http_cs_out_t *o)
{
    ngx_http_cs_out_check(o, yajl_gen_array_close(o->g));
}


void
ngx_http_cs_out_str(ngx_http_cs_out_t *o, const char *key, const u_char *v,
    size_t len)
{
    ngx_http_cs_out_key(o, key);

    if (v == NULL) {
        ngx_http_cs_out_check(o, yajl_gen_null(o->g));

    } else {
        ngx_http_cs_out_check(o, yajl_gen_string(o->g, v, len));
    }
}


void
ngx_http_cs_out_cstr(ngx_http_cs_out_t *o, const char *key, const char *v)
{
    ngx_http_cs_out_str(o, key, (const u_char *) v,
                        v ? ngx_strlen(v) : 0);
}


void
ngx_http_cs_out_int(ngx_http_cs_out_t *o, const char *key, long long n)
{
    ngx_http_cs_out_key(o, key);
    ngx_http_cs_out_check(o, yajl_gen_integer(o->g, n));
}


/*
 * The shapes of a desk script's value, as RESP carries them: an array whose
 * first element is "{" is an object (name, value, name, value, ...), "[" a
 * list, "!" a literal (true, false or null), "$" a sealed value (its
 * associated data and the value: ngx_http_cs_crypt.c, opened here into a
 * string), "#" a number written as text (one with a fraction: Lua's
 * numbers reach RESP as integers); any other array is a list; an
 * integer is a number, a string a string, nil (Lua's false) null.
 */
static ngx_uint_t
ngx_http_cs_marker(redisReply *v, char c)
{
    return v->type == REDIS_REPLY_ARRAY && v->elements > 0
           && v->element[0]->type == REDIS_REPLY_STRING
           && v->element[0]->len == 1 && v->element[0]->str[0] == c;
}


/* {"#", "6.3"}: a JSON number as the script wrote it, checked */
static void
ngx_http_cs_out_number(ngx_http_cs_out_t *o, redisReply *v)
{
    size_t       i;
    redisReply  *n;

    if (v->elements != 2 || v->element[1]->type != REDIS_REPLY_STRING
        || v->element[1]->len == 0 || v->element[1]->len > 32)
    {
        o->failed = 1;
        return;
    }

    n = v->element[1];

    for (i = 0; i < n->len; i++) {
        if (n->str[i] == '\0'
            || ngx_strchr("0123456789.eE+-", n->str[i]) == NULL)
        {
            o->failed = 1;
            return;
        }
    }

    ngx_http_cs_out_check(o, yajl_gen_number(o->g, n->str, n->len));
}


void
ngx_http_cs_out_members(ngx_http_cs_out_t *o, redisReply *v,
    ngx_uint_t depth)
{
    size_t       i;
    redisReply  *k;

    for (i = 1; i + 1 < v->elements; i += 2) {
        k = v->element[i];

        if (k->type != REDIS_REPLY_STRING) {
            o->failed = 1;
            return;
        }

        ngx_http_cs_out_check(o, yajl_gen_string(o->g, (u_char *) k->str,
                                                 k->len));
        ngx_http_cs_out_reply(o, v->element[i + 1], depth + 1);
    }

    if (i < v->elements) {
        /* a name without a value */
        o->failed = 1;
    }
}


void
ngx_http_cs_out_reply(ngx_http_cs_out_t *o, redisReply *v, ngx_uint_t depth)
{
    size_t  i, from;

    if (depth > NGX_HTTP_CS_REPLY_DEPTH) {
        o->failed = 1;
        return;
    }

    switch (v->type) {

    case REDIS_REPLY_INTEGER:
        ngx_http_cs_out_check(o, yajl_gen_integer(o->g, v->integer));
        return;

    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        ngx_http_cs_out_check(o, yajl_gen_string(o->g, (u_char *) v->str,
                                                 v->len));
        return;

    case REDIS_REPLY_NIL:
        ngx_http_cs_out_check(o, yajl_gen_null(o->g));
        return;

    case REDIS_REPLY_ARRAY:
        break;

    default:
        o->failed = 1;
        return;
    }

    if (ngx_http_cs_marker(v, '{')) {
        ngx_http_cs_out_open(o);
        ngx_http_cs_out_members(o, v, depth);
        ngx_http_cs_out_close(o);
        return;
    }

    if (ngx_http_cs_marker(v, '$')) {
        ngx_http_cs_crypt_out(o, v);
        return;
    }

    if (ngx_http_cs_marker(v, '#')) {
        ngx_http_cs_out_number(o, v);
        return;
    }

    if (ngx_http_cs_marker(v, '!')) {
        if (v->elements == 2 && v->element[1]->type == REDIS_REPLY_STRING) {
            if (ngx_strcmp(v->element[1]->str, "true") == 0) {
                ngx_http_cs_out_check(o, yajl_gen_bool(o->g, 1));
                return;
            }

            if (ngx_strcmp(v->element[1]->str, "false") == 0) {
                ngx_http_cs_out_check(o, yajl_gen_bool(o->g, 0));
                return;
            }
        }

        ngx_http_cs_out_check(o, yajl_gen_null(o->g));
        return;
    }

    from = ngx_http_cs_marker(v, '[') ? 1 : 0;

    ngx_http_cs_out_check(o, yajl_gen_array_open(o->g));

    for (i = from; i < v->elements; i++) {
        ngx_http_cs_out_reply(o, v->element[i], depth + 1);
    }

    ngx_http_cs_out_check(o, yajl_gen_array_close(o->g));
}


/* the generator's buffer is pool memory: it lives as long as the request */
ngx_buf_t *
ngx_http_cs_out_buf(ngx_http_request_t *r, ngx_http_cs_out_t *o)
{
    size_t          len;
    ngx_buf_t      *b;
    const u_char   *p;

    if (o->failed && o->crypt_failed) {
        /* ngx_http_cs_crypt_out() said why */
        return NULL;
    }

    if (o->failed) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "cs: an answer was refused by the JSON generator "
                      "(a value is not valid UTF-8)");
        return NULL;
    }

    if (yajl_gen_get_buf(o->g, &p, &len) != yajl_gen_status_ok) {
        return NULL;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NULL;
    }

    b->pos = (u_char *) p;
    b->last = (u_char *) p + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    return b;
}


ngx_buf_t *
ngx_http_cs_error_json(ngx_http_request_t *r, const char *code,
    const char *message, const char *field)
{
    ngx_http_cs_out_t  o;

    if (ngx_http_cs_out_init(r, &o) != NGX_OK) {
        return NULL;
    }

    ngx_http_cs_out_open(&o);
    ngx_http_cs_out_cstr(&o, "status", "error");
    ngx_http_cs_out_cstr(&o, "error", code);
    ngx_http_cs_out_cstr(&o, "message", message);

    if (field != NULL) {
        ngx_http_cs_out_cstr(&o, "field", field);
    }

    ngx_http_cs_out_close(&o);

    return ngx_http_cs_out_buf(r, &o);
}


ngx_int_t
ngx_http_cs_add_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;

    /* nginx 1.23 and later read these on every output header */
    h->lowcase_key = ngx_pnalloc(r->pool, h->key.len);
    if (h->lowcase_key == NULL) {
        h->hash = 0;
        return NGX_ERROR;
    }

    ngx_strlow(h->lowcase_key, h->key.data, h->key.len);
    h->hash = ngx_hash_key(h->lowcase_key, h->key.len);

#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}


ngx_int_t
ngx_http_cs_send_json(ngx_http_request_t *r, ngx_uint_t status, ngx_buf_t *b)
{
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = status;

    /* nginx has no reason phrase of its own for 422 */
    if (status == NGX_HTTP_CS_UNPROCESSABLE) {
        ngx_str_set(&r->headers_out.status_line,
                    "422 Unprocessable Entity");
    }

    return ngx_http_cs_send_body(r, &ngx_http_cs_json_type, b);
}


/* the headers with this type and the buffer's length, then the buffer */
ngx_int_t
ngx_http_cs_send_body(ngx_http_request_t *r, ngx_str_t *type, ngx_buf_t *b)
{
    ngx_int_t    rc;
    ngx_chain_t  out;

    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = b->last - b->pos;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_cs_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message, const char *field,
    time_t retry_after)
{
    ngx_str_t  v;

    if (retry_after > 0) {
        v.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (v.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        v.len = ngx_sprintf(v.data, "%T", retry_after) - v.data;

        if (ngx_http_cs_add_header(r, "Retry-After", &v) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_cs_send_json(r, status,
                                 ngx_http_cs_error_json(r, code, message,
                                                        field));
}
