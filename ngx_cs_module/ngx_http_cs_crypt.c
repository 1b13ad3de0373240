/*
 * Encryption at rest: cs_encrypt_key file [old_file ...].
 *
 * Each file holds 64 hex characters (openssl rand -hex 32), read once at
 * configuration time by the master.  The first key seals every new value;
 * every listed key opens the values it sealed, so a rotation is
 * "cs_encrypt_key new.key old.key;" and a reload.
 *
 * A sealed value is "v1:" <key id> ":" base64url(nonce | ciphertext | tag):
 * AES-256-GCM with a random 12-byte nonce per value and a 16-byte tag; the
 * key id is the hex of the first 4 bytes of the key's SHA-256, so a reader
 * knows which key to use and an unknown key is named, never guessed.  It
 * is stored in a field of its own (issue_enc, email_enc, a message's
 * body_enc, feedbackComment_enc), so a plaintext can never pass for a
 * sealed value, nor a sealed one for a plaintext.
 *
 * The associated data binds a value to its ticket and its field:
 *
 *   "ticket:" <id> "/" <field>    a message's body, the feedback comment
 *   "seal:" <seal> "/" <field>    the ticket's issue and email
 *
 * A message or a comment is written to a ticket whose id the request
 * names.  The issue and the email are written by the intake script, which
 * draws the ticket's id (INCR) inside the one atomic call that must store
 * them: nginx cannot know the id before, and sealing after would need a
 * second write, a partial ticket in between.  So the intake binds them to
 * the ticket's seal instead: a random value the worker draws for each new
 * ticket, stored by the script in the ticket ("seal"), never changed, and
 * as unique as a ticket id (128 random bits).  Either way the reader never
 * takes the associated data from beside the value: the script that reads
 * the value names where it read it (which ticket, which seal, which
 * field), and a value copied to another ticket or another field fails to
 * open (500 internal_error, one log line), never showing garbage.
 *
 * The idempotency checks compare what was sent, not its sealed form (a new
 * nonce every time): with a key, the scripts are given a fingerprint, an
 * HMAC under a key derived from the current one, instead of an unkeyed
 * hash of the words.
 *
 * Here too, for every file of the module: the reading of the key files
 * (cs_secret's and cs_admin_keys' too), and the random nonces.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "ngx_http_cs_module.h"
#include "ngx_http_cs_auth.h"
#include "ngx_http_cs_schema.h"
#include "ngx_http_cs_crypt.h"


#define NGX_HTTP_CS_GCM_NONCE     12
#define NGX_HTTP_CS_GCM_TAG       16
#define NGX_HTTP_CS_KEY_ID_LEN    8
#define NGX_HTTP_CS_SEALED_HEAD   "v1:"
#define NGX_HTTP_CS_FP_PURPOSE    "cs_encrypt_key fingerprint"
#define NGX_HTTP_CS_KEY_FILE_MAX  65536


/* the files of cs_secret, cs_admin_keys and cs_encrypt_key */
char *
ngx_http_cs_read_conf_file(ngx_conf_t *cf, ngx_str_t *file, ngx_str_t *out,
    const char *what)
{
    ssize_t          n;
    ngx_str_t        name;
    ngx_file_t       f;
    ngx_file_info_t  fi;

    name = *file;

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&f, sizeof(ngx_file_t));

    f.name = name;
    f.log = cf->log;
    f.fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (f.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "%s file \"%V\" cannot be opened", what, &name);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(f.fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > NGX_HTTP_CS_KEY_FILE_MAX)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s file \"%V\" is not a small regular file",
                           what, &name);
        (void) ngx_close_file(f.fd);
        return NGX_CONF_ERROR;
    }

    out->len = (size_t) ngx_file_size(&fi);
    out->data = ngx_pnalloc(cf->pool, out->len + 1);
    if (out->data == NULL) {
        (void) ngx_close_file(f.fd);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_file(&f, out->data, out->len, 0);

    (void) ngx_close_file(f.fd);

    if (n < 0 || (size_t) n != out->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s file \"%V\" cannot be read", what, &name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * Random bytes from a pool that RAND_bytes() refills 1 KiB at a time: one
 * call into OpenSSL for 64 nonces, where one a nonce cost more than the
 * rest of a nonce's work.  The pool belongs to the process that filled it
 * (ngx_pid): a worker never hands out bytes drawn before its fork, so no
 * two processes share a nonce.  Bytes are wiped as they are taken.
 */
static u_char     ngx_http_cs_pool_bytes[1024];
static size_t     ngx_http_cs_pool_left;
static ngx_pid_t  ngx_http_cs_pool_pid;


static ngx_int_t
ngx_http_cs_random(u_char *out, size_t n)
{
    u_char  *p;

    if (ngx_http_cs_pool_pid != ngx_pid || ngx_http_cs_pool_left < n) {
        if (RAND_bytes(ngx_http_cs_pool_bytes,
                       sizeof(ngx_http_cs_pool_bytes))
            != 1)
        {
            ngx_http_cs_pool_left = 0;
            return NGX_ERROR;
        }

        ngx_http_cs_pool_left = sizeof(ngx_http_cs_pool_bytes);
        ngx_http_cs_pool_pid = ngx_pid;
    }

    p = ngx_http_cs_pool_bytes + sizeof(ngx_http_cs_pool_bytes)
        - ngx_http_cs_pool_left;

    ngx_memcpy(out, p, n);
    ngx_explicit_memzero(p, n);
    ngx_http_cs_pool_left -= n;

    return NGX_OK;
}


ngx_int_t
ngx_http_cs_nonce(ngx_pool_t *pool, ngx_str_t *out)
{
    u_char     raw[NGX_HTTP_CS_NONCE_LEN];
    ngx_str_t  src;

    if (ngx_http_cs_random(raw, sizeof(raw)) != NGX_OK) {
        return NGX_ERROR;
    }

    out->data = ngx_pnalloc(pool, ngx_base64_encoded_length(sizeof(raw)));
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    src.data = raw;
    src.len = sizeof(raw);

    ngx_encode_base64url(out, &src);

    return NGX_OK;
}


static void
ngx_http_cs_crypt_cleanup(void *data)
{
    ngx_http_cs_crypt_t  *c = data;

    OPENSSL_cleanse(c, sizeof(ngx_http_cs_crypt_t));
}


static char *
ngx_http_cs_read_key(ngx_conf_t *cf, ngx_str_t *file,
    ngx_http_cs_crypt_key_t *k)
{
    char       *rv;
    u_char      digest[SHA256_DIGEST_LENGTH];
    ngx_int_t   hi, lo;
    ngx_str_t   text;
    ngx_uint_t  i;
    unsigned    n;

    rv = ngx_http_cs_read_conf_file(cf, file, &text, "cs_encrypt_key");
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (text.len > 0 && text.data[text.len - 1] == '\n') {
        text.len--;

        if (text.len > 0 && text.data[text.len - 1] == '\r') {
            text.len--;
        }
    }

    for (i = 0; text.len == 64 && i < 32; i++) {
        hi = ngx_hextoi(&text.data[2 * i], 1);
        lo = ngx_hextoi(&text.data[2 * i + 1], 1);

        if (hi == NGX_ERROR || lo == NGX_ERROR) {
            break;
        }

        k->key[i] = (u_char) (hi * 16 + lo);
    }

    OPENSSL_cleanse(text.data, text.len);

    if (i != 32) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cs_encrypt_key file \"%V\" must hold 64 hex "
                           "characters (openssl rand -hex 32)", file);
        return NGX_CONF_ERROR;
    }

    SHA256(k->key, sizeof(k->key), digest);
    ngx_hex_dump(k->id, digest, NGX_HTTP_CS_KEY_ID_LEN / 2);

    n = sizeof(k->fp_key);
    if (HMAC(EVP_sha256(), k->key, sizeof(k->key),
             (u_char *) NGX_HTTP_CS_FP_PURPOSE,
             sizeof(NGX_HTTP_CS_FP_PURPOSE) - 1, k->fp_key, &n)
        == NULL)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_cs_encrypt_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cs_loc_conf_t  *cslcf = conf;

    char                 *rv;
    ngx_str_t            *value, fp;
    ngx_uint_t            i;
    ngx_pool_cleanup_t   *cln;
    ngx_http_cs_crypt_t  *c;

    if (cslcf->crypt != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    if (cf->args->nelts - 1 > NGX_HTTP_CS_CRYPT_KEYS_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cs_encrypt_key\" takes at most %d files",
                           NGX_HTTP_CS_CRYPT_KEYS_MAX);
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, sizeof(ngx_http_cs_crypt_t));
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    c = cln->data;
    ngx_memzero(c, sizeof(ngx_http_cs_crypt_t));
    cln->handler = ngx_http_cs_crypt_cleanup;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        rv = ngx_http_cs_read_key(cf, &value[i], &c->keys[c->nkeys]);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        c->nkeys++;
    }

    /* the fingerprints' key, hashed by each worker as it starts */
    fp.data = c->keys[0].fp_key;
    fp.len = sizeof(c->keys[0].fp_key);

    if (ngx_http_cs_hmac_register(cf, &fp, NULL) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    cslcf->crypt = c;

    return NGX_CONF_OK;
}


