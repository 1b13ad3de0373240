/*
 * libFuzzer target for the ticket validator (ngx_http_cs_json.c), linked
 * with yajl alone.  For each input it
 *
 *   - feeds the body whole, then in pieces cut where a seed taken from the
 *     input itself says (tiny pieces with empty ones between them, and
 *     larger random ones), and requires the same verdict, field, message
 *     and values every time;
 *   - requires that a feed() that gave up (-1) ends in a syntax verdict;
 *   - counts the validator's allocations and requires none to be left
 *     after ngx_http_cs_json_free() (LeakSanitizer checks too);
 *   - holds the verdict to the independent reference in reference.c: the
 *     class (ok, syntax, missing, invalid, unknown), the field at fault and,
 *     for an accepted body, every stored value with its default; and the
 *     message of the key cap, offset included.
 *
 * The key hash is seeded at random, as each nginx worker seeds it, so that
 * no run depends on one layout of the tables; CS_FUZZ_HASH_SEED (32 hex
 * digits, printed with every failure) replays one.
 *
 * Any difference is a bug: it is described on stderr, then abort().
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "ngx_http_cs_json.h"
#include "ngx_http_cs_schema.h"
#include "reference.h"


/* small, so that the issue limit is reached by fuzzed inputs */
#define CS_FUZZ_ISSUE_MAX  64

#define CS_FUZZ_WHOLE      0
#define CS_FUZZ_TINY       1
#define CS_FUZZ_RANDOM     2
#define CS_FUZZ_MODES      3

/* the message too, offset included, must not depend on the split */
#ifndef CS_FUZZ_COMPARE_MESSAGES
#define CS_FUZZ_COMPARE_MESSAGES  1
#endif


typedef struct {
    int              rc;
    int              gave_up;          /* a feed() returned -1 */
    char             msg[256];
    char            *field;
    unsigned char   *value[NGX_HTTP_CS_F_COUNT];
    size_t           len[NGX_HTTP_CS_F_COUNT];
} cs_result_t;


static const char  *cs_mode_names[CS_FUZZ_MODES] = {
    "whole", "tiny pieces", "random pieces"
};

static long         cs_live;           /* the validator's live allocations */
static const uint8_t  *cs_input;
static size_t          cs_input_len;
static unsigned char   cs_hash_seed[16];
static int             cs_seeded;


static void *
cs_malloc(void *ctx, size_t sz)
{
    void  *p;

    (void) ctx;

    p = malloc(sz);
    if (p != NULL) {
        cs_live++;
    }

    return p;
}


static void *
cs_realloc(void *ctx, void *old, size_t sz)
{
    void  *p;

    (void) ctx;

    p = realloc(old, sz);
    if (old == NULL && p != NULL) {
        cs_live++;
    }

    return p;
}


static void
cs_free(void *ctx, void *p)
{
    (void) ctx;

    if (p != NULL) {
        cs_live--;
        free(p);
    }
}


static uint64_t
cs_next(uint64_t *s)
{
    uint64_t  z;

    /* splitmix64 */
    z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;

    return z ^ (z >> 31);
}


static uint64_t
cs_seed(const uint8_t *p, size_t n, int mode)
{
    uint64_t  h;

    h = 14695981039346656037ULL ^ (uint64_t) mode;

    while (n--) {
        h ^= *p++;
        h *= 1099511628211ULL;
    }

    return h;
}


static void
cs_hex(const uint8_t *p, size_t n)
{
    size_t  i;

    fprintf(stderr, "input (%zu bytes): ", n);

    for (i = 0; i < n && i < 512; i++) {
        fprintf(stderr, "%02x", p[i]);
    }

    fprintf(stderr, "%s\n", n > 512 ? "..." : "");

    fprintf(stderr, "input (text): \"");

    for (i = 0; i < n && i < 512; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\' && p[i] != '"') {
            fputc(p[i], stderr);

        } else {
            fprintf(stderr, "\\x%02x", p[i]);
        }
    }

    fprintf(stderr, "\"%s\n", n > 512 ? "..." : "");
}


