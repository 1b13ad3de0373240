/*
 * The reference check the fuzzer holds the validator to.
 *
 * Deliberately unlike the module: the whole body at once, recursive
 * descent, code points decoded arithmetically (not by byte ranges), keys
 * compared by a linear scan, the schema applied member by member after each
 * value is known.  It follows RFC 8259 to the letter (white space is exactly
 * space, tab, LF and CR; numbers are -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?),
 * RFC 3629 for UTF-8, and DESIGN.md's API contract v1 for the schema.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"


#define REF_MAX_DEPTH        32
#define REF_USER_ID_MAX      128
#define REF_CATEGORY_MAX     64
#define REF_EMAIL_MAX        254
#define REF_FIELD_NAME_MAX   128
#define REF_MAX_KEYS         256


typedef struct ref_mem_s  ref_mem_t;

struct ref_mem_s {
    ref_mem_t            *next;
    unsigned char         data[];
};


typedef struct {
    const unsigned char  *s;
    size_t                len;
    int                   has_cc;      /* a Cc code point: U+0000-1F, 7F-9F */
} ref_str_t;


typedef struct {
    const unsigned char  *start;
    const unsigned char  *p;
    const unsigned char  *end;
    size_t                issue_max;
    int                   depth;

    const char           *why;
    size_t                at;

    ref_mem_t            *mem;
    unsigned char        *scratch;
    size_t                scratch_len;
    size_t                scratch_cap;

    ref_class_e           fault;
    const unsigned char  *fault_field;
    size_t                fault_len;
    int                   seen[REF_FIELDS];
    ref_str_t             val[REF_FIELDS];
} ref_t;


static const char  *ref_names[REF_FIELDS] = {
    "userId", "issue", "category", "priority", "channel", "email"
};


static int ref_value(ref_t *r, ref_str_t *str, int *is_str);


static int
ref_fail(ref_t *r, const char *why)
{
    if (r->why == NULL) {
        r->why = why;
        r->at = (size_t) (r->p - r->start);
    }

    return -1;
}


static void
ref_ws(ref_t *r)
{
    while (r->p < r->end
           && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n'
               || *r->p == '\r'))
    {
        r->p++;
    }
}


static int
ref_put(ref_t *r, unsigned char c)
{
    unsigned char  *n;

    if (r->scratch_len == r->scratch_cap) {
        r->scratch_cap = r->scratch_cap ? r->scratch_cap * 2 : 64;
        n = realloc(r->scratch, r->scratch_cap);
        if (n == NULL) {
            abort();
        }
        r->scratch = n;
    }

    r->scratch[r->scratch_len++] = c;

    return 0;
}


static void
ref_put_cp(ref_t *r, uint32_t cp)
{
    if (cp < 0x80) {
        ref_put(r, (unsigned char) cp);

    } else if (cp < 0x800) {
        ref_put(r, (unsigned char) (0xc0 | (cp >> 6)));
        ref_put(r, (unsigned char) (0x80 | (cp & 0x3f)));

    } else if (cp < 0x10000) {
        ref_put(r, (unsigned char) (0xe0 | (cp >> 12)));
        ref_put(r, (unsigned char) (0x80 | ((cp >> 6) & 0x3f)));
        ref_put(r, (unsigned char) (0x80 | (cp & 0x3f)));

    } else {
        ref_put(r, (unsigned char) (0xf0 | (cp >> 18)));
        ref_put(r, (unsigned char) (0x80 | ((cp >> 12) & 0x3f)));
        ref_put(r, (unsigned char) (0x80 | ((cp >> 6) & 0x3f)));
        ref_put(r, (unsigned char) (0x80 | (cp & 0x3f)));
    }
}


static const unsigned char *
ref_keep(ref_t *r, const unsigned char *s, size_t len)
{
    ref_mem_t  *m;

    m = malloc(sizeof(ref_mem_t) + len + 1);
    if (m == NULL) {
        abort();
    }

    memcpy(m->data, s, len);
    m->data[len] = '\0';
    m->next = r->mem;
    r->mem = m;

    return m->data;
}