ngx_uint_t
ngx_http_cs_crypt_same(void *a, void *b)
{
    ngx_uint_t            i;
    ngx_http_cs_crypt_t  *ca = *(ngx_http_cs_crypt_t **) a;
    ngx_http_cs_crypt_t  *cb = *(ngx_http_cs_crypt_t **) b;

    if (ca == NULL || cb == NULL) {
        return ca == cb;
    }

    if (ca->nkeys != cb->nkeys) {
        return 0;
    }

    for (i = 0; i < ca->nkeys; i++) {
        if (CRYPTO_memcmp(ca->keys[i].key, cb->keys[i].key, 32) != 0) {
            return 0;
        }
    }

    return 1;
}


/* "v1:<id>:<base64url(nonce | ciphertext | tag)>" */
static ngx_int_t
ngx_http_cs_seal(ngx_pool_t *pool, ngx_http_cs_crypt_key_t *k,
    ngx_str_t *ad, ngx_str_t *in, ngx_str_t *out)
{
    int               n;
    u_char           *raw, *p;
    ngx_int_t         rc;
    ngx_str_t         bin, b64;
    EVP_CIPHER_CTX   *ctx;

    raw = ngx_pnalloc(pool, NGX_HTTP_CS_GCM_NONCE + in->len
                            + NGX_HTTP_CS_GCM_TAG);
    if (raw == NULL) {
        return NGX_ERROR;
    }

    if (RAND_bytes(raw, NGX_HTTP_CS_GCM_NONCE) != 1) {
        return NGX_ERROR;
    }

    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
    p = raw + NGX_HTTP_CS_GCM_NONCE;

    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k->key, raw) != 1
        || EVP_EncryptUpdate(ctx, NULL, &n, ad->data, (int) ad->len) != 1
        || EVP_EncryptUpdate(ctx, p, &n, in->data, (int) in->len) != 1)
    {
        goto done;
    }

    p += n;

    if (EVP_EncryptFinal_ex(ctx, p, &n) != 1) {
        goto done;
    }

    p += n;

    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, NGX_HTTP_CS_GCM_TAG,
                            p)
        != 1)
    {
        goto done;
    }

    bin.data = raw;
    bin.len = p + NGX_HTTP_CS_GCM_TAG - raw;

    out->data = ngx_pnalloc(pool, sizeof(NGX_HTTP_CS_SEALED_HEAD) - 1
                                  + NGX_HTTP_CS_KEY_ID_LEN + 1
                                  + ngx_base64_encoded_length(bin.len));
    if (out->data == NULL) {
        goto done;
    }

    p = ngx_cpymem(out->data, NGX_HTTP_CS_SEALED_HEAD,
                   sizeof(NGX_HTTP_CS_SEALED_HEAD) - 1);
    p = ngx_cpymem(p, k->id, NGX_HTTP_CS_KEY_ID_LEN);
    *p++ = ':';

    b64.data = p;
    ngx_encode_base64url(&b64, &bin);
    out->len = p + b64.len - out->data;

    rc = NGX_OK;

