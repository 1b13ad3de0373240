/*
 * A JSON-aware mutator for libFuzzer (linked into the libFuzzer build only).
 *
 * Byte-level mutation rarely turns a valid ticket into one that is valid
 * but for one rule at its edge (a category of 65 characters, an email
 * ending in '@', a userId with U+0085).  Half of the time this mutator
 * instead rewrites one string literal of the input with a value chosen at
 * the schemas' edges, or with a number, literal or list at the edges of the
 * other schemas (1000, 1001, 1.5, 1e2, 33 strings, a string twice), or
 * inserts a member of any schema after the first '{'; the other half it
 * leaves to libFuzzer's own mutations.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define CS_MUT_SPANS  64


size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max,
    unsigned int seed);


typedef struct {
    uint8_t   *p;
    size_t     len;
    size_t     cap;
} cs_buf_t;


/* the names of every schema's rows */
static const char  *cs_names[] = {
    "userId", "issue", "category", "priority", "channel", "email",
    "body", "internal", "state", "agent", "capacity", "skills", "status",
    "csat", "ces", "comment"
};

static const char  *cs_words[] = {
    "userId", "issue", "category", "priority", "channel", "email",
    "low", "normal", "high", "urgent",
    "pending", "solved", "closed", "online", "away", "offline",
    ".", "..", "unassigned", "agent.1", "a-b_c",
    "web", "email", "chat", "social", "phone", "api",
    "", " ", "a@b", "@b", "a@", "a@@b", "a b@c", "x\\u0040y",
    "\\u0085", "\\u0080", "\\u009f", "\\u00a0", "\\u007f", "\\n", "\\t",
    "\\u000b", "\\f", "\\ud83d\\ude00", "\\ud800", "\\udc00", "\\u0000",
    "\\\"", "\\\\", "\x7f", "\xc2\x85", "\xc2\xa0", "\xe2\x80\xa8",
    "\xef\xbb\xbf", "\xf4\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xc0\xaf",
    "\xed\xa0\x80", " \t\r\n"
};

static const char  *cs_fills[] = {
    "a", "z", "0", "-", "_", "A", " ", "@", ".", "\\t", "\\n", "\\u0041",
    "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\x7f"
};

static const size_t  cs_lengths[] = {
    0, 1, 2, 3, 32, 63, 64, 65, 127, 128, 129, 253, 254, 255
};

/* values that are not strings, at the edges of INTEGER and BOOLEAN rows */
static const char  *cs_raws[] = {
    "0", "1", "5", "6", "7", "8", "1000", "1001", "-1", "-0", "1.5", "1.0",
    "1e2", "1E2", "5e0", "9223372036854775807", "9223372036854775808",
    "-9223372036854775808", "-9223372036854775809", "99999999999999999999",
    "true", "false", "null", "{}", "[]", "[null]", "[1]", "[[\"a\"]]",
    "[{\"a\":1}]", "[\"a\",\"a\"]", "[\"a\",\"b\"]", "[\"A\"]",
    "[\"\"]", "[\"a\",\"\\u0061\"]"
};

/* how many strings a generated list has */
static const size_t  cs_counts[] = {
    0, 1, 2, 31, 32, 33
};


static uint32_t
cs_rand(uint32_t *s)
{
    /* xorshift32; never seeded with 0 */
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;

    return *s;
}


static int
cs_add(cs_buf_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        return -1;
    }

    memcpy(b->p + b->len, p, n);
    b->len += n;

    return 0;
}


/* a string's content chosen at the schema's edges */
static int
cs_value(cs_buf_t *b, uint32_t *r)
{
    size_t       i, n, at;
    const char  *fill, *odd;

    if (cs_rand(r) % 3 == 0) {
        odd = cs_words[cs_rand(r) % (sizeof(cs_words) / sizeof(char *))];
        return cs_add(b, odd, strlen(odd));
    }

    n = cs_lengths[cs_rand(r) % (sizeof(cs_lengths) / sizeof(size_t))];
    if (cs_rand(r) % 4 == 0) {
        n = cs_rand(r) % 300;
    }

    fill = cs_fills[cs_rand(r) % 4];
    if (cs_rand(r) % 3 == 0) {
        fill = cs_fills[cs_rand(r) % (sizeof(cs_fills) / sizeof(char *))];
    }

    /* now and then one odd character somewhere, often at an end */
    odd = NULL;
    at = 0;

    if (n > 0 && cs_rand(r) % 2 == 0) {
        odd = cs_words[cs_rand(r) % (sizeof(cs_words) / sizeof(char *))];
        at = cs_rand(r) % 3 == 0 ? 0
             : cs_rand(r) % 2 == 0 ? n - 1 : cs_rand(r) % n;
    }

    for (i = 0; i < n; i++) {
        if (odd != NULL && i == at) {
            if (cs_add(b, odd, strlen(odd)) != 0) {
                return -1;
            }

            continue;
        }

        if (cs_add(b, fill, strlen(fill)) != 0) {
            return -1;
        }
    }

    return 0;
}


