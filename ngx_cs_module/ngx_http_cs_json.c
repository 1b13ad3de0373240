/*
 * The body validator.  yajl checks the JSON grammar; a small scanner that
 * runs over the same raw bytes checks what yajl lets through: overlong and
 * surrogate UTF-8, code points over U+10FFFF, lone surrogate escapes and
 * \u0000.  The schema's rows are checked in the callbacks.  A schema error
 * is only remembered, because a later syntax error takes precedence over
 * it; once one is known, no value is kept.
 *
 * This file holds the parse: yajl's callbacks, create, feed, finish, the
 * answers and the memory.  The scanner and the duplicate-key check are in
 * ngx_http_cs_json_scan.c, the rows' checks in ngx_http_cs_json_rows.c.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "ngx_http_cs_json_state.h"


static void *
cs_default_malloc(void *ctx, size_t sz)
{
    (void) ctx;
    return malloc(sz);
}


static void *
cs_default_realloc(void *ctx, void *p, size_t sz)
{
    (void) ctx;
    return realloc(p, sz);
}


static void
cs_default_free(void *ctx, void *p)
{
    (void) ctx;
    free(p);
}


static void
cs_syntax_at(ngx_http_cs_json_t *v, const char *msg, size_t at)
{
    if (v->rc == NGX_HTTP_CS_JSON_OK) {
        v->rc = NGX_HTTP_CS_JSON_SYNTAX;
        snprintf(v->msg, sizeof(v->msg), "%s at byte %zu", msg, at);
    }
}


/* errors found in callbacks point at the last byte of the current token */
void
ngx_http_cs_json_syntax(ngx_http_cs_json_t *v, const char *msg)
{
    size_t  n;

    n = yajl_get_bytes_consumed(v->yajl);

    cs_syntax_at(v, msg, v->offset + (n ? n - 1 : 0));
}


void
ngx_http_cs_json_nomem(ngx_http_cs_json_t *v)
{
    v->rc = NGX_HTTP_CS_JSON_NOMEM;
    snprintf(v->msg, sizeof(v->msg), "out of memory");
}


/* copies a field name for the answer, cut at a character boundary */
static int
cs_set_field(ngx_http_cs_json_t *v, const unsigned char *name, size_t len)
{
    if (len > NGX_HTTP_CS_FIELD_NAME_MAX) {
        len = NGX_HTTP_CS_FIELD_NAME_MAX;
        while (len > 0 && (name[len] & 0xc0) == 0x80) {
            len--;
        }
    }

    v->field = v->af.malloc(v->af.ctx, len + 1);
    if (v->field == NULL) {
        ngx_http_cs_json_nomem(v);
        return -1;
    }

    memcpy(v->field, name, len);
    v->field[len] = '\0';

    return 0;
}


static int
cs_schema(ngx_http_cs_json_t *v, int rc, const unsigned char *name,
    size_t len, const char *msg)
{
    if (v->schema_rc != NGX_HTTP_CS_JSON_OK) {
        return 0;
    }

    v->schema_rc = rc;
    v->schema_msg = msg;

    return cs_set_field(v, name, len);
}


int
ngx_http_cs_json_field_error(ngx_http_cs_json_t *v, const char *msg)
{
    const char  *name;

    name = v->schema->fields[v->current].name;

    return cs_schema(v, NGX_HTTP_CS_JSON_INVALID, (const unsigned char *) name,
                     strlen(name), msg);
}


/* makes *p hold size bytes, keeping its first used ones */
int
ngx_http_cs_json_grow(ngx_http_cs_json_t *v, void **p, size_t used,
    size_t size)
{
    void  *n;

    n = v->af.malloc(v->af.ctx, size);
    if (n == NULL) {
        ngx_http_cs_json_nomem(v);
        return -1;
    }

    if (used != 0) {
        memcpy(n, *p, used);
    }

    if (*p != NULL) {
        v->af.free(v->af.ctx, *p);
    }

    *p = n;

    return 0;
}


/*
 * Room in *p, an array of *nalloc elements of size bytes of which used are
 * taken, for more: twice as many, or min at first, or just enough.  *p is
 * never left NULL, even for no more.
 */
int
ngx_http_cs_json_reserve(ngx_http_cs_json_t *v, void **p, size_t size,
    size_t used, size_t more, size_t min, size_t *nalloc)
{
    size_t  n;

    if (*p != NULL && *nalloc - used >= more) {
        return 0;
    }

    n = *nalloc ? *nalloc * 2 : min;

    if (n < used + more) {
        n = used + more;
    }

    if (ngx_http_cs_json_grow(v, p, used * size, n * size) != 0) {
        return -1;
    }

    *nalloc = n;

    return 0;
}


/* the first value of the body decides whether it is an object at all */
static int
cs_root(ngx_http_cs_json_t *v, int is_map)
{
    if (v->root_seen) {
        return 1;
    }

    v->root_seen = 1;

    if (!is_map) {
        cs_syntax_at(v, "the body must be a JSON object", v->first);
        return 0;
    }

    return 1;
}


