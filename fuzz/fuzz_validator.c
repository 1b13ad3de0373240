/*
 * libFuzzer target for the body validator (ngx_http_cs_json.c) and the
 * desk's schemas (ngx_http_cs_schema.c), linked with yajl alone.  For each
 * input, and for every schema, it
 *
 *   - feeds the body whole, then in pieces cut where a seed taken from the
 *     input itself says (tiny pieces with empty ones between them, and
 *     larger random ones), and requires the same verdict, field, message
 *     and values every time;
 *   - requires that a feed() that gave up (-1) ends in a syntax verdict;
 *   - counts the validator's allocations and requires none to be left
 *     after ngx_http_cs_json_free() (LeakSanitizer checks too).
 *
 * With the ticket's schema, it holds the verdict to the independent
 * reference in reference.c: the class (ok, syntax, missing, invalid,
 * unknown), the field at fault and, for an accepted body, every stored
 * value with its default; and the message of the key cap, offset included.
 * The reference knows no other schema; for those, a syntax verdict and its
 * message must be the ticket's (the grammar does not depend on the schema),
 * a field at fault must be one the verdict can name, and the values of an
 * accepted body must keep every rule of their rows.
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
    char            *values;           /* every row's value, written out */
    size_t           nvalues;
    unsigned char   *value[NGX_HTTP_CS_F_COUNT];   /* the ticket's */
    size_t           len[NGX_HTTP_CS_F_COUNT];
} cs_result_t;


typedef struct {
    const char                   *name;
    const ngx_http_cs_schema_t   *schema;
} cs_schema_t;


static const char  *cs_mode_names[CS_FUZZ_MODES] = {
    "whole", "tiny pieces", "random pieces"
};

/* the ticket first: the reference knows it */
static const cs_schema_t  cs_schemas[] = {
    { "ticket", &ngx_http_cs_schema_ticket },
    { "message", &ngx_http_cs_schema_message },
    { "status", &ngx_http_cs_schema_status },
    { "assign", &ngx_http_cs_schema_assign },
    { "fields", &ngx_http_cs_schema_fields },
    { "agent", &ngx_http_cs_schema_agent },
    { "presence", &ngx_http_cs_schema_presence },
    { "feedback", &ngx_http_cs_schema_feedback },
    { "user_export", &ngx_http_cs_schema_user_export },
    { "user_erase", &ngx_http_cs_schema_user_erase },
    { NULL, NULL }
};

static const cs_schema_t  *cs_schema;   /* the one being run */

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

    fprintf(stderr, "\nCS-FUZZ-BUG: %s (schema %s)\n", what,
            cs_schema->name);
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


/* the bytes of a string, printable and unambiguous */
static void
cs_dump_str(FILE *fp, const unsigned char *p, size_t len)
{
    size_t  i;

    fputc('"', fp);

    for (i = 0; i < len; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\' && p[i] != '"') {
            fputc(p[i], fp);

        } else {
            fprintf(fp, "\\x%02x", p[i]);
        }
    }

    fputc('"', fp);
}


/* every row's value of an accepted body, one line a row */
static void
cs_dump(ngx_http_cs_json_t *v, cs_result_t *res)
{
    FILE                            *fp;
    size_t                           f, i;
    const ngx_http_cs_field_t       *row;
    const ngx_http_cs_json_value_t  *val;

    fp = open_memstream(&res->values, &res->nvalues);
    if (fp == NULL) {
        abort();
    }

    for (f = 0; f < cs_schema->schema->nfields; f++) {
        row = &cs_schema->schema->fields[f];
        val = ngx_http_cs_json_get(v, f);

        fprintf(fp, "  %s:%s%s ", row->name, val->present ? "" : " absent",
                val->is_null ? " null" : "");

        switch (row->type) {

        case NGX_HTTP_CS_FT_STRING:
            if (val->str.data == NULL && val->str.len != 0) {
                cs_bug("a string of some length without data");
            }

            if (val->str.data == NULL) {
                fprintf(fp, "(no string)");

            } else {
                cs_dump_str(fp, val->str.data, val->str.len);
            }

            break;

        case NGX_HTTP_CS_FT_INTEGER:
            fprintf(fp, "%lld", val->integer);
            break;

        case NGX_HTTP_CS_FT_BOOLEAN:
            fprintf(fp, "%s", val->boolean ? "true" : "false");
            break;

        default:
            fprintf(fp, "[");

            for (i = 0; i < val->nitems; i++) {
                cs_dump_str(fp, val->items[i].data, val->items[i].len);
                fprintf(fp, i + 1 < val->nitems ? ", " : "");
            }

            fprintf(fp, "]");
            break;
        }

        fprintf(fp, "\n");
    }

    if (fclose(fp) != 0) {
        abort();
    }
}