/* one UTF-8 sequence starting with a byte >= 0x80, per RFC 3629 */
static int
ref_utf8(ref_t *r, uint32_t *cp)
{
    int            n, i;
    uint32_t       c, min;
    unsigned char  b;

    b = *r->p;

    if ((b & 0xe0) == 0xc0) {
        n = 1;
        c = b & 0x1f;
        min = 0x80;

    } else if ((b & 0xf0) == 0xe0) {
        n = 2;
        c = b & 0x0f;
        min = 0x800;

    } else if ((b & 0xf8) == 0xf0) {
        n = 3;
        c = b & 0x07;
        min = 0x10000;

    } else {
        return ref_fail(r, "UTF-8: not a lead byte");
    }

    for (i = 1; i <= n; i++) {
        if (r->p + i >= r->end) {
            return ref_fail(r, "UTF-8: truncated sequence");
        }

        b = r->p[i];
        if ((b & 0xc0) != 0x80) {
            return ref_fail(r, "UTF-8: missing continuation byte");
        }

        c = (c << 6) | (b & 0x3f);
    }

    if (c < min) {
        return ref_fail(r, "UTF-8: overlong form");
    }

    if (c >= 0xd800 && c <= 0xdfff) {
        return ref_fail(r, "UTF-8: encoded surrogate");
    }

    if (c > 0x10ffff) {
        return ref_fail(r, "UTF-8: beyond U+10FFFF");
    }

    *cp = c;
    r->p += n + 1;

    return 0;
}


static int
ref_hex4(ref_t *r, uint32_t *cp)
{
    int            i;
    uint32_t       c;
    unsigned char  h;

    c = 0;

    for (i = 0; i < 4; i++) {
        if (r->p >= r->end) {
            return ref_fail(r, "\\u: truncated");
        }

        h = *r->p;

        if (h >= '0' && h <= '9') {
            c = c * 16 + (h - '0');

        } else if (h >= 'a' && h <= 'f') {
            c = c * 16 + (h - 'a' + 10);

        } else if (h >= 'A' && h <= 'F') {
            c = c * 16 + (h - 'A' + 10);

        } else {
            return ref_fail(r, "\\u: not a hex digit");
        }

        r->p++;
    }

    *cp = c;

    return 0;
}


/* a string at r->p (the opening quote), decoded into str */
static int
ref_string(ref_t *r, ref_str_t *str)
{
    uint32_t       cp, lo;
    unsigned char  c;

    r->p++;
    r->scratch_len = 0;
    str->has_cc = 0;

    for ( ;; ) {
        if (r->p >= r->end) {
            return ref_fail(r, "unterminated string");
        }

        c = *r->p;

        if (c == '"') {
            r->p++;
            break;
        }

        if (c < 0x20) {
            return ref_fail(r, "raw control character in a string");
        }

        if (c >= 0x80) {
            if (ref_utf8(r, &cp) != 0) {
                return -1;
            }

            ref_put_cp(r, cp);

        } else if (c != '\\') {
            cp = c;
            ref_put(r, c);
            r->p++;

        } else {
            r->p++;
            if (r->p >= r->end) {
                return ref_fail(r, "escape: truncated");
            }

            c = *r->p++;

            switch (c) {
            case '"':
            case '\\':
            case '/':
                cp = c;
                break;
            case 'b':
                cp = 0x08;
                break;
            case 'f':
                cp = 0x0c;
                break;
            case 'n':
                cp = 0x0a;
                break;
            case 'r':
                cp = 0x0d;
                break;
            case 't':
                cp = 0x09;
                break;

            case 'u':
                if (ref_hex4(r, &cp) != 0) {
                    return -1;
                }

                if (cp == 0) {
                    return ref_fail(r, "\\u0000");
                }

                if (cp >= 0xdc00 && cp <= 0xdfff) {
                    return ref_fail(r, "\\u: lone low surrogate");
                }

                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (r->end - r->p < 2 || r->p[0] != '\\'
                        || r->p[1] != 'u')
                    {
                        return ref_fail(r, "\\u: high surrogate alone");
                    }

                    r->p += 2;

                    if (ref_hex4(r, &lo) != 0) {
                        return -1;
                    }

                    if (lo < 0xdc00 || lo > 0xdfff) {
                        return ref_fail(r, "\\u: high surrogate unpaired");
                    }

                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }

                break;

            default:
                return ref_fail(r, "escape: unknown");
            }

            ref_put_cp(r, cp);
        }

        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
            str->has_cc = 1;
        }
    }

    str->len = r->scratch_len;
    str->s = ref_keep(r, r->scratch ? r->scratch : (unsigned char *) "",
                      r->scratch_len);

    return 0;
}


