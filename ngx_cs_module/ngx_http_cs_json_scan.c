/*
 * The body validator's syntax checks that yajl does not make (see
 * ngx_http_cs_json_state.h): the scanner that runs over the raw bytes
 * (strict UTF-8, escapes, white space), and the duplicate-key check, a
 * table of each open object's keys hashed with a keyed SipHash.
 */

#include <stdint.h>
#include <string.h>

#include "ngx_http_cs_json_state.h"


/*
 * Each open object's keys live in the table of its depth: a closed
 * object's keys are dropped and its memory serves the next object at that
 * depth.  A table of 4 slots per key allowed is never rehashed, and at a
 * load of 1/4 or less linear probing looks at 1.2 slots per key on average.
 */
#define CS_SLOTS        (4 * NGX_HTTP_CS_JSON_MAX_KEYS)

#define CS_STR(x)       #x
#define CS_XSTR(x)      CS_STR(x)


/* the SipHash key, see ngx_http_cs_json_seed() */
static uint64_t     cs_hash_key[2];


/*
 * The strict UTF-8, escape and white space checks yajl does not make.
 * Returns how many bytes are good; at the first bad one, its message is
 * kept in v->scan_err until yajl has judged the bytes before it.
 */
size_t
ngx_http_cs_json_scan(ngx_http_cs_json_t *v, const unsigned char *p,
    size_t len)
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
uint64_t
ngx_http_cs_json_hash(const unsigned char *p, size_t len)
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


/* room for one more key of len bytes at this depth */
static int
cs_level_reserve(ngx_http_cs_json_t *v, cs_level_t *l, size_t len)
{
    if (l->slot == NULL) {
        if (ngx_http_cs_json_grow(v, (void **) &l->slot, 0,
                                  CS_SLOTS * sizeof(uint16_t))
            != 0)
        {
            return -1;
        }

        memset(l->slot, 0, CS_SLOTS * sizeof(uint16_t));
    }

    if (ngx_http_cs_json_reserve(v, (void **) &l->key, sizeof(cs_key_t),
                                 l->nkeys, 1, CS_KEYS_MIN, &l->nalloc)
        != 0)
    {
        return -1;
    }

    return ngx_http_cs_json_reserve(v, (void **) &l->bytes, 1, l->used, len,
                                    CS_BYTES_MIN, &l->size);
}


/*
 * Remembers a key of the object open at this depth; a duplicate, or a key
 * beyond the cap, ends the body.  The cap is checked first, so that no key
 * past it is ever looked up.
 */
int
ngx_http_cs_json_key_add(ngx_http_cs_json_t *v, const unsigned char *key,
    size_t len)
{
    size_t       i;
    uint64_t     h;
    cs_key_t    *k;
    cs_level_t  *l;

    l = &v->level[v->depth];

    if (l->nkeys == NGX_HTTP_CS_JSON_MAX_KEYS) {
        ngx_http_cs_json_syntax(v, "an object has more than "
                                CS_XSTR(NGX_HTTP_CS_JSON_MAX_KEYS) " keys");
        return -1;
    }

    if (cs_level_reserve(v, l, len) != 0) {
        return -1;
    }

    h = ngx_http_cs_json_hash(key, len);

    for (i = h % CS_SLOTS; l->slot[i] != 0; i = (i + 1) % CS_SLOTS) {
        v->probes++;

        k = &l->key[l->slot[i] - 1];

        if (k->hash == h && k->len == len
            && memcmp(l->bytes + k->off, key, len) == 0)
        {
            ngx_http_cs_json_syntax(v, "duplicate key in an object");
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
void
ngx_http_cs_json_level_clear(ngx_http_cs_json_t *v, cs_level_t *l)
{
    size_t  i;

    for (i = 0; i < l->nkeys; i++) {
        l->slot[l->key[i].slot] = 0;
    }

    v->held -= l->nkeys;
    l->nkeys = 0;
    l->used = 0;
}