/* a string its row allows: one of its values, and passing its check */
static int
cs_allowed(const ngx_http_cs_field_t *row, const unsigned char *s,
    size_t len)
{
    const char *const  *p;

    if (row->values != NULL) {
        for (p = row->values; *p != NULL; p++) {
            if (strlen(*p) == len && memcmp(*p, s, len) == 0) {
                break;
            }
        }

        if (*p == NULL) {
            return 0;
        }
    }

    return row->check == NULL
           || row->check(s, len, CS_FUZZ_ISSUE_MAX) == NULL;
}


/* the values of an accepted body keep every rule of their rows */
static void
cs_check_values(ngx_http_cs_json_t *v)
{
    size_t                           f, i, j;
    const ngx_http_cs_json_str_t    *a, *b;
    const ngx_http_cs_field_t       *row;
    const ngx_http_cs_json_value_t  *val;

    for (f = 0; f < cs_schema->schema->nfields; f++) {
        row = &cs_schema->schema->fields[f];
        val = ngx_http_cs_json_get(v, f);

        if (row->required && !val->present) {
            cs_bug("a required field is absent from an accepted body");
        }

        if (val->is_null && (!row->nullable || !val->present)) {
            cs_bug("a null where the row takes none");
        }

        if (!val->present || val->is_null) {
            if (row->type == NGX_HTTP_CS_FT_STRING
                && (row->def == NULL
                    ? val->str.data != NULL || val->str.len != 0
                    : val->str.len != strlen(row->def)
                      || memcmp(val->str.data, row->def, val->str.len) != 0))
            {
                cs_bug("an absent or null string is not the row's default");
            }

            if (val->nitems != 0) {
                cs_bug("items of an absent or null list");
            }

            continue;
        }

        switch (row->type) {

        case NGX_HTTP_CS_FT_STRING:
            if (!cs_allowed(row, val->str.data, val->str.len)) {
                cs_bug("a string its row refuses was accepted");
            }

            break;

        case NGX_HTTP_CS_FT_INTEGER:
            if (val->integer < row->min || val->integer > row->max) {
                cs_bug("an integer out of its row's range was accepted");
            }

            break;

        case NGX_HTTP_CS_FT_BOOLEAN:
            if (val->boolean != 0 && val->boolean != 1) {
                cs_bug("a boolean neither 0 nor 1");
            }

            break;

        default:
            if ((long long) val->nitems > row->max) {
                cs_bug("a list longer than its row allows was accepted");
            }

            for (i = 0; i < val->nitems; i++) {
                a = &val->items[i];

                if (!cs_allowed(row, a->data, a->len)) {
                    cs_bug("an item its row refuses was accepted");
                }

                for (j = 0; j < i; j++) {
                    b = &val->items[j];

                    if (a->len == b->len
                        && memcmp(a->data, b->data, a->len) == 0)
                    {
                        cs_bug("a list with a value twice was accepted");
                    }
                }
            }

            break;
        }
    }
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

    v = ngx_http_cs_json_create(cs_schema->schema, CS_FUZZ_ISSUE_MAX, &af);
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
        cs_dump(v, res);

        if (mode == CS_FUZZ_WHOLE) {
            cs_check_values(v);
        }
    }

    if (res->rc == NGX_HTTP_CS_JSON_OK
        && cs_schema->schema == &ngx_http_cs_schema_ticket)
    {
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
    free(res->values);

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
    fprintf(stderr, "%s: %s, field %s%s%s, message \"%s\"\n", who,
            cs_rc_name(res->rc), res->field ? "\"" : "",
            res->field ? res->field : "(none)", res->field ? "\"" : "",
            res->msg);

    if (res->rc != NGX_HTTP_CS_JSON_OK) {
        return;
    }

    fprintf(stderr, "%s", res->values);
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
    return a->rc == b->rc && cs_same_str(a->field, b->field)
           && cs_same_str(a->values, b->values);
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


/*
 * The body whole, then (when split) in pieces each way: *whole keeps the
 * first verdict.
 */
static void
cs_run_all(const uint8_t *data, size_t size, int split_too,
    cs_result_t *whole)
{
    int          mode;
    cs_result_t  split;

    cs_run(data, size, CS_FUZZ_WHOLE, whole);

    if (whole->gave_up && whole->rc != NGX_HTTP_CS_JSON_SYNTAX) {
        cs_print("whole", whole);
        cs_bug("feed() gave up but the verdict is not a syntax error");
    }

    for (mode = CS_FUZZ_TINY; split_too && mode < CS_FUZZ_MODES; mode++) {
        cs_run(data, size, mode, &split);

        if (split.gave_up && split.rc != NGX_HTTP_CS_JSON_SYNTAX) {
            cs_print(cs_mode_names[mode], &split);
            cs_bug("feed() gave up but the verdict is not a syntax error");
        }

        if (!cs_same(whole, &split)) {
            fprintf(stderr, "\nthe body fed whole and in %s differ\n",
                    cs_mode_names[mode]);
            cs_print("whole", whole);
            cs_print(cs_mode_names[mode], &split);
            cs_bug("the verdict depends on how the body is split");
        }

        if (CS_FUZZ_COMPARE_MESSAGES
            && cs_msg_differs(whole->msg, split.msg))
        {
            fprintf(stderr, "\nthe body fed whole and in %s differ\n",
                    cs_mode_names[mode]);
            cs_print("whole", whole);
            cs_print(cs_mode_names[mode], &split);
            cs_bug("the message depends on how the body is split");
        }

        cs_result_free(&split);
    }
}


/* the row named name, or NULL */
static const ngx_http_cs_field_t *
cs_row(const char *name)
{
    size_t  f;

    for (f = 0; f < cs_schema->schema->nfields; f++) {
        if (strcmp(cs_schema->schema->fields[f].name, name) == 0) {
            return &cs_schema->schema->fields[f];
        }
    }

    return NULL;
}


/*
 * A schema the reference does not know: the grammar is the ticket's, and
 * the field at fault is one its class can name.
 */
static void
cs_against_rows(const cs_result_t *m, const cs_result_t *ticket)
{
    const char                 *problem;
    const ngx_http_cs_field_t  *row;

    problem = NULL;
    row = (m->field != NULL) ? cs_row(m->field) : NULL;

    if (m->rc == NGX_HTTP_CS_JSON_NOMEM || m->rc < 0
        || m->rc > NGX_HTTP_CS_JSON_UNKNOWN)
    {
        problem = "unexpected verdict";

    } else if ((m->rc == NGX_HTTP_CS_JSON_SYNTAX)
               != (ticket->rc == NGX_HTTP_CS_JSON_SYNTAX))
    {
        problem = "a syntax verdict that depends on the schema";

    } else if (m->rc == NGX_HTTP_CS_JSON_SYNTAX
               && strcmp(m->msg, ticket->msg) != 0)
    {
        problem = "a syntax message that depends on the schema";

    } else if ((m->rc == NGX_HTTP_CS_JSON_SYNTAX
                || m->rc == NGX_HTTP_CS_JSON_OK)
               != (m->field == NULL))
    {
        problem = "a field named where none is at fault, or none named";

    } else if (m->rc == NGX_HTTP_CS_JSON_MISSING
               && (row == NULL || !row->required))
    {
        problem = "a missing field that is no required row";

    } else if (m->rc == NGX_HTTP_CS_JSON_INVALID && row == NULL) {
        problem = "an invalid field that is no row";

    } else if (m->rc == NGX_HTTP_CS_JSON_UNKNOWN && row != NULL) {
        problem = "an unknown field that is a row";
    }

    if (problem == NULL) {
        return;
    }

    fprintf(stderr, "\nthe %s schema's verdict is wrong: %s\n",
            cs_schema->name, problem);
    cs_print("module", m);
    cs_print("ticket", ticket);
    cs_bug(problem);
}


/*
 * Every schema sees every input whole; the ticket's and one other's (the
 * input chooses which) are fed in pieces too: the split is the validator's
 * business, not the rows', and 8 schemas fed 3 ways would cost the ticket's
 * reference most of its runs.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t              n, split;
    cs_result_t         ticket, other;
    ref_result_t        ref;
    const cs_schema_t  *sc;

    if (!cs_seeded) {
        cs_seed_hash();
        cs_seeded = 1;
    }

    cs_input = data;
    cs_input_len = size;

    cs_schema = &cs_schemas[0];
    cs_run_all(data, size, 1, &ticket);

    ref_check(data, size, CS_FUZZ_ISSUE_MAX, &ref);
    cs_against_reference(&ticket, &ref);
    ref_result_free(&ref);

    n = sizeof(cs_schemas) / sizeof(cs_schema_t) - 2;
    split = 1 + cs_seed(data, size, CS_FUZZ_MODES) % n;

    for (sc = &cs_schemas[1]; sc->name != NULL; sc++) {
        cs_schema = sc;
        cs_run_all(data, size, sc == &cs_schemas[split], &other);
        cs_against_rows(&other, &ticket);
        cs_result_free(&other);
    }

    cs_result_free(&ticket);

    return 0;
}