static void
cs_bug(const char *what)
{
    int  i;

    fprintf(stderr, "\nCS-FUZZ-BUG: %s\n", what);
    cs_hex(cs_input, cs_input_len);

    fprintf(stderr, "CS_FUZZ_HASH_SEED=");

    for (i = 0; i < 16; i++) {
        fprintf(stderr, "%02x", cs_hash_seed[i]);
    }

    fprintf(stderr, "\n");
    abort();
}


/* once per process: CS_FUZZ_HASH_SEED, or getrandom(2) */
static void
cs_seed_hash(void)
{
    int          i;
    unsigned     b;
    const char  *hex;

    hex = getenv("CS_FUZZ_HASH_SEED");

    if (hex != NULL) {
        for (i = 0; i < 16; i++) {
            if (sscanf(hex + 2 * i, "%2x", &b) != 1) {
                fprintf(stderr, "CS_FUZZ_HASH_SEED: 32 hex digits\n");
                abort();
            }

            cs_hash_seed[i] = (unsigned char) b;
        }

    } else if (getrandom(cs_hash_seed, 16, 0) != 16) {
        perror("getrandom");
        abort();
    }

    ngx_http_cs_json_seed(cs_hash_seed);
}


static void
cs_run(const uint8_t *data, size_t size, int mode, cs_result_t *res)
{
    int                            f, zeros;
    size_t                         pos, n, max;
    uint64_t                       seed;
    const char                    *s;
    yajl_alloc_funcs               af;
    ngx_http_cs_json_t            *v;
    const ngx_http_cs_json_str_t  *val;

    memset(res, 0, sizeof(cs_result_t));

    af.malloc = cs_malloc;
    af.realloc = cs_realloc;
    af.free = cs_free;
    af.ctx = NULL;

    cs_live = 0;

    v = ngx_http_cs_json_create(&ngx_http_cs_schema_ticket,
                                CS_FUZZ_ISSUE_MAX, &af);
    if (v == NULL) {
        cs_bug("ngx_http_cs_json_create() failed");
    }

    seed = cs_seed(data, size, mode);
    max = size / 3 + 2;
    pos = 0;
    zeros = 0;

    if (mode == CS_FUZZ_WHOLE) {
        res->gave_up = ngx_http_cs_json_feed(v, data, size) != 0;

    } else {
        while (pos < size) {
            n = (mode == CS_FUZZ_TINY) ? cs_next(&seed) % 4
                                       : cs_next(&seed) % max;

            /* an empty buffer now and then, as nginx may pass one */
            if (n == 0 && ++zeros > 1) {
                n = 1;
            }

            if (n != 0) {
                zeros = 0;
            }

            if (n > size - pos) {
                n = size - pos;
            }

            if (ngx_http_cs_json_feed(v, data + pos, n) != 0) {
                res->gave_up = 1;
                break;
            }

            pos += n;
        }
    }

    res->rc = ngx_http_cs_json_finish(v);

    snprintf(res->msg, sizeof(res->msg), "%s", ngx_http_cs_json_message(v));

    s = ngx_http_cs_json_field(v);
    if (s != NULL) {
        res->field = strdup(s);
        if (res->field == NULL) {
            abort();
        }
    }

    if (res->rc == NGX_HTTP_CS_JSON_OK) {
        for (f = 0; f < NGX_HTTP_CS_F_COUNT; f++) {
            val = ngx_http_cs_json_value(v, f);
            res->len[f] = val->len;
            res->value[f] = malloc(val->len + 1);
            if (res->value[f] == NULL) {
                abort();
            }

            if (val->len) {
                memcpy(res->value[f], val->data, val->len);
            }
        }
    }

    ngx_http_cs_json_free(v);

    if (cs_live != 0) {
        fprintf(stderr, "%ld allocation(s) left after ngx_http_cs_json_free()"
                " (%s)\n", cs_live, cs_mode_names[mode]);
        cs_bug("leak");
    }
}


