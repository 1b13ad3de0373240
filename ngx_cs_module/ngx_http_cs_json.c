/*
 * The body validator.  yajl checks the JSON grammar; a small scanner that
 * runs over the same raw bytes checks what yajl lets through: overlong and
 * surrogate UTF-8, code points over U+10FFFF, lone surrogate escapes and
 * \u0000.  The schema's rows are checked in the callbacks.  A schema error
 * is only remembered, because a later syntax error takes precedence over
 * it; once one is known, no value is kept.
 */

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "ngx_http_cs_json.h"


/*
 * Each open object's keys live in the table of its depth: a closed
 * object's keys are dropped and its memory serves the next object at that
 * depth.  A table of 4 slots per key allowed is never rehashed, and at a
 * load of 1/4 or less linear probing looks at 1.2 slots per key on average.
 */
#define CS_SLOTS        (4 * NGX_HTTP_CS_JSON_MAX_KEYS)
#define CS_KEYS_MIN     8
#define CS_BYTES_MIN    128

#define CS_STR(x)       #x
#define CS_XSTR(x)      CS_STR(x)


/* what a callback saw, for the schema */
typedef enum {
    CS_TOKEN_NULL = 0,
    CS_TOKEN_BOOLEAN,
    CS_TOKEN_NUMBER,
    CS_TOKEN_STRING,
    CS_TOKEN_MAP,
    CS_TOKEN_ARRAY
} cs_token_e;


typedef struct {
    cs_token_e                type;
    const unsigned char      *s;           /* a string's or number's bytes */
    size_t                    len;
    int                       boolean;
} cs_token_t;


typedef enum {
    CS_SCAN_OUT = 0,
    CS_SCAN_STR,
    CS_SCAN_UTF8,
    CS_SCAN_ESC,
    CS_SCAN_HEX,
    CS_SCAN_LOW_BS,
    CS_SCAN_LOW_U,
    CS_SCAN_LOW_HEX
} cs_scan_state_e;


typedef struct {
    uint64_t                  hash;
    size_t                    off;         /* in the level's bytes */
    size_t                    len;
    size_t                    slot;
} cs_key_t;


/* a string kept, in v->bytes; for a STRINGS item, its hash too */
typedef struct {
    uint64_t                  hash;
    size_t                    off;
    size_t                    len;
} cs_item_t;


/* the keys of the object open at one depth */
typedef struct {
    uint16_t                 *slot;        /* 1 + an index in key; 0 free */
    cs_key_t                 *key;         /* in body order */
    unsigned char            *bytes;       /* the keys, end to end */
    size_t                    nkeys;
    size_t                    nalloc;
    size_t                    used;
    size_t                    size;
} cs_level_t;


struct ngx_http_cs_json_s {
    yajl_handle                 yajl;
    yajl_alloc_funcs            af;
    const ngx_http_cs_schema_t *schema;
    size_t                      limit;

    int                         rc;
    int                         schema_rc;
    const char                 *schema_msg;
    char                       *field;
    char                        msg[160];
    char                        fault[160];  /* a message made from a row */

    size_t                      offset;
    size_t                      first;       /* the first non-blank byte */
    unsigned                    first_seen;
    unsigned                    depth;
    unsigned                    root_seen;
    unsigned                    in_list;     /* current's STRINGS are open */
    int                         current;     /* the member's row, or -1 */

    cs_level_t                  level[NGX_HTTP_CS_JSON_MAX_DEPTH + 1];
    size_t                      held;        /* keys held now, all depths */
    size_t                      held_max;
    size_t                      probes;

    cs_scan_state_e             scan;
    const char                 *scan_err;
    unsigned                    need;
    unsigned                    hex;
    unsigned                    code;
    unsigned char               lo;
    unsigned char               hi;

    /* the strings kept, end to end, and where each one is */
    unsigned char              *bytes;
    size_t                      used;
    size_t                      size;
    cs_item_t                  *item;
    size_t                      nitems;
    size_t                      nalloc;
    ngx_http_cs_json_str_t     *strs;        /* the items, made by finish() */

