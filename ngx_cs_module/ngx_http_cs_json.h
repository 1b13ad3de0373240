/*
 * The body validator: a streaming yajl parse plus a schema of field rows.
 *
 * It depends on yajl and libc only, so that the fuzzer and the unit tests
 * link exactly the code the module runs.  Bytes may be fed in pieces split
 * anywhere.
 *
 * A schema is data: one row per top-level member of the body's object, in
 * the order in which missing fields are reported.  The verdicts, for every
 * schema alike:
 *
 *   - a syntax error anywhere in the body is 400 invalid_json, whatever
 *     schema error came before it;
 *   - otherwise the first member at fault in body order answers: a name no
 *     row has is unknown_field ("unknown field"), a value its row refuses is
 *     invalid_field (the row's message);
 *   - otherwise the first required row without a member, in schema order,
 *     is missing_field ("a required field is missing").
 *
 * Only the members of the root object are checked; what is nested in their
 * values is only parsed, but for the items of a STRINGS list.
 */

#ifndef NGX_HTTP_CS_JSON_H_INCLUDED_
#define NGX_HTTP_CS_JSON_H_INCLUDED_


#include <stddef.h>
#include <yajl/yajl_common.h>


#define NGX_HTTP_CS_JSON_MAX_DEPTH    32
#define NGX_HTTP_CS_FIELD_NAME_MAX    128

/* the rows of one schema: its fields' presence is one 32-bit mask */
#define NGX_HTTP_CS_JSON_MAX_FIELDS   32

/*
 * A ticket has 6 fields.  The cap bounds what any one object can cost the
 * duplicate-key check, in memory and in probes, whatever its keys; beyond
 * it the body is invalid JSON.
 */
#define NGX_HTTP_CS_JSON_MAX_KEYS     256


typedef enum {
    NGX_HTTP_CS_JSON_OK = 0,
    NGX_HTTP_CS_JSON_SYNTAX,          /* 400 invalid_json */
    NGX_HTTP_CS_JSON_MISSING,         /* 422 missing_field */
    NGX_HTTP_CS_JSON_INVALID,         /* 422 invalid_field */
    NGX_HTTP_CS_JSON_UNKNOWN,         /* 422 unknown_field */
    NGX_HTTP_CS_JSON_NOMEM
} ngx_http_cs_json_rc_e;


/*
 * What a row takes, and what it answers (invalid_field) for a value of
 * another type: "the value must be a string"; "<name> must be an integer
 * from <min> to <max>"; "<name> must be true or false"; "<name> must be a
 * list of at most <max> strings".  null is a value of the row's type when
 * the row is nullable.
 */
typedef enum {
    NGX_HTTP_CS_FT_STRING = 0,        /* a string, checked by check */
    NGX_HTTP_CS_FT_INTEGER,           /* in [min, max]; 1.0 and 1e2 are not */
    NGX_HTTP_CS_FT_BOOLEAN,
    NGX_HTTP_CS_FT_STRINGS            /* at most max strings, each checked by
                                         check, none twice ("<name> has a
                                         value twice") */
} ngx_http_cs_field_type_e;


/*
 * Checks one decoded string (a STRING's value, a STRINGS' item): NULL when
 * good, else the answer's message.  limit is the location's
 * cs_issue_max_length.
 */
typedef const char *(*ngx_http_cs_check_pt)(const unsigned char *s,
    size_t len, size_t limit);


/*
 * A string (a STRING's value, a STRINGS' item) must be one of values, when
 * the row has them ("<name> must be one of a, b, c"), then pass check, when
 * the row has one.
 */
typedef struct {
    const char                 *name;
    ngx_http_cs_field_type_e    type;
    unsigned                    required:1;
    unsigned                    nullable:1;
    long long                   min;       /* INTEGER */
    long long                   max;       /* INTEGER; STRINGS: most items */
    ngx_http_cs_check_pt        check;     /* NULL: any string */
    const char *const          *values;    /* NULL-terminated, or NULL */
    const char                 *def;       /* an absent STRING's, or NULL */
} ngx_http_cs_field_t;


typedef struct {
    const ngx_http_cs_field_t  *fields;
    size_t                      nfields;   /* NGX_HTTP_CS_JSON_MAX_FIELDS */
} ngx_http_cs_schema_t;


typedef struct {
    const unsigned char        *data;
    size_t                      len;
} ngx_http_cs_json_str_t;


/*
 * A field's value in an accepted body.  An absent field has present 0, its
 * STRING the row's default (or len 0 and data NULL) and no items.
 */
typedef struct {
    unsigned                    present:1;
    unsigned                    is_null:1;
    ngx_http_cs_json_str_t      str;       /* STRING */
    long long                   integer;   /* INTEGER */
    int                         boolean;   /* BOOLEAN: 0 or 1 */
    ngx_http_cs_json_str_t     *items;     /* STRINGS, in body order */
    size_t                      nitems;
} ngx_http_cs_json_value_t;


typedef struct ngx_http_cs_json_s  ngx_http_cs_json_t;


/*
 * The secret key of the duplicate-key hash, for the whole process: each
 * worker sets a random one at start, so that no client can know which keys
 * collide.  Call it before the first body.
 */
void ngx_http_cs_json_seed(const unsigned char key[16]);

/*
 * The schema must outlive the validator.  af may be NULL: yajl's
 * malloc-based allocator is used then.
 */
ngx_http_cs_json_t *ngx_http_cs_json_create(
    const ngx_http_cs_schema_t *schema, size_t limit, yajl_alloc_funcs *af);

/* returns 0 while the body may still be valid, -1 once a 400 is decided */
int ngx_http_cs_json_feed(ngx_http_cs_json_t *v, const unsigned char *p,
    size_t len);

/* ends the body and returns the verdict, an ngx_http_cs_json_rc_e */
int ngx_http_cs_json_finish(ngx_http_cs_json_t *v);

const char *ngx_http_cs_json_message(ngx_http_cs_json_t *v);

/* the field at fault, or NULL; valid until ngx_http_cs_json_free() */
const char *ngx_http_cs_json_field(ngx_http_cs_json_t *v);

/*
 * The value of the schema's row number field, once finish() accepted the
 * body; valid until ngx_http_cs_json_free().
 */
const ngx_http_cs_json_value_t *ngx_http_cs_json_get(ngx_http_cs_json_t *v,
    size_t field);

/* the same row's STRING: ngx_http_cs_json_get(v, field)->str */
const ngx_http_cs_json_str_t *ngx_http_cs_json_value(ngx_http_cs_json_t *v,
    size_t field);

/* the most keys the duplicate check held at once for this body */
size_t ngx_http_cs_json_keys(ngx_http_cs_json_t *v);

/* the hash slots the duplicate check looked at: at least one per key */
size_t ngx_http_cs_json_probes(ngx_http_cs_json_t *v);

void ngx_http_cs_json_free(ngx_http_cs_json_t *v);


#endif /* NGX_HTTP_CS_JSON_H_INCLUDED_ */
