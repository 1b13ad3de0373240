/*
 * The ticket validator: a streaming yajl parse plus the v1 schema.
 *
 * It depends on yajl and libc only, so that the fuzzer links exactly the
 * code the module runs.  Bytes may be fed in pieces split anywhere.
 */

#ifndef NGX_HTTP_CS_JSON_H_INCLUDED_
#define NGX_HTTP_CS_JSON_H_INCLUDED_


#include <stddef.h>
#include <yajl/yajl_common.h>


#define NGX_HTTP_CS_JSON_MAX_DEPTH    32
#define NGX_HTTP_CS_USER_ID_MAX       128
#define NGX_HTTP_CS_CATEGORY_MAX      64
#define NGX_HTTP_CS_EMAIL_MAX         254
#define NGX_HTTP_CS_FIELD_NAME_MAX    128

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


typedef enum {
    NGX_HTTP_CS_F_USER_ID = 0,
    NGX_HTTP_CS_F_ISSUE,
    NGX_HTTP_CS_F_CATEGORY,
    NGX_HTTP_CS_F_PRIORITY,
    NGX_HTTP_CS_F_CHANNEL,
    NGX_HTTP_CS_F_EMAIL,
    NGX_HTTP_CS_F_COUNT
} ngx_http_cs_field_e;


typedef struct {
    const unsigned char      *data;
    size_t                    len;
} ngx_http_cs_json_str_t;


typedef struct ngx_http_cs_json_s  ngx_http_cs_json_t;


/*
 * The secret key of the duplicate-key hash, for the whole process: each
 * worker sets a random one at start, so that no client can know which keys
 * collide.  Call it before the first body.
 */
void ngx_http_cs_json_seed(const unsigned char key[16]);

/* af may be NULL: yajl's malloc-based allocator is used then */
ngx_http_cs_json_t *ngx_http_cs_json_create(size_t issue_max,
    yajl_alloc_funcs *af);

/* returns 0 while the body may still be valid, -1 once a 400 is decided */
int ngx_http_cs_json_feed(ngx_http_cs_json_t *v, const unsigned char *p,
    size_t len);

/* ends the body and returns the verdict, an ngx_http_cs_json_rc_e */
int ngx_http_cs_json_finish(ngx_http_cs_json_t *v);

const char *ngx_http_cs_json_message(ngx_http_cs_json_t *v);

/* the field at fault, or NULL; valid until ngx_http_cs_json_free() */
const char *ngx_http_cs_json_field(ngx_http_cs_json_t *v);

/* validated values with defaults applied; absent optional ones have len 0 */
const ngx_http_cs_json_str_t *ngx_http_cs_json_value(ngx_http_cs_json_t *v,
    ngx_http_cs_field_e f);

const char *ngx_http_cs_json_field_name(ngx_http_cs_field_e f);

/* the most keys the duplicate check held at once for this body */
size_t ngx_http_cs_json_keys(ngx_http_cs_json_t *v);

/* the hash slots the duplicate check looked at: at least one per key */
size_t ngx_http_cs_json_probes(ngx_http_cs_json_t *v);

void ngx_http_cs_json_free(ngx_http_cs_json_t *v);


#endif /* NGX_HTTP_CS_JSON_H_INCLUDED_ */