    /* a STRING's item, or a STRINGS' first, in item */
    size_t                      first_item[NGX_HTTP_CS_JSON_MAX_FIELDS];
    ngx_http_cs_json_value_t    value[NGX_HTTP_CS_JSON_MAX_FIELDS];
};


/* the SipHash key, see ngx_http_cs_json_seed() */
static uint64_t     cs_hash_key[2];


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
static void
cs_syntax(ngx_http_cs_json_t *v, const char *msg)
{
    size_t  n;

    n = yajl_get_bytes_consumed(v->yajl);

    cs_syntax_at(v, msg, v->offset + (n ? n - 1 : 0));
}


static void
cs_nomem(ngx_http_cs_json_t *v)
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
        cs_nomem(v);
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


static int
cs_field_error(ngx_http_cs_json_t *v, const char *msg)
{
    const char  *name;

    name = v->schema->fields[v->current].name;

    return cs_schema(v, NGX_HTTP_CS_JSON_INVALID, (const unsigned char *) name,
                     strlen(name), msg);
}


/*
 * The strict UTF-8, escape and white space checks yajl does not make.
 * Returns how many bytes are good; at the first bad one, its message is
 * kept in v->scan_err until yajl has judged the bytes before it.
 */
static size_t
cs_scan(ngx_http_cs_json_t *v, const unsigned char *p, size_t len)
{
    unsigned char  c;
    const char    *err;
    size_t         i;

    for (i = 0; i < len; i++) {
        c = p[i];

        switch (v->scan) {

        case CS_SCAN_OUT:
            /* yajl takes these for white space; RFC 8259 does not */
            if (c == '\f' || c == '\v') {
                err = "invalid white space";
                goto failed;
            }

            if (!v->first_seen && c != ' ' && c != '\t' && c != '\r'
                && c != '\n')
            {
                v->first_seen = 1;
                v->first = v->offset + i;
            }

            if (c == '"') {
                v->scan = CS_SCAN_STR;
            }
            break;

        case CS_SCAN_STR:
            if (c == '"') {
                v->scan = CS_SCAN_OUT;

            } else if (c == '\\') {
                v->scan = CS_SCAN_ESC;

            } else if (c < 0x20) {
                err = "control character in a string";
                goto failed;

            } else if (c >= 0x80) {
                v->lo = 0x80;
                v->hi = 0xbf;

                if (c >= 0xc2 && c <= 0xdf) {
                    v->need = 1;

                } else if (c >= 0xe0 && c <= 0xef) {
                    v->need = 2;
                    if (c == 0xe0) {
                        v->lo = 0xa0;

                    } else if (c == 0xed) {
                        v->hi = 0x9f;
                    }

                } else if (c >= 0xf0 && c <= 0xf4) {
                    v->need = 3;
                    if (c == 0xf0) {
                        v->lo = 0x90;

                    } else if (c == 0xf4) {
                        v->hi = 0x8f;
                    }

                } else {
                    goto invalid_utf8;
                }

                v->scan = CS_SCAN_UTF8;
            }
            break;

        case CS_SCAN_UTF8:
            if (c < v->lo || c > v->hi) {
                goto invalid_utf8;
            }

            v->lo = 0x80;
            v->hi = 0xbf;

            if (--v->need == 0) {
                v->scan = CS_SCAN_STR;
            }
            break;

        case CS_SCAN_ESC:
            if (c == 'u') {
                v->scan = CS_SCAN_HEX;
                v->hex = 0;
                v->code = 0;

            } else {
                v->scan = CS_SCAN_STR;
            }
            break;

        case CS_SCAN_HEX:
        case CS_SCAN_LOW_HEX:
            if (c >= '0' && c <= '9') {
                v->code = v->code * 16 + (c - '0');

            } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
                v->code = v->code * 16 + ((c | 0x20) - 'a' + 10);

            } else {
                err = "invalid \\u escape";
                goto failed;
            }

            if (++v->hex < 4) {
                break;
            }

            if (v->scan == CS_SCAN_LOW_HEX) {
                if (v->code < 0xdc00 || v->code > 0xdfff) {
                    goto surrogate;
                }

                v->scan = CS_SCAN_STR;
                break;
            }

            if (v->code == 0) {
                err = "\\u0000 in a string";
                goto failed;
            }

            if (v->code >= 0xdc00 && v->code <= 0xdfff) {
                goto surrogate;
            }

            v->scan = (v->code >= 0xd800 && v->code <= 0xdbff)
                      ? CS_SCAN_LOW_BS : CS_SCAN_STR;
            break;

        case CS_SCAN_LOW_BS:
            if (c != '\\') {
                goto surrogate;
            }

            v->scan = CS_SCAN_LOW_U;
            break;

        case CS_SCAN_LOW_U:
            if (c != 'u') {
                goto surrogate;
            }

            v->scan = CS_SCAN_LOW_HEX;
            v->hex = 0;
            v->code = 0;
            break;
        }
    }

    return len;