static void
cs_result_free(cs_result_t *res)
{
    int  f;

    free(res->field);

    for (f = 0; f < NGX_HTTP_CS_F_COUNT; f++) {
        free(res->value[f]);
    }
}


static const char *
cs_rc_name(int rc)
{
    static const char  *names[] = {
        "ok", "syntax", "missing", "invalid", "unknown", "nomem"
    };

    return (rc >= 0 && rc <= 5) ? names[rc] : "?";
}


static void
cs_print(const char *who, const cs_result_t *res)
{
    int  f;

    fprintf(stderr, "%s: %s, field %s%s%s, message \"%s\"\n", who,
            cs_rc_name(res->rc), res->field ? "\"" : "",
            res->field ? res->field : "(none)", res->field ? "\"" : "",
            res->msg);

    if (res->rc != NGX_HTTP_CS_JSON_OK) {
        return;
    }

    for (f = 0; f < NGX_HTTP_CS_F_COUNT; f++) {
        fprintf(stderr, "  %s = \"%.*s\"\n",
                ngx_http_cs_schema_ticket.fields[f].name,
                (int) res->len[f], res->value[f]);
    }
}


static int
cs_same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }

    return strcmp(a, b) == 0;
}


/* 1: same verdict, field and values; 0: they differ */
static int
cs_same(const cs_result_t *a, const cs_result_t *b)
{
    int  f;

    if (a->rc != b->rc || !cs_same_str(a->field, b->field)) {
        return 0;
    }

    if (a->rc == NGX_HTTP_CS_JSON_OK) {
        for (f = 0; f < NGX_HTTP_CS_F_COUNT; f++) {
            if (a->len[f] != b->len[f]
                || memcmp(a->value[f], b->value[f], a->len[f]) != 0)
            {
                return 0;
            }
        }
    }

    return 1;
}


/*
 * The one syntax error both sides name: the module reports the cap, at the
 * closing quote of the first key past it, exactly when the reference does.
 */
static int
cs_cap_differs(const cs_result_t *m, const ref_result_t *ref)
{
    char  want[80];

    if (ref->cls != REF_SYNTAX || strcmp(ref->why, REF_WHY_KEYS) != 0) {
        return strncmp(m->msg, "an object has more than",
                       sizeof("an object has more than") - 1) == 0;
    }

    snprintf(want, sizeof(want), "an object has more than %d keys at byte %zu",
             NGX_HTTP_CS_JSON_MAX_KEYS, ref->at);

    return strcmp(m->msg, want) != 0;
}


