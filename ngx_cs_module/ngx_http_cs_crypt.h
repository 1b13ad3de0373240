/*
 * cs_encrypt_key file [old_file ...]: the customer's words at rest (issue,
 * email, message bodies, feedback comments) as AES-256-GCM, sealed in the
 * worker before a script call and opened in the worker when an answer is
 * made.  See ngx_http_cs_crypt.c for the format and the associated data.
 */

#ifndef NGX_HTTP_CS_CRYPT_H_INCLUDED_
#define NGX_HTTP_CS_CRYPT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_cs_module.h"


#define NGX_HTTP_CS_CRYPT_KEYS_MAX  8


typedef struct {
    u_char                      key[32];
    u_char                      id[8];       /* hex of SHA-256(key)[0..3] */
    u_char                      fp_key[32];  /* for fingerprints, derived */
} ngx_http_cs_crypt_key_t;


/* the first key writes; every key reads */
struct ngx_http_cs_crypt_s {
    ngx_uint_t                  nkeys;
    ngx_http_cs_crypt_key_t     keys[NGX_HTTP_CS_CRYPT_KEYS_MAX];
};


char *ngx_http_cs_encrypt_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* the desk-wide check: the same keys in the same order */
ngx_uint_t ngx_http_cs_crypt_same(void *a, void *b);

/*
 * The scripts' arguments: each replaces the plaintext it seals and appends
 * what its script needs (see the scripts); nothing without cs_encrypt_key.
 * f is the index of the intake's first field (userId), i the index of the
 * message's body or of the feedback's comment.
 */
ngx_int_t ngx_http_cs_crypt_intake_args(ngx_http_request_t *r,
    ngx_array_t *args, ngx_uint_t f);
ngx_int_t ngx_http_cs_crypt_message_args(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, ngx_array_t *args, ngx_uint_t i);
ngx_int_t ngx_http_cs_crypt_feedback_args(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, ngx_array_t *args, ngx_uint_t i);

/* a script's sealed value {"$", ad, value}, opened into the answer */
void ngx_http_cs_crypt_out(ngx_http_cs_out_t *o, struct redisReply *v);


#endif /* NGX_HTTP_CS_CRYPT_H_INCLUDED_ */