done:

    EVP_CIPHER_CTX_free(ctx);

    return rc;
}


/*
 * NGX_OK with *out, or NGX_DECLINED with *why (for the log: never the
 * value) for a value that does not open.
 */
static ngx_int_t
ngx_http_cs_open(ngx_pool_t *pool, ngx_http_cs_crypt_t *c, ngx_str_t *ad,
    ngx_str_t *in, ngx_str_t *out, const char **why)
{
    int                       n, ok;
    u_char                   *tag;
    size_t                    head;
    ngx_str_t                 b64, bin;
    ngx_uint_t                i;
    EVP_CIPHER_CTX           *ctx;
    ngx_http_cs_crypt_key_t  *k;

    head = sizeof(NGX_HTTP_CS_SEALED_HEAD) - 1;

    if (in->len < head + NGX_HTTP_CS_KEY_ID_LEN + 1
        || ngx_strncmp(in->data, NGX_HTTP_CS_SEALED_HEAD, head) != 0
        || in->data[head + NGX_HTTP_CS_KEY_ID_LEN] != ':')
    {
        *why = "not a sealed value";
        return NGX_DECLINED;
    }

    k = NULL;

    for (i = 0; c != NULL && i < c->nkeys; i++) {
        if (ngx_strncmp(c->keys[i].id, in->data + head,
                        NGX_HTTP_CS_KEY_ID_LEN)
            == 0)
        {
            k = &c->keys[i];
            break;
        }
    }

    if (k == NULL) {
        *why = "sealed with a key cs_encrypt_key does not list";
        return NGX_DECLINED;
    }

    b64.data = in->data + head + NGX_HTTP_CS_KEY_ID_LEN + 1;
    b64.len = in->len - head - NGX_HTTP_CS_KEY_ID_LEN - 1;

    bin.data = ngx_pnalloc(pool, ngx_base64_decoded_length(b64.len) + 1);
    if (bin.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_decode_base64url(&bin, &b64) != NGX_OK
        || bin.len < NGX_HTTP_CS_GCM_NONCE + NGX_HTTP_CS_GCM_TAG)
    {
        *why = "not a sealed value";
        return NGX_DECLINED;
    }

    out->len = bin.len - NGX_HTTP_CS_GCM_NONCE - NGX_HTTP_CS_GCM_TAG;
    out->data = ngx_pnalloc(pool, out->len + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    tag = bin.data + bin.len - NGX_HTTP_CS_GCM_TAG;

    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k->key, bin.data)
         == 1
         && EVP_DecryptUpdate(ctx, NULL, &n, ad->data, (int) ad->len) == 1
         && EVP_DecryptUpdate(ctx, out->data, &n,
                              bin.data + NGX_HTTP_CS_GCM_NONCE,
                              (int) out->len) == 1
         && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG,
                                NGX_HTTP_CS_GCM_TAG, tag) == 1
         && EVP_DecryptFinal_ex(ctx, out->data + n, &n) == 1;

    EVP_CIPHER_CTX_free(ctx);

    if (!ok) {
        /* a wrong tag: altered, or moved to another ticket or field */
        OPENSSL_cleanse(out->data, out->len);
        *why = "the value, its ticket or its field was altered";
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* the hex HMAC of the parts, each length-prefixed, under the current key */
static ngx_int_t
ngx_http_cs_fingerprint(ngx_pool_t *pool, ngx_http_cs_crypt_t *c,
    ngx_str_t *parts, ngx_uint_t n, ngx_str_t *out)
{
    u_char      *buf, *p, md[NGX_HTTP_CS_MAC_LEN];
    size_t       len;
    ngx_str_t    key;
    ngx_uint_t   i;

    len = 0;
    for (i = 0; i < n; i++) {
        len += NGX_SIZE_T_LEN + 1 + parts[i].len;
    }

    buf = ngx_pnalloc(pool, len + 1);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    p = buf;
    for (i = 0; i < n; i++) {
        p = ngx_sprintf(p, "%uz:", parts[i].len);
        p = ngx_cpymem(p, parts[i].data, parts[i].len);
    }

    /* the purpose is in the key (fp_key): the worker's state of no prefix */
    key.data = c->keys[0].fp_key;
    key.len = sizeof(c->keys[0].fp_key);

    if (ngx_http_cs_hmac_raw(&key, buf, p - buf, md) != NGX_OK) {
        return NGX_ERROR;
    }

    out->data = ngx_pnalloc(pool, 2 * sizeof(md));
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    out->len = ngx_hex_dump(out->data, md, sizeof(md)) - out->data;

    return NGX_OK;
}


/* args[i] sealed in place, under "<scope><ref>/<field>" */
static ngx_int_t
ngx_http_cs_seal_arg(ngx_http_request_t *r, ngx_http_cs_crypt_t *c,
    ngx_array_t *args, ngx_uint_t i, const char *scope, ngx_str_t *ref,
    const char *field)
{
    u_char     *p;
    size_t      slen, flen;
    ngx_str_t   ad, *a;

    slen = ngx_strlen(scope);
    flen = ngx_strlen(field);

    ad.data = ngx_pnalloc(r->pool, slen + ref->len + 1 + flen);
    if (ad.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(ad.data, scope, slen);
    p = ngx_cpymem(p, ref->data, ref->len);
    *p++ = '/';
    p = ngx_cpymem(p, field, flen);
    ad.len = p - ad.data;

    a = args->elts;

    return ngx_http_cs_seal(r->pool, &c->keys[0], &ad, &a[i], &a[i]);
}


/*
 * The intake: the issue and the email (when sent) sealed under the new
 * ticket's seal, which follows, and the fingerprint of both for the
 * idempotency check.
 */
ngx_int_t
ngx_http_cs_crypt_intake_args(ngx_http_request_t *r, ngx_array_t *args,
    ngx_uint_t f)
{
    ngx_str_t                parts[2], seal, fp, *a;
    ngx_http_cs_loc_conf_t  *cslcf;

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    if (cslcf->crypt == NULL) {
        return NGX_OK;
    }

    a = args->elts;
    parts[0] = a[f + NGX_HTTP_CS_F_ISSUE];
    parts[1] = a[f + NGX_HTTP_CS_F_EMAIL];

    if (ngx_http_cs_fingerprint(r->pool, cslcf->crypt, parts, 2, &fp)
        != NGX_OK
        || ngx_http_cs_nonce(r->pool, &seal) != NGX_OK
        || ngx_http_cs_seal_arg(r, cslcf->crypt, args, f + NGX_HTTP_CS_F_ISSUE,
                                "seal:", &seal, "issue")
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* an email not sent stays "": the ticket has none */
    if (parts[1].len > 0
        && ngx_http_cs_seal_arg(r, cslcf->crypt, args,
                                f + NGX_HTTP_CS_F_EMAIL, "seal:", &seal,
                                "email")
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_cs_push(args, seal.data, seal.len) != NGX_OK
        || ngx_http_cs_push(args, fp.data, fp.len) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a message: its body sealed to the ticket, then its fingerprint */
ngx_int_t
ngx_http_cs_crypt_message_args(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_array_t *args, ngx_uint_t i)
{
    ngx_str_t                fp, *a;
    ngx_http_cs_loc_conf_t  *cslcf;

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    if (cslcf->crypt == NULL) {
        return NGX_OK;
    }

    a = args->elts;

    if (ngx_http_cs_fingerprint(r->pool, cslcf->crypt, &a[i], 1, &fp)
        != NGX_OK
        || ngx_http_cs_seal_arg(r, cslcf->crypt, args, i, "ticket:",
                                &ctx->param, "body")
           != NGX_OK
        || ngx_http_cs_push(args, fp.data, fp.len) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* feedback: the comment (when sent, after its "1") sealed to the ticket */
ngx_int_t
ngx_http_cs_crypt_feedback_args(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, ngx_array_t *args, ngx_uint_t i)
{
    ngx_str_t               *a;
    ngx_http_cs_loc_conf_t  *cslcf;

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    if (cslcf->crypt == NULL) {
        return NGX_OK;
    }

    a = args->elts;

    if (a[i - 1].len > 0
        && ngx_http_cs_seal_arg(r, cslcf->crypt, args, i, "ticket:",
                                &ctx->param, "comment")
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_cs_push(args, (u_char *) "1", 1);
}


void
ngx_http_cs_crypt_out(ngx_http_cs_out_t *o, redisReply *v)
{
    u_char                  *field;
    ngx_int_t                rc;
    ngx_str_t                ad, in, out;
    const char              *why;
    ngx_http_cs_loc_conf_t  *cslcf;

    if (v->elements != 3 || v->element[1]->type != REDIS_REPLY_STRING) {
        o->failed = 1;
        return;
    }

    if (v->element[2]->type != REDIS_REPLY_STRING) {
        /* nothing stored: null, as a plaintext field absent */
        if (yajl_gen_null(o->g) != yajl_gen_status_ok) {
            o->failed = 1;
        }

        return;
    }

    cslcf = ngx_http_get_module_loc_conf(o->r, ngx_http_cs_module);

    ad.data = (u_char *) v->element[1]->str;
    ad.len = v->element[1]->len;
    in.data = (u_char *) v->element[2]->str;
    in.len = v->element[2]->len;

    why = NULL;

    rc = ngx_http_cs_open(o->r->pool, cslcf->crypt, &ad, &in, &out, &why);

    if (rc == NGX_OK) {
        if (yajl_gen_string(o->g, out.data, out.len) != yajl_gen_status_ok) {
            o->failed = 1;
        }

        return;
    }

    if (rc == NGX_DECLINED && !o->crypt_failed) {
        /* the field's name, never the value nor the ticket's seal */
        field = ngx_strlchr(ad.data, ad.data + ad.len, '/');

        ngx_log_error(NGX_LOG_ERR, o->r->connection->log, 0,
                      "cs: a stored \"%*s\" does not decrypt: %s",
                      field ? (size_t) (ad.data + ad.len - field - 1) : 0,
                      field ? field + 1 : ad.data, why);
    }

    o->crypt_failed = 1;
    o->failed = 1;
}