invalid_utf8:

    err = "invalid UTF-8 in a string";
    goto failed;

surrogate:

    err = "unpaired surrogate escape in a string";

failed:

    v->scan_err = err;

    return i;
}


static uint64_t
cs_le64(const unsigned char *p)
{
    int       i;
    uint64_t  m;

    m = 0;

    for (i = 7; i >= 0; i--) {
        m = (m << 8) | p[i];
    }

    return m;
}


static uint64_t
cs_rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}


static void
cs_sip_round(uint64_t *v)
{
    v[0] += v[1];
    v[1] = cs_rotl(v[1], 13) ^ v[0];
    v[0] = cs_rotl(v[0], 32);
    v[2] += v[3];
    v[3] = cs_rotl(v[3], 16) ^ v[2];
    v[0] += v[3];
    v[3] = cs_rotl(v[3], 21) ^ v[0];
    v[2] += v[1];
    v[1] = cs_rotl(v[1], 17) ^ v[2];
    v[2] = cs_rotl(v[2], 32);
}


static void
cs_sip_block(uint64_t *v, uint64_t m)
{
    v[3] ^= m;
    cs_sip_round(v);
    cs_sip_round(v);
    v[0] ^= m;
}


/*
 * SipHash-2-4 (Aumasson and Bernstein), keyed with the worker's secret
 * seed: without the seed a client cannot choose keys that share a slot.
 */
static uint64_t
cs_hash(const unsigned char *p, size_t len)
{
    size_t    i, tail;
    uint64_t  v[4], m;

    v[0] = cs_hash_key[0] ^ 0x736f6d6570736575ULL;
    v[1] = cs_hash_key[1] ^ 0x646f72616e646f6dULL;
    v[2] = cs_hash_key[0] ^ 0x6c7967656e657261ULL;
    v[3] = cs_hash_key[1] ^ 0x7465646279746573ULL;

    for (i = 0; i + 8 <= len; i += 8) {
        cs_sip_block(v, cs_le64(p + i));
    }

    m = (uint64_t) len << 56;

    for (tail = 0; i + tail < len; tail++) {
        m |= (uint64_t) p[i + tail] << (8 * tail);
    }

    cs_sip_block(v, m);

    v[2] ^= 0xff;

    for (i = 0; i < 4; i++) {
        cs_sip_round(v);
    }

    return v[0] ^ v[1] ^ v[2] ^ v[3];
}


void
ngx_http_cs_json_seed(const unsigned char key[16])
{
    cs_hash_key[0] = cs_le64(key);
    cs_hash_key[1] = cs_le64(key + 8);
}


