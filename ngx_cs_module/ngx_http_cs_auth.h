/*
 * Who is calling: the desk's secret, admin keys, customer and agent tokens,
 * and the proof of a user id, all with OpenSSL's libcrypto.
 *
 * Every HMAC under the secret carries its purpose ("ticket", "agent",
 * "user", "key", "pseudonym") as the start of its message, so that no value
 * made for one purpose serves another.
 */

#ifndef NGX_HTTP_CS_AUTH_H_INCLUDED_
#define NGX_HTTP_CS_AUTH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_CS_SECRET_MIN      32
#define NGX_HTTP_CS_MAC_LEN         32
#define NGX_HTTP_CS_MAC_B64_LEN     43      /* base64url of 32 bytes */
#define NGX_HTTP_CS_NONCE_LEN       16
#define NGX_HTTP_CS_NONCE_B64_LEN   22
#define NGX_HTTP_CS_SHA256_HEX_LEN  64

/* a name made with an HMAC keeps its first 16 bytes: 22 of base64url */
#define NGX_HTTP_CS_NAME_LEN        16
#define NGX_HTTP_CS_NAME_B64_LEN    22

/*
 * The key of the user key names of a desk without cs_secret: public, so
 * such names hide a user id from a glance at the key space, not from
 * anyone who can guess the id.
 */
#define NGX_HTTP_CS_USER_KEY_PUBLIC  "ngx_cs_module user keys: no cs_secret"


typedef enum {
    NGX_HTTP_CS_ROLE_NONE = 0,
    NGX_HTTP_CS_ROLE_CUSTOMER = 1,
    NGX_HTTP_CS_ROLE_AGENT = 2,
    NGX_HTTP_CS_ROLE_ADMIN = 4
} ngx_http_cs_role_e;


/* the current secret and, while tokens made under it live, the old one */
typedef struct {
    ngx_str_t                   current;
    ngx_str_t                   old;         /* len 0 when none */
    ngx_str_t                   file;        /* for the desk-wide check */
} ngx_http_cs_secret_t;


typedef struct {
    ngx_str_t                   name;
    u_char                      digest[32];  /* SHA-256 of the key */
} ngx_http_cs_admin_key_t;


/* a key and a purpose whose HMAC state the workers build at their start */
typedef struct {
    ngx_str_t                   key;
    const char                 *purpose;     /* NULL: no prefix */
} ngx_http_cs_hmac_pair_t;


/* the caller a bearer token names */
typedef struct {
    ngx_http_cs_role_e          role;
    ngx_str_t                   name;        /* agent or admin name */
    ngx_str_t                   ticket;      /* a customer's ticket id */
    ngx_str_t                   nonce;       /* checked by the script */
    ngx_str_t                   token_hash;  /* an agent's, hex */
} ngx_http_cs_caller_t;


/*
 * reads a small file whole, at configuration time; what names it
 * (ngx_http_cs_crypt.c, with the other key files)
 */
char *ngx_http_cs_read_conf_file(ngx_conf_t *cf, ngx_str_t *file,
    ngx_str_t *out, const char *what);

char *ngx_http_cs_read_secret(ngx_conf_t *cf, ngx_str_t *file,
    ngx_str_t *out);
char *ngx_http_cs_read_admin_keys(ngx_conf_t *cf, ngx_str_t *file,
    ngx_array_t **keys);

/*
 * At configuration time: a (key, purpose) pair whose HMAC state each
 * worker hashes when it starts (purpose NULL: HMACs of no prefix); the key
 * must live as long as the cycle
 */
ngx_int_t ngx_http_cs_hmac_register(ngx_conf_t *cf, ngx_str_t *key,
    const char *purpose);

/* builds the registered pairs' states; in a worker's init_process */
ngx_int_t ngx_http_cs_hmac_init_process(ngx_cycle_t *cycle);

/* HMAC-SHA256 of msg under key, no prefix: from a pair (key, NULL) */
ngx_int_t ngx_http_cs_hmac_raw(ngx_str_t *key, u_char *msg, size_t len,
    u_char *out);

/* HMAC-SHA256 of purpose ":" parts..., under key */
ngx_int_t ngx_http_cs_hmac(ngx_pool_t *pool, ngx_str_t *key,
    const char *purpose, ngx_str_t *parts, ngx_uint_t nparts, u_char *out);

/* base64url of the HMAC, NGX_HTTP_CS_MAC_B64_LEN bytes, from r's pool */
ngx_int_t ngx_http_cs_hmac_b64(ngx_pool_t *pool, ngx_str_t *key,
    const char *purpose, ngx_str_t *parts, ngx_uint_t nparts,
    ngx_str_t *out);

/*
 * The first NGX_HTTP_CS_NAME_LEN bytes of the HMAC of purpose ":" in, in
 * base64url: a stable name for a value that does not show the value
 */
ngx_int_t ngx_http_cs_hmac_name(ngx_pool_t *pool, ngx_str_t *key,
    const char *purpose, ngx_str_t *in, ngx_str_t *out);

/* a fresh random nonce, base64url (ngx_http_cs_crypt.c) */
ngx_int_t ngx_http_cs_nonce(ngx_pool_t *pool, ngx_str_t *out);

/* "c.<id>.<nonce>.<mac>", the customer's token for one ticket */
ngx_int_t ngx_http_cs_ticket_token(ngx_pool_t *pool,
    ngx_http_cs_secret_t *secret, ngx_str_t *prefix, ngx_str_t *id,
    ngx_str_t *nonce, ngx_str_t *token);

/* "a.<name>.<random>.<mac>", a new agent token, and its SHA-256 in hex */
ngx_int_t ngx_http_cs_agent_token(ngx_pool_t *pool,
    ngx_http_cs_secret_t *secret, ngx_str_t *prefix, ngx_str_t *name,
    ngx_str_t *token, ngx_str_t *hash);

/*
 * Reads "Authorization: Bearer <token>": NGX_OK with the caller, or
 * NGX_DECLINED when the credentials are missing or wrong (401).
 */
ngx_int_t ngx_http_cs_authenticate(ngx_http_request_t *r,
    ngx_http_cs_secret_t *secret, ngx_array_t *admin_keys,
    ngx_str_t *prefix, ngx_http_cs_caller_t *caller);

/* compares in constant time; 1 when equal */
ngx_uint_t ngx_http_cs_equal(const u_char *a, const u_char *b, size_t len);


#endif /* NGX_HTTP_CS_AUTH_H_INCLUDED_ */
