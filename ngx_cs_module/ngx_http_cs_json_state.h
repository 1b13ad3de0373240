/*
 * The body validator's state, shared by its three files and by nothing
 * else (the validator's users include ngx_http_cs_json.h):
 *
 *   ngx_http_cs_json.c       the parse: yajl's callbacks, create, feed,
 *                            finish, the answers and the memory;
 *   ngx_http_cs_json_scan.c  the syntax checks yajl does not make: strict
 *                            UTF-8 and escapes, and duplicate keys;
 *   ngx_http_cs_json_rows.c  the schema's rows: a member's value against
 *                            its row, and the values of an accepted body.
 */

#ifndef NGX_HTTP_CS_JSON_STATE_H_INCLUDED_
#define NGX_HTTP_CS_JSON_STATE_H_INCLUDED_


#include <stdint.h>
#include <yajl/yajl_parse.h>

#include "ngx_http_cs_json.h"


/* the first room of a growing array: keys or items, and bytes */

#define CS_KEYS_MIN     8
#define CS_BYTES_MIN    128


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


/* ngx_http_cs_json.c */
void ngx_http_cs_json_syntax(ngx_http_cs_json_t *v, const char *msg);
void ngx_http_cs_json_nomem(ngx_http_cs_json_t *v);
int ngx_http_cs_json_field_error(ngx_http_cs_json_t *v, const char *msg);
int ngx_http_cs_json_grow(ngx_http_cs_json_t *v, void **p, size_t used,
    size_t size);
int ngx_http_cs_json_reserve(ngx_http_cs_json_t *v, void **p, size_t size,
    size_t used, size_t more, size_t min, size_t *nalloc);

/* ngx_http_cs_json_scan.c */
size_t ngx_http_cs_json_scan(ngx_http_cs_json_t *v, const unsigned char *p,
    size_t len);
uint64_t ngx_http_cs_json_hash(const unsigned char *p, size_t len);
int ngx_http_cs_json_key_add(ngx_http_cs_json_t *v, const unsigned char *key,
    size_t len);
void ngx_http_cs_json_level_clear(ngx_http_cs_json_t *v, cs_level_t *l);

/* ngx_http_cs_json_rows.c */
int ngx_http_cs_json_member(ngx_http_cs_json_t *v, const cs_token_t *t);
int ngx_http_cs_json_list_item(ngx_http_cs_json_t *v, const cs_token_t *t);
int ngx_http_cs_json_values(ngx_http_cs_json_t *v);


#endif /* NGX_HTTP_CS_JSON_STATE_H_INCLUDED_ */