/* makes *p hold size bytes, keeping its first used ones */
static int
cs_grow(ngx_http_cs_json_t *v, void **p, size_t used, size_t size)
{
    void  *n;

    n = v->af.malloc(v->af.ctx, size);
    if (n == NULL) {
        cs_nomem(v);
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
static int
cs_reserve(ngx_http_cs_json_t *v, void **p, size_t size, size_t used,
    size_t more, size_t min, size_t *nalloc)
{
    size_t  n;

    if (*p != NULL && *nalloc - used >= more) {
        return 0;
    }

    n = *nalloc ? *nalloc * 2 : min;

    if (n < used + more) {
        n = used + more;
    }

    if (cs_grow(v, p, used * size, n * size) != 0) {
        return -1;
    }

    *nalloc = n;

    return 0;
}


/* room for one more key of len bytes at this depth */
static int
cs_level_reserve(ngx_http_cs_json_t *v, cs_level_t *l, size_t len)
{
    if (l->slot == NULL) {
        if (cs_grow(v, (void **) &l->slot, 0, CS_SLOTS * sizeof(uint16_t))
            != 0)
        {
            return -1;
        }

        memset(l->slot, 0, CS_SLOTS * sizeof(uint16_t));
    }

    if (cs_reserve(v, (void **) &l->key, sizeof(cs_key_t), l->nkeys, 1,
                   CS_KEYS_MIN, &l->nalloc)
        != 0)
    {
        return -1;
    }

    return cs_reserve(v, (void **) &l->bytes, 1, l->used, len, CS_BYTES_MIN,
                      &l->size);
}


/*
 * Remembers a key of the object open at this depth; a duplicate, or a key
 * beyond the cap, ends the body.  The cap is checked first, so that no key
 * past it is ever looked up.
 */
static int
cs_key_add(ngx_http_cs_json_t *v, const unsigned char *key, size_t len)
{
    size_t       i;
    uint64_t     h;
    cs_key_t    *k;
    cs_level_t  *l;

    l = &v->level[v->depth];

    if (l->nkeys == NGX_HTTP_CS_JSON_MAX_KEYS) {
        cs_syntax(v, "an object has more than "
                  CS_XSTR(NGX_HTTP_CS_JSON_MAX_KEYS) " keys");
        return -1;
    }

    if (cs_level_reserve(v, l, len) != 0) {
        return -1;
    }

    h = cs_hash(key, len);

    for (i = h % CS_SLOTS; l->slot[i] != 0; i = (i + 1) % CS_SLOTS) {
        v->probes++;

        k = &l->key[l->slot[i] - 1];

        if (k->hash == h && k->len == len
            && memcmp(l->bytes + k->off, key, len) == 0)
        {
            cs_syntax(v, "duplicate key in an object");
            return -1;
        }
    }

    /* the free slot that ends the search is a probe too */
    v->probes++;

    k = &l->key[l->nkeys];
    k->hash = h;
    k->off = l->used;
    k->len = len;
    k->slot = i;

    memcpy(l->bytes + l->used, key, len);
    l->used += len;
    l->slot[i] = (uint16_t) ++l->nkeys;

    if (++v->held > v->held_max) {
        v->held_max = v->held;
    }

    return 0;
}


/* the object at this depth closed: its keys go, its memory stays */
static void
cs_level_clear(ngx_http_cs_json_t *v, cs_level_t *l)
{
    size_t  i;

    for (i = 0; i < l->nkeys; i++) {
        l->slot[l->key[i].slot] = 0;
    }

    v->held -= l->nkeys;
    l->nkeys = 0;
    l->used = 0;
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


/* keeps a string for the answer, as v->item[*at]; -1 on no memory */
static int
cs_keep(ngx_http_cs_json_t *v, const unsigned char *s, size_t len,
    uint64_t hash, size_t *at)
{
    cs_item_t  *it;

    if (cs_reserve(v, (void **) &v->item, sizeof(cs_item_t), v->nitems, 1,
                   CS_KEYS_MIN, &v->nalloc)
        != 0
        || cs_reserve(v, (void **) &v->bytes, 1, v->used, len, CS_BYTES_MIN,
                      &v->size)
           != 0)
    {
        return -1;
    }

    memcpy(v->bytes + v->used, s, len);

    it = &v->item[v->nitems];
    it->hash = hash;
    it->off = v->used;
    it->len = len;

    v->used += len;
    *at = v->nitems++;

    return 0;
}


/* "<name> must be one of a, b, c": the row's values, as many as fit */
static const char *
cs_one_of(ngx_http_cs_json_t *v, const ngx_http_cs_field_t *row)
{
    int                 n;
    size_t              len;
    const char *const  *p;

    n = snprintf(v->fault, sizeof(v->fault), "%s must be one of", row->name);

    for (len = n, p = row->values; *p != NULL; p++) {
        if (len >= sizeof(v->fault)) {
            break;
        }

        n = snprintf(v->fault + len, sizeof(v->fault) - len, "%s %s",
                     (p == row->values) ? "" : ",", *p);
        len += n;
    }

    return v->fault;
}


/* checks a STRING's value or a STRINGS' item: NULL, or the message */
static const char *
cs_string(ngx_http_cs_json_t *v, const ngx_http_cs_field_t *row,
    const unsigned char *s, size_t len)
{
    const char *const  *p;

    if (row->values != NULL) {
        for (p = row->values; *p != NULL; p++) {
            if (strlen(*p) == len && memcmp(*p, s, len) == 0) {
                break;
            }
        }

        if (*p == NULL) {
            return cs_one_of(v, row);
        }
    }

    return (row->check != NULL) ? row->check(s, len, v->limit) : NULL;
}


/* the row's answer for a value of another type */
static int
cs_type_error(ngx_http_cs_json_t *v, const ngx_http_cs_field_t *row)
{
    switch (row->type) {

    case NGX_HTTP_CS_FT_STRING:
        return cs_field_error(v, "the value must be a string");

    case NGX_HTTP_CS_FT_INTEGER:
        snprintf(v->fault, sizeof(v->fault),
                 "%s must be an integer from %lld to %lld",
                 row->name, row->min, row->max);
        break;

    case NGX_HTTP_CS_FT_BOOLEAN:
        snprintf(v->fault, sizeof(v->fault), "%s must be true or false",
                 row->name);
        break;

    default: /* NGX_HTTP_CS_FT_STRINGS */
        snprintf(v->fault, sizeof(v->fault),
                 "%s must be a list of at most %lld strings",
                 row->name, row->max);
        break;
    }

    return cs_field_error(v, v->fault);
}


/*
 * A JSON number as a long long in [min, max]: digits, with a minus sign
 * maybe; with a fraction or an exponent it is no integer, whatever its
 * value.  -1 when it is not one of them.
 */
static int
cs_integer(const unsigned char *s, size_t len, const ngx_http_cs_field_t *row,
    long long *n)
{
    size_t              i;
    unsigned            d;
    unsigned long long  u, cutoff;

    i = (len > 0 && s[0] == '-') ? 1 : 0;

    if (i == len) {
        return -1;
    }

    /* the magnitude of LLONG_MIN; past it, u stays at cutoff + 1 */
    cutoff = (unsigned long long) LLONG_MAX + 1;

    for (u = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        d = s[i] - '0';
        u = (u > (cutoff - d) / 10) ? cutoff + 1 : u * 10 + d;
    }

    if (s[0] == '-') {
        if (u > cutoff) {
            return -1;
        }

        *n = (u == cutoff) ? LLONG_MIN : -(long long) u;

    } else {
        if (u > (unsigned long long) LLONG_MAX) {
            return -1;
        }

        *n = (long long) u;
    }

    return (*n < row->min || *n > row->max) ? -1 : 0;
}


/* the value of a member of the root object, for its row */
static int
cs_member(ngx_http_cs_json_t *v, const cs_token_t *t)
{
    long long                   n;
    const char                 *err;
    ngx_http_cs_json_value_t   *val;
    const ngx_http_cs_field_t  *row;

    row = &v->schema->fields[v->current];
    val = &v->value[v->current];

    if (t->type == CS_TOKEN_NULL && row->nullable) {
        val->is_null = 1;
        return 1;
    }

    switch (row->type) {

    case NGX_HTTP_CS_FT_STRING:
        if (t->type != CS_TOKEN_STRING) {
            break;
        }

        err = cs_string(v, row, t->s, t->len);
        if (err != NULL) {
            return cs_field_error(v, err) == 0;
        }

        val->str.len = t->len;

        return cs_keep(v, t->s, t->len, 0, &v->first_item[v->current])
               == 0;

    case NGX_HTTP_CS_FT_INTEGER:
        if (t->type != CS_TOKEN_NUMBER
            || cs_integer(t->s, t->len, row, &n) != 0)
        {
            break;
        }

        val->integer = n;
        return 1;

    case NGX_HTTP_CS_FT_BOOLEAN:
        if (t->type != CS_TOKEN_BOOLEAN) {
            break;
        }

        val->boolean = t->boolean;
        return 1;

    default: /* NGX_HTTP_CS_FT_STRINGS */
        if (t->type != CS_TOKEN_ARRAY) {
            break;
        }

        /* its items come at depth 2, until the array ends */
        v->in_list = 1;
        v->first_item[v->current] = v->nitems;
        return 1;
    }

    return cs_type_error(v, row) == 0;
}


/* one item of the STRINGS open at depth 2 */
static int
cs_list_item(ngx_http_cs_json_t *v, const cs_token_t *t)
{
    size_t                      i, at;
    uint64_t                    h;
    cs_item_t                  *it;
    const char                 *err;
    ngx_http_cs_json_value_t   *val;
    const ngx_http_cs_field_t  *row;

    row = &v->schema->fields[v->current];
    val = &v->value[v->current];

    if (t->type != CS_TOKEN_STRING
        || val->nitems >= (unsigned long long) row->max)
    {
        return cs_type_error(v, row) == 0;
    }

    err = cs_string(v, row, t->s, t->len);
    if (err != NULL) {
        return cs_field_error(v, err) == 0;
    }

    /* at most max items: max * max / 2 hashes compared at the most */
    h = cs_hash(t->s, t->len);

    for (i = v->first_item[v->current]; i < v->nitems; i++) {
        it = &v->item[i];

        if (it->hash == h && it->len == t->len
            && memcmp(v->bytes + it->off, t->s, t->len) == 0)
        {
            snprintf(v->fault, sizeof(v->fault), "%s has a value twice",
                     row->name);
            return cs_field_error(v, v->fault) == 0;
        }
    }

    if (cs_keep(v, t->s, t->len, h, &at) != 0) {
        return 0;
    }

    val->nitems++;

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
        return cs_list_item(v, t);
    }

    if (v->depth != 1 || v->current < 0) {
        return 1;
    }

    return cs_member(v, t);
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
        cs_syntax(v, "nesting is deeper than 32 levels");
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

    cs_level_clear(v, &v->level[v->depth]);
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

    if (cs_key_add(v, key, len) != 0) {
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

    good = cs_scan(v, p, len);

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


/* the values of an accepted body: what was kept, and the defaults */
static int
cs_values(ngx_http_cs_json_t *v)
{
    size_t                      f, i;
    ngx_http_cs_json_value_t   *val;
    const ngx_http_cs_field_t  *row;

    if (v->nitems != 0) {
        v->strs = v->af.malloc(v->af.ctx,
                               v->nitems * sizeof(ngx_http_cs_json_str_t));
        if (v->strs == NULL) {
            cs_nomem(v);
            return -1;
        }

        for (i = 0; i < v->nitems; i++) {
            v->strs[i].data = v->bytes + v->item[i].off;
            v->strs[i].len = v->item[i].len;
        }
    }

    for (f = 0; f < v->schema->nfields; f++) {
        row = &v->schema->fields[f];
        val = &v->value[f];

        if (row->type == NGX_HTTP_CS_FT_STRINGS) {
            if (val->nitems != 0) {
                val->items = &v->strs[v->first_item[f]];
            }

            continue;
        }

        if (row->type != NGX_HTTP_CS_FT_STRING || val->is_null) {
            continue;
        }

        if (val->present) {
            val->str = v->strs[v->first_item[f]];

        } else if (row->def != NULL) {
            val->str.data = (const unsigned char *) row->def;
            val->str.len = strlen(row->def);
        }
    }

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

    if (cs_values(v) != 0) {
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
