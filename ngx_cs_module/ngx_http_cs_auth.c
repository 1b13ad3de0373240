/*
 * Secrets, keys and tokens.  Files are read when the configuration is
 * read, never on a request path.  No secret, key or token is ever logged:
 * messages name the file, never its content.
 *
 * Tokens:
 *   customer  c.<ticket id>.<nonce>.<mac>   mac: "ticket", prefix, id, nonce
 *   agent     a.<name>.<random>.<mac>       mac: "agent", prefix, name, random
 * The MAC is checked before anything is looked up, under the current secret
 * and then the old one; the script then checks what only Redis knows (the
 * ticket's nonce, the agent's current token), so that a token never opens a
 * ticket that reused its id, and a replaced agent token stops working.
 * Anything else is taken as an admin key and looked up by its SHA-256.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "ngx_http_cs_module.h"
#include "ngx_http_cs_auth.h"
#include "ngx_http_cs_schema.h"


#define NGX_HTTP_CS_HMAC_STACK    512


/* what a secret signs (auth.h) */
static const char  *ngx_http_cs_secret_purposes[] = {
    "ticket", "agent", "user", "key", "pseudonym", NULL
};


char *
ngx_http_cs_read_secret(ngx_conf_t *cf, ngx_str_t *file, ngx_str_t *out)
{
    char        *rv;
    ngx_uint_t   i;

    rv = ngx_http_cs_read_conf_file(cf, file, out, "cs_secret");
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /* "openssl rand -hex 32 > file" leaves a newline that is not secret */
    if (out->len > 0 && out->data[out->len - 1] == '\n') {
        out->len--;

        if (out->len > 0 && out->data[out->len - 1] == '\r') {
            out->len--;
        }
    }

    if (out->len < NGX_HTTP_CS_SECRET_MIN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cs_secret file \"%V\" holds %uz bytes; it needs "
                           "at least %d random bytes (openssl rand -hex 32)",
                           file, out->len, NGX_HTTP_CS_SECRET_MIN);
        return NGX_CONF_ERROR;
    }

    /* the workers hash its states when they start */
    for (i = 0; ngx_http_cs_secret_purposes[i] != NULL; i++) {
        if (ngx_http_cs_hmac_register(cf, out,
                                      ngx_http_cs_secret_purposes[i])
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


char *
ngx_http_cs_read_admin_keys(ngx_conf_t *cf, ngx_str_t *file,
    ngx_array_t **keys)
{
    char                     *rv;
    u_char                   *p, *end, *eol, *sp;
    ngx_int_t                 hi, lo;
    ngx_str_t                 text, hex;
    ngx_uint_t                line, i;
    ngx_http_cs_admin_key_t  *k;

    rv = ngx_http_cs_read_conf_file(cf, file, &text, "cs_admin_keys");
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    *keys = ngx_array_create(cf->pool, 4, sizeof(ngx_http_cs_admin_key_t));
    if (*keys == NULL) {
        return NGX_CONF_ERROR;
    }

    p = text.data;
    end = text.data + text.len;

    for (line = 1; p < end; line++, p = eol + 1) {
        eol = ngx_strlchr(p, end, '\n');
        if (eol == NULL) {
            eol = end;
        }

        /* a blank line or a comment */
        while (p < eol && (*p == ' ' || *p == '\t' || *p == '\r')) {
            p++;
        }

        if (p == eol || *p == '#') {
            continue;
        }

        hex.data = p;
        hex.len = eol - p;

        while (hex.len > 0 && (hex.data[hex.len - 1] == ' '
                               || hex.data[hex.len - 1] == '\t'
                               || hex.data[hex.len - 1] == '\r'))
        {
            hex.len--;
        }

        k = ngx_array_push(*keys);
        if (k == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_str_set(&k->name, "admin");

        sp = ngx_strlchr(hex.data, hex.data + hex.len, ' ');
        if (sp != NULL) {
            k->name.data = hex.data;
            k->name.len = sp - hex.data;

            while (sp < hex.data + hex.len && *sp == ' ') {
                sp++;
            }

            hex.len -= sp - hex.data;
            hex.data = sp;

            if (!ngx_http_cs_agent_name_ok(k->name.data, k->name.len)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "cs_admin_keys file \"%V\", line %ui: "
                                   "an admin name is 1 to 64 of "
                                   "[A-Za-z0-9_.-]", file, line);
                return NGX_CONF_ERROR;
            }
        }

        if (hex.len != NGX_HTTP_CS_SHA256_HEX_LEN) {
            goto invalid;
        }

        for (i = 0; i < 32; i++) {
            hi = ngx_hextoi(&hex.data[2 * i], 1);
            lo = ngx_hextoi(&hex.data[2 * i + 1], 1);

            if (hi == NGX_ERROR || lo == NGX_ERROR) {
                goto invalid;
            }

            k->digest[i] = (u_char) (hi * 16 + lo);
        }

        continue;

    invalid:

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cs_admin_keys file \"%V\", line %ui: expected "
                           "\"[name ]sha256hex\" with 64 hex characters "
                           "(printf %%s \"$KEY\" | sha256sum)", file, line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_uint_t
ngx_http_cs_equal(const u_char *a, const u_char *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}


/*
 * HMAC-SHA256 from states hashed once per worker: the key's outer state,
 * and its inner state with the purpose's "purpose:" already in it, so that
 * a call copies two states and hashes the parts and the inner digest (no
 * key schedule, no digest fetched by name, nothing allocated).
 *
 * The pairs are known from the configuration: cs_secret registers its
 * secrets under every purpose, cs_encrypt_key its fingerprint key, and the
 * public key of user names without cs_secret is always there.  Each
 * worker builds their states when it starts (init_process), so a request
 * never allocates one.  A state keeps a copy of its key, so that a key at
 * the same address after a reload is never mistaken for an old one.  A
 * pair not built at the start takes HMAC() (no state): past
 * NGX_HTTP_CS_HMAC_STATES pairs, or under "master_process off" after a
 * reload, whose new configuration no process starts with.
 */
#define NGX_HTTP_CS_HMAC_STATES   32
#define NGX_HTTP_CS_SHA256_BLOCK  64

typedef struct {
    u_char              *key;
    size_t               key_len;
    const char          *purpose;    /* NULL: no prefix */
    EVP_MD_CTX          *inner;
    EVP_MD_CTX          *outer;
} ngx_http_cs_hmac_state_t;

static ngx_http_cs_hmac_state_t  ngx_http_cs_hmac_states[
                                     NGX_HTTP_CS_HMAC_STATES];
static ngx_uint_t                ngx_http_cs_hmac_nstates;
static EVP_MD_CTX               *ngx_http_cs_hmac_work;


ngx_int_t
ngx_http_cs_hmac_register(ngx_conf_t *cf, ngx_str_t *key,
    const char *purpose)
{
    ngx_http_cs_hmac_pair_t  *pair;
    ngx_http_cs_main_conf_t  *cmcf;

    /* a pair registered twice is built once */
    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_cs_module);

    if (cmcf->hmac_pairs == NULL) {
        cmcf->hmac_pairs = ngx_array_create(cf->pool, 8,
                                            sizeof(ngx_http_cs_hmac_pair_t));
        if (cmcf->hmac_pairs == NULL) {
            return NGX_ERROR;
        }
    }

    pair = ngx_array_push(cmcf->hmac_pairs);
    if (pair == NULL) {
        return NGX_ERROR;
    }

    pair->key = *key;
    pair->purpose = purpose;

    return NGX_OK;
}


/* with the cycle's pool, before the module is unloaded */
static void
ngx_http_cs_hmac_states_free(void *data)
{
    ngx_uint_t                 i;
    ngx_http_cs_hmac_state_t  *st;

    for (i = 0; i < ngx_http_cs_hmac_nstates; i++) {
        st = &ngx_http_cs_hmac_states[i];

        OPENSSL_cleanse(st->key, st->key_len);
        ngx_free(st->key);
        EVP_MD_CTX_free(st->inner);
        EVP_MD_CTX_free(st->outer);
        ngx_memzero(st, sizeof(ngx_http_cs_hmac_state_t));
    }

    ngx_http_cs_hmac_nstates = 0;

    EVP_MD_CTX_free(ngx_http_cs_hmac_work);
    ngx_http_cs_hmac_work = NULL;
}


static ngx_http_cs_hmac_state_t *
ngx_http_cs_hmac_state(ngx_str_t *key, const char *purpose)
{
    ngx_uint_t                 i;
    ngx_http_cs_hmac_state_t  *st;

    for (i = 0; i < ngx_http_cs_hmac_nstates; i++) {
        st = &ngx_http_cs_hmac_states[i];

        if (st->key_len == key->len
            && (st->purpose == purpose
                || (st->purpose != NULL && purpose != NULL
                    && ngx_strcmp(st->purpose, purpose) == 0))
            && ngx_memcmp(st->key, key->data, key->len) == 0)
        {
            return st;
        }
    }

    return NULL;
}


/* the state of (key, purpose), made when a worker starts */
static ngx_int_t
ngx_http_cs_hmac_build(ngx_log_t *log, ngx_str_t *key, const char *purpose)
{
    u_char                     block[NGX_HTTP_CS_SHA256_BLOCK];
    u_char                     pad[NGX_HTTP_CS_SHA256_BLOCK];
    ngx_uint_t                 i;
    unsigned int               dlen;
    const EVP_MD              *md;
    ngx_http_cs_hmac_state_t  *st;

    if (ngx_http_cs_hmac_state(key, purpose) != NULL
        || ngx_http_cs_hmac_nstates == NGX_HTTP_CS_HMAC_STATES)
    {
        return NGX_OK;
    }

    md = EVP_sha256();

    /* counted at once: the cycle's cleanup frees what it holds */
    st = &ngx_http_cs_hmac_states[ngx_http_cs_hmac_nstates++];
    ngx_memzero(st, sizeof(ngx_http_cs_hmac_state_t));
    ngx_memzero(block, sizeof(block));

    /* a key longer than a block is its digest (RFC 2104) */
    if (key->len > NGX_HTTP_CS_SHA256_BLOCK) {
        if (EVP_Digest(key->data, key->len, block, &dlen, md, NULL) != 1) {
            return NGX_ERROR;
        }

    } else {
        ngx_memcpy(block, key->data, key->len);
    }

    st->key = ngx_alloc(key->len + 1, log);
    st->purpose = purpose;
    st->inner = EVP_MD_CTX_new();
    st->outer = EVP_MD_CTX_new();

    if (st->key == NULL || st->inner == NULL || st->outer == NULL) {
        goto failed;
    }

    ngx_memcpy(st->key, key->data, key->len);

    for (i = 0; i < NGX_HTTP_CS_SHA256_BLOCK; i++) {
        pad[i] = block[i] ^ 0x36;
    }

    if (EVP_DigestInit_ex(st->inner, md, NULL) != 1
        || EVP_DigestUpdate(st->inner, pad, sizeof(pad)) != 1
        || (purpose != NULL
            && (EVP_DigestUpdate(st->inner, purpose, ngx_strlen(purpose))
                != 1
                || EVP_DigestUpdate(st->inner, ":", 1) != 1)))
    {
        goto failed;
    }

    for (i = 0; i < NGX_HTTP_CS_SHA256_BLOCK; i++) {
        pad[i] = block[i] ^ 0x5c;
    }

    if (EVP_DigestInit_ex(st->outer, md, NULL) != 1
        || EVP_DigestUpdate(st->outer, pad, sizeof(pad)) != 1)
    {
        goto failed;
    }

    /* whole: now a pair may match it */
    st->key_len = key->len;

    OPENSSL_cleanse(block, sizeof(block));
    OPENSSL_cleanse(pad, sizeof(pad));

    return NGX_OK;

failed:

    if (st->key != NULL) {
        OPENSSL_cleanse(st->key, key->len);
    }

    OPENSSL_cleanse(block, sizeof(block));
    OPENSSL_cleanse(pad, sizeof(pad));

    return NGX_ERROR;
}


ngx_int_t
ngx_http_cs_hmac_init_process(ngx_cycle_t *cycle)
{
    ngx_str_t                 public;
    ngx_uint_t                i;
    ngx_pool_cleanup_t       *cln;
    ngx_http_cs_hmac_pair_t  *pair;
    ngx_http_cs_main_conf_t  *cmcf;

    cmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_cs_module);
    if (cmcf == NULL) {
        return NGX_OK;
    }

    cln = ngx_pool_cleanup_add(cycle->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    ngx_http_cs_hmac_work = EVP_MD_CTX_new();
    if (ngx_http_cs_hmac_work == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_cs_hmac_states_free;

    if (cmcf->hmac_pairs != NULL) {
        pair = cmcf->hmac_pairs->elts;

        for (i = 0; i < cmcf->hmac_pairs->nelts; i++) {
            if (ngx_http_cs_hmac_build(cycle->log, &pair[i].key,
                                       pair[i].purpose)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    ngx_str_set(&public, NGX_HTTP_CS_USER_KEY_PUBLIC);

    return ngx_http_cs_hmac_build(cycle->log, &public, "key");
}


/* HMAC-SHA256 of [purpose ":"] msg; msg starts after the prefix */
static ngx_int_t
ngx_http_cs_hmac_msg(ngx_str_t *key, const char *purpose, u_char *msg,
    size_t prefix, size_t len, u_char *out)
{
    u_char                     inner[NGX_HTTP_CS_MAC_LEN];
    EVP_MD_CTX                *work;
    unsigned int               mlen;
    ngx_http_cs_hmac_state_t  *st;

    mlen = NGX_HTTP_CS_MAC_LEN;

    st = ngx_http_cs_hmac_state(key, purpose);

    if (st == NULL) {
        if (HMAC(EVP_sha256(), key->data, (int) key->len, msg, len, out,
                 &mlen)
            == NULL)
        {
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    /* the prefix is in the inner state already */
    work = ngx_http_cs_hmac_work;

    if (EVP_MD_CTX_copy_ex(work, st->inner) != 1
        || EVP_DigestUpdate(work, msg + prefix, len - prefix) != 1
        || EVP_DigestFinal_ex(work, inner, &mlen) != 1
        || EVP_MD_CTX_copy_ex(work, st->outer) != 1
        || EVP_DigestUpdate(work, inner, sizeof(inner)) != 1
        || EVP_DigestFinal_ex(work, out, &mlen) != 1)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_cs_hmac_raw(ngx_str_t *key, u_char *msg, size_t len, u_char *out)
{
    return ngx_http_cs_hmac_msg(key, NULL, msg, 0, len, out);
}


ngx_int_t
ngx_http_cs_hmac(ngx_pool_t *pool, ngx_str_t *key, const char *purpose,
    ngx_str_t *parts, ngx_uint_t nparts, u_char *out)
{
    u_char      *msg, *p, buf[NGX_HTTP_CS_HMAC_STACK];
    size_t       len;
    ngx_uint_t   i;

    len = ngx_strlen(purpose) + 1 + nparts;
    for (i = 0; i < nparts; i++) {
        len += parts[i].len;
    }

    if (len <= sizeof(buf)) {
        msg = buf;

    } else {
        msg = ngx_pnalloc(pool, len);
        if (msg == NULL) {
            return NGX_ERROR;
        }
    }

    /*
     * purpose ":" part "." part ...: the parts of a token are the prefix,
     * the id or name, and a random part of fixed length, so their joins
     * cannot be confused
     */
    p = ngx_cpymem(msg, purpose, ngx_strlen(purpose));
    *p++ = ':';

    for (i = 0; i < nparts; i++) {
        if (i > 0) {
            *p++ = '.';
        }

        p = ngx_cpymem(p, parts[i].data, parts[i].len);
    }

    return ngx_http_cs_hmac_msg(key, purpose, msg, ngx_strlen(purpose) + 1,
                                p - msg, out);
}


ngx_int_t
ngx_http_cs_hmac_b64(ngx_pool_t *pool, ngx_str_t *key, const char *purpose,
    ngx_str_t *parts, ngx_uint_t nparts, ngx_str_t *out)
{
    u_char     mac[NGX_HTTP_CS_MAC_LEN];
    ngx_str_t  src;

    if (ngx_http_cs_hmac(pool, key, purpose, parts, nparts, mac) != NGX_OK) {
        return NGX_ERROR;
    }

    out->data = ngx_pnalloc(pool, ngx_base64_encoded_length(sizeof(mac)));
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    src.data = mac;
    src.len = sizeof(mac);

    ngx_encode_base64url(out, &src);

    return NGX_OK;
}


ngx_int_t
ngx_http_cs_hmac_name(ngx_pool_t *pool, ngx_str_t *key, const char *purpose,
    ngx_str_t *in, ngx_str_t *out)
{
    u_char     mac[NGX_HTTP_CS_MAC_LEN];
    ngx_str_t  src;

    if (ngx_http_cs_hmac(pool, key, purpose, in, 1, mac) != NGX_OK) {
        return NGX_ERROR;
    }

    out->data = ngx_pnalloc(pool,
                            ngx_base64_encoded_length(NGX_HTTP_CS_NAME_LEN));
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    src.data = mac;
    src.len = NGX_HTTP_CS_NAME_LEN;

    ngx_encode_base64url(out, &src);

    return NGX_OK;
}


ngx_int_t
ngx_http_cs_ticket_token(ngx_pool_t *pool, ngx_http_cs_secret_t *secret,
    ngx_str_t *prefix, ngx_str_t *id, ngx_str_t *nonce, ngx_str_t *token)
{
    u_char     *p;
    ngx_str_t   mac, parts[3];

    parts[0] = *prefix;
    parts[1] = *id;
    parts[2] = *nonce;

    if (ngx_http_cs_hmac_b64(pool, &secret->current, "ticket", parts, 3,
                             &mac)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    token->len = sizeof("c...") - 1 + id->len + nonce->len + mac.len;
    token->data = ngx_pnalloc(pool, token->len);
    if (token->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(token->data, "c.%V.%V.%V", id, nonce, &mac);
    token->len = p - token->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_cs_agent_token(ngx_pool_t *pool, ngx_http_cs_secret_t *secret,
    ngx_str_t *prefix, ngx_str_t *name, ngx_str_t *token, ngx_str_t *hash)
{
    u_char     *p, digest[SHA256_DIGEST_LENGTH];
    ngx_str_t   rand, mac, parts[3];

    if (ngx_http_cs_nonce(pool, &rand) != NGX_OK) {
        return NGX_ERROR;
    }

    parts[0] = *prefix;
    parts[1] = *name;
    parts[2] = rand;

    if (ngx_http_cs_hmac_b64(pool, &secret->current, "agent", parts, 3, &mac)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    token->len = sizeof("a...") - 1 + name->len + rand.len + mac.len;
    token->data = ngx_pnalloc(pool, token->len);
    hash->data = ngx_pnalloc(pool, 2 * SHA256_DIGEST_LENGTH);
    if (token->data == NULL || hash->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(token->data, "a.%V.%V.%V", name, &rand, &mac);
    token->len = p - token->data;

    /* Redis keeps only this */
    SHA256(token->data, token->len, digest);
    hash->len = ngx_hex_dump(hash->data, digest, sizeof(digest)) - hash->data;

    return NGX_OK;
}


/* the MAC of a token's parts under the current or the old secret */
static ngx_int_t
ngx_http_cs_mac_ok(ngx_pool_t *pool, ngx_http_cs_secret_t *secret,
    const char *purpose, ngx_str_t *parts, ngx_uint_t nparts,
    ngx_str_t *mac_b64)
{
    u_char     want[NGX_HTTP_CS_MAC_LEN], got[NGX_HTTP_CS_MAC_LEN + 3];
    ngx_str_t  dst;

    if (mac_b64->len != NGX_HTTP_CS_MAC_B64_LEN) {
        return 0;
    }

    dst.data = got;
    if (ngx_decode_base64url(&dst, mac_b64) != NGX_OK
        || dst.len != NGX_HTTP_CS_MAC_LEN)
    {
        return 0;
    }

    if (ngx_http_cs_hmac(pool, &secret->current, purpose, parts, nparts,
                         want)
        == NGX_OK
        && ngx_http_cs_equal(want, got, NGX_HTTP_CS_MAC_LEN))
    {
        return 1;
    }

    return secret->old.len > 0
           && ngx_http_cs_hmac(pool, &secret->old, purpose, parts, nparts,
                               want)
              == NGX_OK
           && ngx_http_cs_equal(want, got, NGX_HTTP_CS_MAC_LEN);
}


/*
 * Splits "k.<who>.<random>.<mac>" from the right: the MAC and the random
 * part have fixed lengths, and an agent's name may hold dots.
 */
static ngx_int_t
ngx_http_cs_token_fields(ngx_str_t *token, ngx_str_t *f)
{
    size_t   tail;
    u_char  *p;

    tail = 1 + NGX_HTTP_CS_NONCE_B64_LEN + 1 + NGX_HTTP_CS_MAC_B64_LEN;

    if (token->len < 2 + 1 + tail) {
        return NGX_DECLINED;
    }

    p = token->data + token->len - tail;

    if (p[0] != '.' || p[1 + NGX_HTTP_CS_NONCE_B64_LEN] != '.') {
        return NGX_DECLINED;
    }

    f[0].data = token->data + 2;
    f[0].len = p - f[0].data;

    f[1].data = p + 1;
    f[1].len = NGX_HTTP_CS_NONCE_B64_LEN;

    f[2].data = p + 2 + NGX_HTTP_CS_NONCE_B64_LEN;
    f[2].len = NGX_HTTP_CS_MAC_B64_LEN;

    return NGX_OK;
}


static ngx_int_t
ngx_http_cs_digits(ngx_str_t *s)
{
    size_t  i;

    if (s->len == 0 || s->len > 15 || s->data[0] == '0') {
        return 0;
    }

    for (i = 0; i < s->len; i++) {
        if (s->data[i] < '0' || s->data[i] > '9') {
            return 0;
        }
    }

    return 1;
}


static ngx_int_t
ngx_http_cs_bearer(ngx_http_request_t *r, ngx_str_t *token)
{
    ngx_str_t  *v;

    if (r->headers_in.authorization == NULL) {
        return NGX_DECLINED;
    }

    v = &r->headers_in.authorization->value;

    if (v->len <= sizeof("Bearer ") - 1
        || ngx_strncasecmp(v->data, (u_char *) "Bearer ",
                           sizeof("Bearer ") - 1) != 0)
    {
        return NGX_DECLINED;
    }

    token->data = v->data + sizeof("Bearer ") - 1;
    token->len = v->len - (sizeof("Bearer ") - 1);

    while (token->len > 0 && token->data[0] == ' ') {
        token->data++;
        token->len--;
    }

    return token->len > 0 && token->len <= 512 ? NGX_OK : NGX_DECLINED;
}


ngx_int_t
ngx_http_cs_authenticate(ngx_http_request_t *r, ngx_http_cs_secret_t *secret,
    ngx_array_t *admin_keys, ngx_str_t *prefix, ngx_http_cs_caller_t *caller)
{
    u_char                    digest[SHA256_DIGEST_LENGTH];
    ngx_str_t                 token, f[3], parts[3];
    ngx_uint_t                i, found;
    ngx_http_cs_admin_key_t  *k;

    ngx_memzero(caller, sizeof(ngx_http_cs_caller_t));

    if (ngx_http_cs_bearer(r, &token) != NGX_OK) {
        return NGX_DECLINED;
    }

    SHA256(token.data, token.len, digest);

    /* every admin key is compared, so the time says nothing of which */
    found = 0;

    if (admin_keys != NULL) {
        k = admin_keys->elts;
        for (i = 0; i < admin_keys->nelts; i++) {
            if (ngx_http_cs_equal(k[i].digest, digest, sizeof(digest))
                && !found)
            {
                found = 1;
                caller->role = NGX_HTTP_CS_ROLE_ADMIN;
                caller->name = k[i].name;
            }
        }
    }

    if (found) {
        return NGX_OK;
    }

    if (token.len < 2 || token.data[1] != '.'
        || ngx_http_cs_token_fields(&token, f) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    parts[0] = *prefix;
    parts[1] = f[0];
    parts[2] = f[1];

    switch (token.data[0]) {

    case 'c':
        if (!ngx_http_cs_digits(&f[0])
            || f[1].len != NGX_HTTP_CS_NONCE_B64_LEN
            || !ngx_http_cs_mac_ok(r->pool, secret, "ticket", parts, 3,
                                   &f[2]))
        {
            return NGX_DECLINED;
        }

        caller->role = NGX_HTTP_CS_ROLE_CUSTOMER;
        caller->ticket = f[0];
        caller->nonce = f[1];

        return NGX_OK;

    case 'a':
        if (!ngx_http_cs_agent_name_ok(f[0].data, f[0].len)
            || f[1].len != NGX_HTTP_CS_NONCE_B64_LEN
            || !ngx_http_cs_mac_ok(r->pool, secret, "agent", parts, 3,
                                   &f[2]))
        {
            return NGX_DECLINED;
        }

        caller->role = NGX_HTTP_CS_ROLE_AGENT;
        caller->name = f[0];

        caller->token_hash.data = ngx_pnalloc(r->pool,
                                              2 * SHA256_DIGEST_LENGTH);
        if (caller->token_hash.data == NULL) {
            return NGX_ERROR;
        }

        caller->token_hash.len = ngx_hex_dump(caller->token_hash.data,
                                              digest, sizeof(digest))
                                 - caller->token_hash.data;

        return NGX_OK;

    default:
        return NGX_DECLINED;
    }
}