static void
cs_against_reference(const cs_result_t *m, const ref_result_t *ref)
{
    int          f, agree;
    const char  *problem;

    agree = 1;
    problem = NULL;

    if (m->rc == NGX_HTTP_CS_JSON_NOMEM || m->rc < 0
        || m->rc > NGX_HTTP_CS_JSON_UNKNOWN)
    {
        problem = "unexpected verdict";
        agree = 0;

    } else if ((int) ref->cls != m->rc) {
        problem = (ref->cls == REF_OK) ? "valid body rejected"
                  : (m->rc == NGX_HTTP_CS_JSON_OK) ? "invalid body accepted"
                  : "wrong class of error";
        agree = 0;

    } else if (ref->cls == REF_SYNTAX || ref->cls == REF_OK) {
        if (m->field != NULL) {
            problem = "a field named where none is at fault";
            agree = 0;
        }

    } else if (m->field == NULL || strlen(m->field) != ref->field_len
               || memcmp(m->field, ref->field, ref->field_len) != 0)
    {
        problem = "wrong field at fault";
        agree = 0;
    }

    if (agree && CS_FUZZ_COMPARE_MESSAGES && cs_cap_differs(m, ref)) {
        problem = "the key cap reported otherwise";
        agree = 0;
    }

    if (agree && ref->cls == REF_OK) {
        for (f = 0; f < NGX_HTTP_CS_F_COUNT; f++) {
            if (m->len[f] != ref->value_len[f]
                || memcmp(m->value[f], ref->value[f], m->len[f]) != 0)
            {
                problem = "wrong stored value";
                agree = 0;
                break;
            }
        }
    }

    if (agree) {
        return;
    }

    fprintf(stderr, "\nmodule and reference disagree: %s\n", problem);
    cs_print("module   ", m);
    if (ref->field != NULL) {
        fprintf(stderr, "reference: %s, field \"%.*s\" (%s",
                ref_class_name(ref->cls), (int) ref->field_len,
                (char *) ref->field, ref->why);

    } else {
        fprintf(stderr, "reference: %s, field (none) (%s",
                ref_class_name(ref->cls), ref->why);
    }

    if (ref->cls == REF_SYNTAX) {
        fprintf(stderr, " at byte %zu", ref->at);
    }

    fprintf(stderr, ")\n");

    if (ref->cls == REF_OK) {
        for (f = 0; f < REF_FIELDS; f++) {
            fprintf(stderr, "  %s = \"%.*s\"\n",
                    ngx_http_cs_schema_ticket.fields[f].name,
                    (int) ref->value_len[f], ref->value[f]);
        }
    }

    cs_bug("module and reference disagree");
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/*
 * The message must not depend on the split, but for the byte offset of an
 * error yajl finds: yajl's own count can move by one when a token ends at
 * a buffer boundary.  Offsets found by the module's scanner are exact and
 * stay compared.
 */
static int
cs_msg_differs(const char *a, const char *b)
{
    const char  *pa, *pb;

    if (strcmp(a, b) == 0) {
        return 0;
    }

    pa = strstr(a, " at byte ");
    pb = strstr(b, " at byte ");

    if (pa == NULL || pb == NULL || pa - a != pb - b
        || strncmp(a, b, pa - a) != 0)
    {
        return 1;
    }

    /* the scanner's own messages */
    return strncmp(a, "invalid UTF-8", 13) == 0
           || strncmp(a, "control character", 17) == 0
           || strncmp(a, "unpaired surrogate", 18) == 0
           || strncmp(a, "\\u0000", 6) == 0
           || strncmp(a, "invalid white space", 19) == 0
           || strncmp(a, "the body must be", 16) == 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int           mode;
    cs_result_t   whole, split;
    ref_result_t  ref;

    if (!cs_seeded) {
        cs_seed_hash();
        cs_seeded = 1;
    }

    cs_input = data;
    cs_input_len = size;

    cs_run(data, size, CS_FUZZ_WHOLE, &whole);

    if (whole.gave_up && whole.rc != NGX_HTTP_CS_JSON_SYNTAX) {
        cs_print("whole", &whole);
        cs_bug("feed() gave up but the verdict is not a syntax error");
    }

    for (mode = CS_FUZZ_TINY; mode < CS_FUZZ_MODES; mode++) {
        cs_run(data, size, mode, &split);

        if (split.gave_up && split.rc != NGX_HTTP_CS_JSON_SYNTAX) {
            cs_print(cs_mode_names[mode], &split);
            cs_bug("feed() gave up but the verdict is not a syntax error");
        }

        if (!cs_same(&whole, &split)) {
            fprintf(stderr, "\nthe body fed whole and in %s differ\n",
                    cs_mode_names[mode]);
            cs_print("whole", &whole);
            cs_print(cs_mode_names[mode], &split);
            cs_bug("the verdict depends on how the body is split");
        }

        if (CS_FUZZ_COMPARE_MESSAGES && cs_msg_differs(whole.msg, split.msg)) {
            fprintf(stderr, "\nthe body fed whole and in %s differ\n",
                    cs_mode_names[mode]);
            cs_print("whole", &whole);
            cs_print(cs_mode_names[mode], &split);
            cs_bug("the message depends on how the body is split");
        }

        cs_result_free(&split);
    }

    ref_check(data, size, CS_FUZZ_ISSUE_MAX, &ref);
    cs_against_reference(&whole, &ref);

    ref_result_free(&ref);
    cs_result_free(&whole);

    return 0;
}