static int
ref_digits(ref_t *r)
{
    const unsigned char  *s;

    s = r->p;

    while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
        r->p++;
    }

    return (r->p > s) ? 0 : ref_fail(r, "number: digit expected");
}


static int
ref_number(ref_t *r)
{
    if (*r->p == '-') {
        r->p++;
    }

    if (r->p < r->end && *r->p == '0') {
        r->p++;

    } else if (r->p < r->end && *r->p >= '1' && *r->p <= '9') {
        (void) ref_digits(r);

    } else {
        return ref_fail(r, "number: digit expected");
    }

    if (r->p < r->end && *r->p == '.') {
        r->p++;
        if (ref_digits(r) != 0) {
            return -1;
        }
    }

    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-')) {
            r->p++;
        }

        if (ref_digits(r) != 0) {
            return -1;
        }
    }

    return 0;
}


static int
ref_literal(ref_t *r, const char *word)
{
    size_t  n;

    n = strlen(word);

    if ((size_t) (r->end - r->p) < n || memcmp(r->p, word, n) != 0) {
        return ref_fail(r, "not a literal");
    }

    r->p += n;

    return 0;
}


static int
ref_enter(ref_t *r)
{
    if (++r->depth > REF_MAX_DEPTH) {
        return ref_fail(r, "nesting deeper than 32");
    }

    r->p++;

    return 0;
}


static int
ref_array(ref_t *r)
{
    if (ref_enter(r) != 0) {
        return -1;
    }

    ref_ws(r);

    if (r->p < r->end && *r->p == ']') {
        r->p++;
        r->depth--;
        return 0;
    }

    for ( ;; ) {
        if (ref_value(r, NULL, NULL) != 0) {
            return -1;
        }

        ref_ws(r);

        if (r->p >= r->end) {
            return ref_fail(r, "array: end of input");
        }

        if (*r->p == ']') {
            r->p++;
            break;
        }

        if (*r->p != ',') {
            return ref_fail(r, "array: ',' or ']' expected");
        }

        r->p++;
    }

    r->depth--;

    return 0;
}


static void
ref_fault(ref_t *r, ref_class_e cls, const unsigned char *name, size_t len)
{
    if (r->fault == REF_OK) {
        r->fault = cls;
        r->fault_field = name;
        r->fault_len = len;
    }
}


static int
ref_one_of(const ref_str_t *s, const char *const *list)
{
    for ( /* void */ ; *list; list++) {
        if (strlen(*list) == s->len && memcmp(*list, s->s, s->len) == 0) {
            return 1;
        }
    }

    return 0;
}