/* a value that is no string: a number, a literal, or a list */
static int
cs_raw(cs_buf_t *b, uint32_t *r)
{
    char         item[16];
    size_t       i, n, twice;
    const char  *raw;

    if (cs_rand(r) % 4 != 0) {
        raw = cs_raws[cs_rand(r) % (sizeof(cs_raws) / sizeof(char *))];
        return cs_add(b, raw, strlen(raw));
    }

    n = cs_counts[cs_rand(r) % (sizeof(cs_counts) / sizeof(size_t))];
    twice = (cs_rand(r) % 4 == 0) ? cs_rand(r) % (n + 1) : n;

    if (cs_add(b, "[", 1) != 0) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        /* item i, or at i == twice, the first one again */
        snprintf(item, sizeof(item), "%s\"s%zu\"", i ? "," : "",
                 (i == twice) ? (size_t) 0 : i);

        if (cs_add(b, item, strlen(item)) != 0) {
            return -1;
        }

        if (i == n / 2 && cs_rand(r) % 8 == 0 && cs_value(b, r) != 0) {
            return -1;
        }
    }

    return cs_add(b, "]", 1);
}


size_t
LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max,
    unsigned int seed)
{
    int           in, raw;
    size_t        i, k, nspans, start[CS_MUT_SPANS], end[CS_MUT_SPANS];
    uint8_t      *out;
    uint32_t      r;
    cs_buf_t      b;
    const char   *name;

    r = seed | 1;

    if (size == 0 || cs_rand(&r) % 2 == 0) {
        return LLVMFuzzerMutate(data, size, max);
    }

    /* the string literals, as a lexer would see them */
    nspans = 0;
    in = 0;

    for (i = 0; i < size && nspans < CS_MUT_SPANS; i++) {
        if (!in) {
            if (data[i] == '"') {
                in = 1;
                start[nspans] = i + 1;
            }

        } else if (data[i] == '\\') {
            i++;

        } else if (data[i] == '"') {
            in = 0;
            end[nspans++] = i;
        }
    }

    out = malloc(max);
    if (out == NULL) {
        return LLVMFuzzerMutate(data, size, max);
    }

    b.p = out;
    b.len = 0;
    b.cap = max;

    if (nspans == 0 || cs_rand(&r) % 4 == 0) {
        /* a member after the first '{' (or a whole object) */
        for (i = 0; i < size && data[i] != '{'; i++) {
            /* void */
        }

        if (i == size) {
            if (cs_add(&b, "{\"", 2) != 0 || cs_value(&b, &r) != 0
                || cs_add(&b, "\":\"", 3) != 0 || cs_value(&b, &r) != 0
                || cs_add(&b, "\"}", 2) != 0)
            {
                goto fallback;
            }

        } else {
            name = cs_names[cs_rand(&r) % (sizeof(cs_names) / sizeof(char *))];
            raw = cs_rand(&r) % 3 == 0;

            if (cs_add(&b, data, i + 1) != 0 || cs_add(&b, "\"", 1) != 0
                || cs_add(&b, name, strlen(name)) != 0
                || cs_add(&b, raw ? "\":" : "\":\"", raw ? 2 : 3) != 0
                || (raw ? cs_raw(&b, &r) : cs_value(&b, &r)) != 0
                || cs_add(&b, raw ? "," : "\",", raw ? 1 : 2) != 0
                || cs_add(&b, data + i + 1, size - i - 1) != 0)
            {
                goto fallback;
            }
        }

    } else if (cs_rand(&r) % 4 == 0) {
        /* a string, quotes and all, becomes a value of another type */
        k = cs_rand(&r) % nspans;

        if (cs_add(&b, data, start[k] - 1) != 0 || cs_raw(&b, &r) != 0
            || cs_add(&b, data + end[k] + 1, size - end[k] - 1) != 0)
        {
            goto fallback;
        }

    } else {
        k = cs_rand(&r) % nspans;

        if (cs_add(&b, data, start[k]) != 0 || cs_value(&b, &r) != 0
            || cs_add(&b, data + end[k], size - end[k]) != 0)
        {
            goto fallback;
        }
    }

    memcpy(data, out, b.len);
    free(out);

    return b.len;

fallback:

    free(out);

    return LLVMFuzzerMutate(data, size, max);
}
