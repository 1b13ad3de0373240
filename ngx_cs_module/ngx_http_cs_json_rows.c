/*
 * The body validator's schema rows (see ngx_http_cs_json.h for what a row
 * takes and answers): a member of the root object against its row, the
 * items of a STRINGS list, and the values of an accepted body.  A schema
 * error is only remembered (ngx_http_cs_json_field_error), because a later
 * syntax error takes precedence over it.
 */

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ngx_http_cs_json_state.h"


/* keeps a string for the answer, as v->item[*at]; -1 on no memory */
static int
cs_keep(ngx_http_cs_json_t *v, const unsigned char *s, size_t len,
    uint64_t hash, size_t *at)
{
    cs_item_t  *it;

    if (ngx_http_cs_json_reserve(v, (void **) &v->item, sizeof(cs_item_t),
                                 v->nitems, 1, CS_KEYS_MIN, &v->nalloc)
        != 0
        || ngx_http_cs_json_reserve(v, (void **) &v->bytes, 1, v->used, len,
                                    CS_BYTES_MIN, &v->size)
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
        return ngx_http_cs_json_field_error(v, "the value must be a string");

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

    return ngx_http_cs_json_field_error(v, v->fault);
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
int
ngx_http_cs_json_member(ngx_http_cs_json_t *v, const cs_token_t *t)
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
            return ngx_http_cs_json_field_error(v, err) == 0;
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
int
ngx_http_cs_json_list_item(ngx_http_cs_json_t *v, const cs_token_t *t)
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
        return ngx_http_cs_json_field_error(v, err) == 0;
    }

    /* at most max items: max * max / 2 hashes compared at the most */
    h = ngx_http_cs_json_hash(t->s, t->len);

    for (i = v->first_item[v->current]; i < v->nitems; i++) {
        it = &v->item[i];

        if (it->hash == h && it->len == t->len
            && memcmp(v->bytes + it->off, t->s, t->len) == 0)
        {
            snprintf(v->fault, sizeof(v->fault), "%s has a value twice",
                     row->name);
            return ngx_http_cs_json_field_error(v, v->fault) == 0;
        }
    }

    if (cs_keep(v, t->s, t->len, h, &at) != 0) {
        return 0;
    }

    val->nitems++;

    return 1;
}


/* the values of an accepted body: what was kept, and the defaults */
int
ngx_http_cs_json_values(ngx_http_cs_json_t *v)
{
    size_t                      f, i;
    ngx_http_cs_json_value_t   *val;
    const ngx_http_cs_field_t  *row;

    if (v->nitems != 0) {
        v->strs = v->af.malloc(v->af.ctx,
                               v->nitems * sizeof(ngx_http_cs_json_str_t));
        if (v->strs == NULL) {
            ngx_http_cs_json_nomem(v);
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