/* DESIGN.md's rule for a field's string value: 1 when it holds */
static int
ref_rule(ref_t *r, int f, const ref_str_t *s)
{
    size_t  i, ats, at;

    static const char *const  priorities[] = {
        "low", "normal", "high", "urgent", NULL
    };
    static const char *const  channels[] = {
        "web", "email", "chat", "social", "phone", "api", NULL
    };

    switch (f) {

    case 0: /* userId */
        return s->len >= 1 && s->len <= REF_USER_ID_MAX && !s->has_cc;

    case 1: /* issue: blank means JSON white space only */
        if (s->len > r->issue_max) {
            return 0;
        }

        for (i = 0; i < s->len; i++) {
            if (strchr(" \t\n\r", s->s[i]) == NULL) {
                return 1;
            }
        }

        return 0;

    case 2: /* category */
        if (s->len < 1 || s->len > REF_CATEGORY_MAX) {
            return 0;
        }

        for (i = 0; i < s->len; i++) {
            if (strchr("abcdefghijklmnopqrstuvwxyz0123456789_-", s->s[i])
                == NULL)
            {
                return 0;
            }
        }

        return 1;

    case 3:
        return ref_one_of(s, priorities);

    case 4:
        return ref_one_of(s, channels);

    default: /* email */
        if (s->len > REF_EMAIL_MAX) {
            return 0;
        }

        ats = 0;
        at = 0;

        for (i = 0; i < s->len; i++) {
            if (s->s[i] <= 0x20 || s->s[i] == 0x7f) {
                return 0;
            }

            if (s->s[i] == '@') {
                ats++;
                at = i;
            }
        }

        return ats == 1 && at != 0 && at != s->len - 1;
    }
}


/* how the module names an unknown field: whole characters, <= 128 bytes */
static size_t
ref_name_len(const unsigned char *s, size_t len)
{
    size_t  i, n;

    i = 0;

    while (i < len) {
        n = (s[i] < 0x80) ? 1 : (s[i] < 0xe0) ? 2 : (s[i] < 0xf0) ? 3 : 4;
        if (i + n > REF_FIELD_NAME_MAX) {
            break;
        }

        i += n;
    }

    return i;
}


/* a member of the root object: the schema applies */
static int
ref_member(ref_t *r, const ref_str_t *key)
{
    int        f, is_str;
    ref_str_t  s;

    for (f = 0; f < REF_FIELDS; f++) {
        if (strlen(ref_names[f]) == key->len
            && memcmp(ref_names[f], key->s, key->len) == 0)
        {
            break;
        }
    }

    if (f == REF_FIELDS) {
        ref_fault(r, REF_UNKNOWN, key->s, ref_name_len(key->s, key->len));
        return ref_value(r, NULL, NULL);
    }

    r->seen[f] = 1;
    is_str = 0;

    if (ref_value(r, &s, &is_str) != 0) {
        return -1;
    }

    if (!is_str || !ref_rule(r, f, &s)) {
        ref_fault(r, REF_INVALID, (const unsigned char *) ref_names[f],
                  strlen(ref_names[f]));
        return 0;
    }

    r->val[f] = s;

    return 0;
}


static int
ref_object(ref_t *r)
{
    int         rc, root;
    size_t      i, nkeys, cap;
    ref_str_t   key, *keys, *nk;

    if (ref_enter(r) != 0) {
        return -1;
    }

    root = (r->depth == 1);
    keys = NULL;
    nkeys = 0;
    cap = 0;
    rc = -1;

    ref_ws(r);

    if (r->p < r->end && *r->p == '}') {
        r->p++;
        goto done;
    }

    for ( ;; ) {
        ref_ws(r);

        if (r->p >= r->end || *r->p != '"') {
            ref_fail(r, "object: key expected");
            goto failed;
        }

        if (ref_string(r, &key) != 0) {
            goto failed;
        }

        /* before the duplicate scan: the key past the cap is not compared */
        if (nkeys == REF_MAX_KEYS) {
            r->p--;             /* the module names the closing quote */
            ref_fail(r, REF_WHY_KEYS);
            goto failed;
        }

        for (i = 0; i < nkeys; i++) {
            if (keys[i].len == key.len
                && memcmp(keys[i].s, key.s, key.len) == 0)
            {
                ref_fail(r, "duplicate key");
                goto failed;
            }
        }

        if (nkeys == cap) {
            cap = cap ? cap * 2 : 8;
            nk = realloc(keys, cap * sizeof(ref_str_t));
            if (nk == NULL) {
                abort();
            }
            keys = nk;
        }

        keys[nkeys++] = key;

        ref_ws(r);

        if (r->p >= r->end || *r->p != ':') {
            ref_fail(r, "object: ':' expected");
            goto failed;
        }

        r->p++;

        if ((root ? ref_member(r, &key) : ref_value(r, NULL, NULL)) != 0) {
            goto failed;
        }

        ref_ws(r);

        if (r->p >= r->end) {
            ref_fail(r, "object: end of input");
            goto failed;
        }

        if (*r->p == '}') {
            r->p++;
            break;
        }

        if (*r->p != ',') {
            ref_fail(r, "object: ',' or '}' expected");
            goto failed;
        }

        r->p++;
    }

done:

    r->depth--;
    rc = 0;

failed:

    free(keys);

    return rc;
}