/* a scalar or the start of a container, seen as a value */
static int
cs_value(ngx_http_cs_json_t *v, const cs_token_t *t)
{
    if (!cs_root(v, t->type == CS_TOKEN_MAP)) {
        return 0;
    }

    /*
     * Once a member is at fault, only a syntax error can change the
     * verdict: no later value is checked or kept.
     */
    if (v->schema_rc != NGX_HTTP_CS_JSON_OK) {
        return 1;
    }

    if (v->depth == 2 && v->in_list) {
        return ngx_http_cs_json_list_item(v, t);
    }

    if (v->depth != 1 || v->current < 0) {
        return 1;
    }

    return ngx_http_cs_json_member(v, t);
}


static int
cs_on_null(void *ctx)
{
    cs_token_t  t;

    memset(&t, 0, sizeof(cs_token_t));
    t.type = CS_TOKEN_NULL;

    return cs_value(ctx, &t);
}


static int
cs_on_boolean(void *ctx, int b)
{
    cs_token_t  t;

    memset(&t, 0, sizeof(cs_token_t));
    t.type = CS_TOKEN_BOOLEAN;
    t.boolean = b ? 1 : 0;

    return cs_value(ctx, &t);
}


static int
cs_on_number(void *ctx, const char *s, size_t len)
{
    cs_token_t  t;

    memset(&t, 0, sizeof(cs_token_t));
    t.type = CS_TOKEN_NUMBER;
    t.s = (const unsigned char *) s;
    t.len = len;

    return cs_value(ctx, &t);
}


static int
cs_on_string(void *ctx, const unsigned char *s, size_t len)
{
    cs_token_t  t;

    memset(&t, 0, sizeof(cs_token_t));
    t.type = CS_TOKEN_STRING;
    t.s = s;
    t.len = len;

    return cs_value(ctx, &t);
}


static int
cs_open(ngx_http_cs_json_t *v, cs_token_e type)
{
    cs_token_t  t;

    memset(&t, 0, sizeof(cs_token_t));
    t.type = type;

    if (!cs_value(v, &t)) {
        return 0;
    }

    if (v->depth >= NGX_HTTP_CS_JSON_MAX_DEPTH) {
        ngx_http_cs_json_syntax(v, "nesting is deeper than 32 levels");
        return 0;
    }

    v->depth++;

    return 1;
}


static int
cs_on_start_map(void *ctx)
{
    return cs_open(ctx, CS_TOKEN_MAP);
}


static int
cs_on_start_array(void *ctx)
{
    return cs_open(ctx, CS_TOKEN_ARRAY);
}


static int
cs_on_end_map(void *ctx)
{
    ngx_http_cs_json_t  *v = ctx;

    ngx_http_cs_json_level_clear(v, &v->level[v->depth]);
    v->depth--;

    return 1;
}


static int
cs_on_end_array(void *ctx)
{
    ngx_http_cs_json_t  *v = ctx;

    /* the array a member's value opened is the one that ends at 2 */
    if (v->depth == 2) {
        v->in_list = 0;
    }

    v->depth--;

    return 1;
}


static int
cs_on_map_key(void *ctx, const unsigned char *key, size_t len)
{
    size_t                      f;
    const ngx_http_cs_field_t  *row;
    ngx_http_cs_json_t         *v = ctx;

    if (ngx_http_cs_json_key_add(v, key, len) != 0) {
        return 0;
    }

    if (v->depth != 1) {
        return 1;
    }

    for (f = 0; f < v->schema->nfields; f++) {
        row = &v->schema->fields[f];

        if (strlen(row->name) == len && memcmp(row->name, key, len) == 0) {
            v->current = (int) f;
            v->value[f].present = 1;
            return 1;
        }
    }

    v->current = -1;

    return cs_schema(v, NGX_HTTP_CS_JSON_UNKNOWN, key, len, "unknown field")
           == 0;
}


static const yajl_callbacks  cs_callbacks = {
    cs_on_null,
    cs_on_boolean,
    NULL,
    NULL,
    cs_on_number,
    cs_on_string,
    cs_on_start_map,
    cs_on_map_key,
    cs_on_end_map,
    cs_on_start_array,
    cs_on_end_array
};


ngx_http_cs_json_t *
ngx_http_cs_json_create(const ngx_http_cs_schema_t *schema, size_t limit,
    yajl_alloc_funcs *af)
{
    yajl_alloc_funcs     def;
    ngx_http_cs_json_t  *v;

    if (schema->nfields > NGX_HTTP_CS_JSON_MAX_FIELDS) {
        return NULL;
    }

    if (af == NULL) {
        def.malloc = cs_default_malloc;
        def.realloc = cs_default_realloc;
        def.free = cs_default_free;
        def.ctx = NULL;
        af = &def;
    }

    v = af->malloc(af->ctx, sizeof(ngx_http_cs_json_t));
    if (v == NULL) {
        return NULL;
    }

    memset(v, 0, sizeof(ngx_http_cs_json_t));

    v->af = *af;
    v->schema = schema;
    v->limit = limit;
    v->current = -1;

    v->yajl = yajl_alloc(&cs_callbacks, &v->af, v);
    if (v->yajl == NULL) {
        af->free(af->ctx, v);
        return NULL;
    }

    return v;
}