static int
ref_value(ref_t *r, ref_str_t *str, int *is_str)
{
    ref_str_t  tmp;

    ref_ws(r);

    if (r->p >= r->end) {
        return ref_fail(r, "value expected, end of input");
    }

    switch (*r->p) {

    case '{':
        return ref_object(r);

    case '[':
        return ref_array(r);

    case '"':
        if (is_str != NULL) {
            *is_str = 1;
        }

        return ref_string(r, str ? str : &tmp);

    case 't':
        return ref_literal(r, "true");

    case 'f':
        return ref_literal(r, "false");

    case 'n':
        return ref_literal(r, "null");

    default:
        if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9')) {
            return ref_number(r);
        }

        return ref_fail(r, "value expected");
    }
}


void
ref_check(const unsigned char *p, size_t n, size_t issue_max,
    ref_result_t *res)
{
    int         f;
    ref_t       r;
    ref_mem_t  *m, *next;

    memset(&r, 0, sizeof(ref_t));
    memset(res, 0, sizeof(ref_result_t));

    r.start = p;
    r.p = p;
    r.end = p + n;
    r.issue_max = issue_max;

    ref_ws(&r);

    if (r.p >= r.end) {
        ref_fail(&r, "empty body");

    } else if (*r.p != '{') {
        ref_fail(&r, "the root is not an object");

    } else if (ref_object(&r) == 0) {
        ref_ws(&r);

        if (r.p != r.end) {
            ref_fail(&r, "trailing bytes");
        }
    }

    if (r.why != NULL) {
        res->cls = REF_SYNTAX;
        res->why = r.why;
        res->at = r.at;
        goto done;
    }

    if (r.fault == REF_OK) {
        if (!r.seen[0]) {
            ref_fault(&r, REF_MISSING, (const unsigned char *) "userId", 6);

        } else if (!r.seen[1]) {
            ref_fault(&r, REF_MISSING, (const unsigned char *) "issue", 5);
        }
    }

    if (r.fault != REF_OK) {
        res->cls = r.fault;
        res->why = "schema";
        res->field = malloc(r.fault_len + 1);
        if (res->field == NULL) {
            abort();
        }
        memcpy(res->field, r.fault_field, r.fault_len);
        res->field[r.fault_len] = '\0';
        res->field_len = r.fault_len;
        goto done;
    }

    if (!r.seen[3]) {
        r.val[3].s = (const unsigned char *) "normal";
        r.val[3].len = 6;
    }

    if (!r.seen[4]) {
        r.val[4].s = (const unsigned char *) "api";
        r.val[4].len = 3;
    }

    res->cls = REF_OK;
    res->why = "accepted";

    for (f = 0; f < REF_FIELDS; f++) {
        res->value[f] = malloc(r.val[f].len + 1);
        if (res->value[f] == NULL) {
            abort();
        }
        if (r.val[f].len) {
            memcpy(res->value[f], r.val[f].s, r.val[f].len);
        }
        res->value_len[f] = r.val[f].len;
    }

done:

    for (m = r.mem; m; m = next) {
        next = m->next;
        free(m);
    }

    free(r.scratch);
}


void
ref_result_free(ref_result_t *res)
{
    int  f;

    free(res->field);

    for (f = 0; f < REF_FIELDS; f++) {
        free(res->value[f]);
    }

    memset(res, 0, sizeof(ref_result_t));
}


const char *
ref_class_name(ref_class_e cls)
{
    static const char  *names[] = {
        "ok", "syntax", "missing", "invalid", "unknown"
    };

    return (unsigned) cls < 5 ? names[cls] : "?";
}