static void
cs_yajl_error(ngx_http_cs_json_t *v, const unsigned char *p, size_t len)
{
    size_t          n;
    unsigned char  *e, *m;

    if (v->rc != NGX_HTTP_CS_JSON_OK) {
        return;
    }

    /* yajl counts the offending byte as consumed */
    n = yajl_get_bytes_consumed(v->yajl);
    n = n ? n - 1 : 0;
    e = yajl_get_error(v->yajl, 0, p, len);

    /* yajl says "lexical error: <what>" or "parse error: <what>" */
    m = (e != NULL) ? (unsigned char *) strstr((char *) e, ": ") : NULL;

    if (m != NULL) {
        e[strcspn((char *) e, "\n")] = '\0';
    }

    cs_syntax_at(v, m ? (char *) m + 2 : "invalid JSON", v->offset + n);

    if (e != NULL) {
        yajl_free_error(v->yajl, e);
    }
}


int
ngx_http_cs_json_feed(ngx_http_cs_json_t *v, const unsigned char *p,
    size_t len)
{
    size_t  good;

    if (v->rc != NGX_HTTP_CS_JSON_OK) {
        return -1;
    }

    good = ngx_http_cs_json_scan(v, p, len);

    /* the earlier of a grammar error and a scan error is the one reported */
    if (yajl_parse(v->yajl, p, good) != yajl_status_ok) {
        cs_yajl_error(v, p, good);
        return -1;
    }

    if (good < len) {
        cs_syntax_at(v, v->scan_err, v->offset + good);
        return -1;
    }

    v->offset += len;

    return 0;
}


int
ngx_http_cs_json_finish(ngx_http_cs_json_t *v)
{
    size_t                      f;
    const ngx_http_cs_field_t  *row;

    if (v->rc != NGX_HTTP_CS_JSON_OK) {
        return v->rc;
    }

    if (v->scan != CS_SCAN_OUT) {
        cs_syntax_at(v, "unterminated string", v->offset);
        return v->rc;
    }

    if (yajl_complete_parse(v->yajl) != yajl_status_ok) {
        if (v->offset == 0) {
            cs_syntax_at(v, "the body is empty", 0);

        } else {
            cs_syntax_at(v, "premature end of the body", v->offset);
        }

        return v->rc;
    }

    for (f = 0; f < v->schema->nfields; f++) {
        row = &v->schema->fields[f];

        if (row->required && !v->value[f].present) {
            if (cs_schema(v, NGX_HTTP_CS_JSON_MISSING,
                          (const unsigned char *) row->name,
                          strlen(row->name), "a required field is missing")
                != 0)
            {
                return v->rc;
            }

            break;
        }
    }

    if (v->schema_rc != NGX_HTTP_CS_JSON_OK) {
        v->rc = v->schema_rc;
        snprintf(v->msg, sizeof(v->msg), "%s", v->schema_msg);
        return v->rc;
    }

    if (ngx_http_cs_json_values(v) != 0) {
        return v->rc;
    }

    return NGX_HTTP_CS_JSON_OK;
}


const char *
ngx_http_cs_json_message(ngx_http_cs_json_t *v)
{
    return v->msg;
}


const char *
ngx_http_cs_json_field(ngx_http_cs_json_t *v)
{
    return (v->rc == NGX_HTTP_CS_JSON_SYNTAX) ? NULL : v->field;
}


const ngx_http_cs_json_value_t *
ngx_http_cs_json_get(ngx_http_cs_json_t *v, size_t field)
{
    return &v->value[field];
}


const ngx_http_cs_json_str_t *
ngx_http_cs_json_value(ngx_http_cs_json_t *v, size_t field)
{
    return &v->value[field].str;
}


size_t
ngx_http_cs_json_keys(ngx_http_cs_json_t *v)
{
    return v->held_max;
}


size_t
ngx_http_cs_json_probes(ngx_http_cs_json_t *v)
{
    return v->probes;
}


void
ngx_http_cs_json_free(ngx_http_cs_json_t *v)
{
    cs_level_t  *l;

    yajl_free(v->yajl);

    for (l = v->level; l <= &v->level[NGX_HTTP_CS_JSON_MAX_DEPTH]; l++) {
        if (l->slot != NULL) {
            v->af.free(v->af.ctx, l->slot);
        }

        if (l->key != NULL) {
            v->af.free(v->af.ctx, l->key);
        }

        if (l->bytes != NULL) {
            v->af.free(v->af.ctx, l->bytes);
        }
    }

    if (v->bytes != NULL) {
        v->af.free(v->af.ctx, v->bytes);
    }

    if (v->item != NULL) {
        v->af.free(v->af.ctx, v->item);
    }

    if (v->strs != NULL) {
        v->af.free(v->af.ctx, v->strs);
    }

    if (v->field) {
        v->af.free(v->af.ctx, v->field);
    }

    v->af.free(v->af.ctx, v);
}
