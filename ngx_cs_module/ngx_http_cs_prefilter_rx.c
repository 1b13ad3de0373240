/*
 * cs_rule's prefilter, its first half (see ngx_http_cs_prefilter.h): the
 * reader that turns a regex into the literals every match contains; the
 * automaton over them is in ngx_http_cs_prefilter.c.
 *
 * The reader of a regex knows a small, safe part of PCRE2's syntax and
 * gives up on anything else.  Of each sequence it keeps the runs of
 * literal characters that every match of the sequence holds contiguously,
 * and the literal sets of groups that must match at least once; an
 * alternation's set is the union of its branches' (none if a branch has
 * none).  Everything is folded to lower case, and the text is folded the
 * same way when scanned, so caseless and case-sensitive parts alike give
 * a set that every match contains (the filter may let through a rule
 * whose regex then fails; it never drops one whose regex matches).
 * Non-ASCII bytes never enter a literal: nginx compiles without
 * PCRE2_UTF, and a pattern that turns it on with a (*VERB) is not read.
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_cs_prefilter.h"


#define NGX_HTTP_CS_LIT_MAX      32     /* bytes kept of a literal */
#define NGX_HTTP_CS_LITS_MAX     64     /* literals in one set */
#define NGX_HTTP_CS_RX_DEPTH     32     /* groups inside groups */


typedef struct {
    u_char        *p;
    u_char        *end;
    ngx_pool_t    *pool;
    ngx_uint_t     depth;
    ngx_uint_t     giveup;
    ngx_uint_t     error;
} ngx_http_cs_rx_t;


typedef struct {
    u_char         data[NGX_HTTP_CS_LIT_MAX];
    size_t         len;
    ngx_array_t   *best;
} ngx_http_cs_rx_seq_t;


static ngx_array_t *ngx_http_cs_rx_alt(ngx_http_cs_rx_t *rx, ngx_uint_t x);


#define ngx_http_cs_fold(c)  (((c) >= 'A' && (c) <= 'Z') ? (c) | 0x20 : (c))
#define ngx_http_cs_digit(c)  ((c) >= '0' && (c) <= '9')


/* (?x): white space and # comments between items are not part of them */
static void
ngx_http_cs_rx_skip(ngx_http_cs_rx_t *rx, ngx_uint_t x)
{
    if (!x) {
        return;
    }

    while (rx->p < rx->end) {

        if (*rx->p == ' ' || *rx->p == '\t' || *rx->p == '\n'
            || *rx->p == '\r' || *rx->p == '\f' || *rx->p == '\v')
        {
            rx->p++;
            continue;
        }

        if (*rx->p == '#') {
            while (rx->p < rx->end && *rx->p != '\n') {
                rx->p++;
            }

            continue;
        }

        /* NEL and others may count as white space: not read */
        if (*rx->p >= 0x80) {
            rx->giveup = 1;
        }

        return;
    }
}


/*
 * The quantifier after an item, consumed: its minimum, or -1 for none.  A
 * "{" that is not {n}, {n,} or {n,m} is left for the caller, which gives
 * up on it.
 */
static ngx_int_t
ngx_http_cs_rx_quant(ngx_http_cs_rx_t *rx, ngx_uint_t x)
{
    u_char     *p;
    ngx_int_t   min;

    ngx_http_cs_rx_skip(rx, x);

    if (rx->p == rx->end) {
        return -1;
    }

    p = rx->p;

    switch (*p) {

    case '?':
    case '*':
        min = 0;
        p++;
        break;

    case '+':
        min = 1;
        p++;
        break;

    case '{':
        p++;

        if (p == rx->end || !ngx_http_cs_digit(*p)) {
            return -1;
        }

        min = 0;

        while (p < rx->end && ngx_http_cs_digit(*p)) {
            if (min < 1000000) {
                min = min * 10 + (*p - '0');
            }

            p++;
        }

        if (p < rx->end && *p == ',') {
            p++;

            while (p < rx->end && ngx_http_cs_digit(*p)) {
                p++;
            }
        }

        if (p == rx->end || *p != '}') {
            return -1;
        }

        p++;
        break;

    default:
        return -1;
    }

    rx->p = p;

    /* lazy or possessive */
    ngx_http_cs_rx_skip(rx, x);

    if (rx->p < rx->end && (*rx->p == '?' || *rx->p == '+')) {
        rx->p++;
    }

    return min;
}


/* a set is better with a longer shortest literal, then with fewer */
static size_t
ngx_http_cs_rx_score(ngx_array_t *set)
{
    size_t      min;
    ngx_str_t  *s;
    ngx_uint_t  i;

    s = set->elts;
    min = NGX_HTTP_CS_LIT_MAX + 1;

    for (i = 0; i < set->nelts; i++) {
        if (s[i].len < min) {
            min = s[i].len;
        }
    }

    return min;
}


static void
ngx_http_cs_rx_consider(ngx_http_cs_rx_seq_t *seq, ngx_array_t *set)
{
    size_t  a, b;

    if (seq->best == NULL) {
        seq->best = set;
        return;
    }

    a = ngx_http_cs_rx_score(set);
    b = ngx_http_cs_rx_score(seq->best);

    if (a > b || (a == b && set->nelts < seq->best->nelts)) {
        seq->best = set;
    }
}


/* the run of literal characters so far ends: it is a candidate */
static void
ngx_http_cs_rx_flush(ngx_http_cs_rx_t *rx, ngx_http_cs_rx_seq_t *seq)
{
    ngx_str_t    *s;
    ngx_array_t  *set;

    if (seq->len == 0) {
        return;
    }

    set = ngx_array_create(rx->pool, 1, sizeof(ngx_str_t));
    if (set == NULL) {
        rx->error = 1;
        return;
    }

    s = ngx_array_push(set);
    s->len = seq->len;
    s->data = ngx_pnalloc(rx->pool, seq->len);
    if (s->data == NULL) {
        rx->error = 1;
        return;
    }

    ngx_memcpy(s->data, seq->data, seq->len);
    seq->len = 0;

    ngx_http_cs_rx_consider(seq, set);
}


/* a run longer than the cap keeps its start: still in every match */
static void
ngx_http_cs_rx_append(ngx_http_cs_rx_seq_t *seq, u_char c)
{
    if (seq->len < NGX_HTTP_CS_LIT_MAX) {
        seq->data[seq->len++] = c;
    }
}


/* a literal character and its quantifier */
static void
ngx_http_cs_rx_char(ngx_http_cs_rx_t *rx, ngx_http_cs_rx_seq_t *seq,
    ngx_uint_t x, u_char c)
{
    ngx_int_t  min;

    c = ngx_http_cs_fold(c);
    min = ngx_http_cs_rx_quant(rx, x);

    if (min == -1) {
        ngx_http_cs_rx_append(seq, c);

    } else if (min == 0) {
        /* optional: the run stops before it */
        ngx_http_cs_rx_flush(rx, seq);

    } else {
        /* at least once: it ends one run and starts the next */
        ngx_http_cs_rx_append(seq, c);
        ngx_http_cs_rx_flush(rx, seq);
        ngx_http_cs_rx_append(seq, c);
    }
}


/* an item whose text is not known: it ends the run, with its quantifier */
static void
ngx_http_cs_rx_other(ngx_http_cs_rx_t *rx, ngx_http_cs_rx_seq_t *seq,
    ngx_uint_t x)
{
    ngx_http_cs_rx_flush(rx, seq);
    (void) ngx_http_cs_rx_quant(rx, x);
}


/* [...]: to its end; its content does not matter */
static void
ngx_http_cs_rx_class(ngx_http_cs_rx_t *rx)
{
    u_char  *p, *end, d;

    p = rx->p + 1;
    end = rx->end;

    if (p < end && *p == '^') {
        p++;
    }

    /* a "]" first is a member */
    if (p < end && *p == ']') {
        p++;
    }

    while (p < end) {

        if (*p == '\\') {
            if (p + 1 >= end || p[1] == 'Q' || p[1] == 'E') {
                break;
            }

            p += 2;
            continue;
        }

        if (*p == '[' && p + 1 < end
            && (p[1] == ':' || p[1] == '.' || p[1] == '='))
        {
            d = p[1];
            p += 2;

            while (p + 1 < end && !(p[0] == d && p[1] == ']')) {
                p++;
            }

            if (p + 1 >= end) {
                break;
            }

            p += 2;
            continue;
        }

        if (*p == ']') {
            rx->p = p + 1;
            return;
        }

        p++;
    }

    rx->giveup = 1;
}


/*
 * After "(?": option letters up to ")" (0: they apply to the rest of the
 * group) or ":" (1: a group with them); -1 for anything else.
 */
static ngx_int_t
ngx_http_cs_rx_flags(ngx_http_cs_rx_t *rx, ngx_uint_t *x)
{
    u_char      c;
    ngx_uint_t  neg, first;

    neg = 0;
    first = 1;

    while (rx->p < rx->end) {
        c = *rx->p++;

        if (c == ')') {
            return 0;
        }

        if (c == ':') {
            return 1;
        }

        if (c == '^' && first) {
            *x = 0;

        } else if (c == '-' && !neg) {
            neg = 1;

        } else if (c == 'x') {
            *x = !neg;

        } else if (c != 'i' && c != 'm' && c != 'n' && c != 's' && c != 'U'
                   && c != 'J')
        {
            return -1;
        }

        first = 0;
    }

    return -1;
}


/* a group's name, up to its closing character */
static ngx_int_t
ngx_http_cs_rx_name(ngx_http_cs_rx_t *rx, u_char close)
{
    while (rx->p < rx->end
           && ((*rx->p >= 'a' && *rx->p <= 'z')
               || (*rx->p >= 'A' && *rx->p <= 'Z')
               || ngx_http_cs_digit(*rx->p) || *rx->p == '_'))
    {
        rx->p++;
    }

    if (rx->p == rx->end || *rx->p != close) {
        return NGX_DECLINED;
    }

    rx->p++;

    return NGX_OK;
}


/*
 * A group, rx->p at its "(".  Its literal set (NULL for none) in *set;
 * *look for a lookaround, whose text is not the match's.  NGX_DONE for an
 * option setting "(?x)": *x changed, no group.
 */
static ngx_int_t
ngx_http_cs_rx_group(ngx_http_cs_rx_t *rx, ngx_uint_t *x, ngx_array_t **set,
    ngx_uint_t *look)
{
    u_char      c;
    ngx_int_t   rc;
    ngx_uint_t  ix;

    *look = 0;
    *set = NULL;
    ix = *x;

    rx->p++;

    if (rx->p < rx->end && *rx->p == '*') {
        /* (*VERB), (*pla:...): not read */
        return NGX_DECLINED;
    }

    if (rx->p < rx->end && *rx->p == '?') {
        rx->p++;

        if (rx->p == rx->end) {
            return NGX_DECLINED;
        }

        c = *rx->p;

        if (c == ':' || c == '>' || c == '|') {
            rx->p++;

        } else if (c == '=' || c == '!') {
            rx->p++;
            *look = 1;

        } else if (c == '<') {
            rx->p++;

            if (rx->p < rx->end && (*rx->p == '=' || *rx->p == '!')) {
                rx->p++;
                *look = 1;

            } else if (ngx_http_cs_rx_name(rx, '>') != NGX_OK) {
                return NGX_DECLINED;
            }

        } else if (c == 'P') {
            rx->p++;

            if (rx->p == rx->end || *rx->p != '<') {
                return NGX_DECLINED;
            }

            rx->p++;

            if (ngx_http_cs_rx_name(rx, '>') != NGX_OK) {
                return NGX_DECLINED;
            }

        } else if (c == '\'') {
            rx->p++;

            if (ngx_http_cs_rx_name(rx, '\'') != NGX_OK) {
                return NGX_DECLINED;
            }

        } else {
            rc = ngx_http_cs_rx_flags(rx, &ix);

            if (rc == -1) {
                return NGX_DECLINED;
            }

            if (rc == 0) {
                *x = ix;
                return NGX_DONE;
            }
        }
    }

    if (++rx->depth > NGX_HTTP_CS_RX_DEPTH) {
        return NGX_DECLINED;
    }

    *set = ngx_http_cs_rx_alt(rx, ix);

    rx->depth--;

    if (rx->giveup || rx->error) {
        return NGX_DECLINED;
    }

    if (rx->p == rx->end || *rx->p != ')') {
        return NGX_DECLINED;
    }

    rx->p++;

    return NGX_OK;
}


/* "\" and what follows, rx->p after the "\" */
static void
ngx_http_cs_rx_escape(ngx_http_cs_rx_t *rx, ngx_http_cs_rx_seq_t *seq,
    ngx_uint_t x)
{
    u_char  c, *q, *qend;

    if (rx->p == rx->end) {
        rx->giveup = 1;
        return;
    }

    c = *rx->p++;

    switch (c) {

    case 'Q':
        /* quoted up to \E or the end: every byte is itself */
        for (qend = rx->p; qend + 1 < rx->end; qend++) {
            if (qend[0] == '\\' && qend[1] == 'E') {
                break;
            }
        }

        if (qend + 1 >= rx->end) {
            qend = rx->end;
        }

        for (q = rx->p; q < qend; q++) {
            if (*q >= 0x80) {
                ngx_http_cs_rx_flush(rx, seq);

            } else {
                ngx_http_cs_rx_append(seq, ngx_http_cs_fold(*q));
            }
        }

        rx->p = (qend == rx->end) ? qend : qend + 2;

        /* what a quantifier after \E applies to is not guessed */
        if (ngx_http_cs_rx_quant(rx, x) != -1) {
            rx->giveup = 1;
        }

        return;

    case 'b':
    case 'B':
        /* a boundary matches no text: the run goes on across it */
        if (ngx_http_cs_rx_quant(rx, x) != -1) {
            rx->giveup = 1;
        }

        return;

    case 'A': case 'z': case 'Z': case 'G': case 'K':
    case 'd': case 'D': case 'w': case 'W': case 's': case 'S':
    case 'h': case 'H': case 'v': case 'V': case 'R': case 'X': case 'C':
        ngx_http_cs_rx_other(rx, seq, x);
        return;

    case 'N':
        if (rx->p < rx->end && *rx->p == '{') {
            rx->giveup = 1;
            return;
        }

        ngx_http_cs_rx_other(rx, seq, x);
        return;

    case 't':
        c = '\t';
        break;

    case 'n':
        c = '\n';
        break;

    case 'r':
        c = '\r';
        break;

    case 'f':
        c = '\f';
        break;

    case 'e':
        c = 0x1b;
        break;

    case 'a':
        c = 0x07;
        break;

    default:
        /* "\" before any ASCII character that is not alphanumeric */
        if (c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || ngx_http_cs_digit(c))
        {
            /* \x, \o, \c, \p, \g, \k, back references, ... */
            rx->giveup = 1;
            return;
        }
    }

    ngx_http_cs_rx_char(rx, seq, x, c);
}


/* a sequence, up to "|", ")" or the end: its best literal set or NULL */
static ngx_array_t *
ngx_http_cs_rx_seq(ngx_http_cs_rx_t *rx, ngx_uint_t *x)
{
    u_char                 c;
    ngx_int_t              rc;
    ngx_uint_t             look;
    ngx_array_t           *set;
    ngx_http_cs_rx_seq_t   seq;

    seq.len = 0;
    seq.best = NULL;

    for ( ;; ) {
        ngx_http_cs_rx_skip(rx, *x);

        if (rx->giveup || rx->error) {
            return NULL;
        }

        if (rx->p == rx->end || *rx->p == '|' || *rx->p == ')') {
            break;
        }

        c = *rx->p;

        switch (c) {

        case '(':
            rc = ngx_http_cs_rx_group(rx, x, &set, &look);

            if (rc == NGX_DECLINED) {
                rx->giveup = 1;
                return NULL;
            }

            ngx_http_cs_rx_flush(rx, &seq);

            if (rc == NGX_DONE) {
                if (ngx_http_cs_rx_quant(rx, *x) != -1) {
                    rx->giveup = 1;
                }

                break;
            }

            /* a group that may match nothing adds nothing */
            if (ngx_http_cs_rx_quant(rx, *x) != 0 && !look && set != NULL) {
                ngx_http_cs_rx_consider(&seq, set);
            }

            break;

        case '[':
            ngx_http_cs_rx_class(rx);

            if (!rx->giveup) {
                ngx_http_cs_rx_other(rx, &seq, *x);
            }

            break;

        case '.':
        case '^':
        case '$':
            rx->p++;
            ngx_http_cs_rx_other(rx, &seq, *x);
            break;

        case '\\':
            rx->p++;
            ngx_http_cs_rx_escape(rx, &seq, *x);
            break;

        case '*':
        case '+':
        case '?':
        case '{':
            rx->giveup = 1;
            return NULL;

        default:
            rx->p++;

            if (c >= 0x80) {
                /* one byte of a character: not in a literal */
                ngx_http_cs_rx_other(rx, &seq, *x);
                break;
            }

            ngx_http_cs_rx_char(rx, &seq, *x, c);
        }
    }

    ngx_http_cs_rx_flush(rx, &seq);

    return seq.best;
}


/* branches up to ")" or the end: the union of their sets, or NULL */
static ngx_array_t *
ngx_http_cs_rx_alt(ngx_http_cs_rx_t *rx, ngx_uint_t x)
{
    ngx_str_t    *s, *lit;
    ngx_uint_t    i, all;
    ngx_array_t  *set, *uni;

    uni = NULL;
    all = 1;

    for ( ;; ) {
        /* an option set in one branch holds in the next ones too */
        set = ngx_http_cs_rx_seq(rx, &x);

        if (rx->giveup || rx->error) {
            return NULL;
        }

        if (set == NULL) {
            all = 0;

        } else if (all) {
            if (uni == NULL) {
                uni = ngx_array_create(rx->pool, set->nelts,
                                       sizeof(ngx_str_t));
                if (uni == NULL) {
                    rx->error = 1;
                    return NULL;
                }
            }

            s = set->elts;

            for (i = 0; i < set->nelts; i++) {
                if (uni->nelts == NGX_HTTP_CS_LITS_MAX) {
                    all = 0;
                    break;
                }

                lit = ngx_array_push(uni);
                if (lit == NULL) {
                    rx->error = 1;
                    return NULL;
                }

                *lit = s[i];
            }
        }

        if (rx->p < rx->end && *rx->p == '|') {
            rx->p++;
            continue;
        }

        break;
    }

    return all ? uni : NULL;
}


ngx_int_t
ngx_http_cs_regex_literals(ngx_pool_t *pool, ngx_str_t *pattern,
    ngx_array_t **out)
{
    ngx_array_t       *set;
    ngx_http_cs_rx_t   rx;

    *out = NULL;

    rx.p = pattern->data;
    rx.end = pattern->data + pattern->len;
    rx.pool = pool;
    rx.depth = 0;
    rx.giveup = 0;
    rx.error = 0;

    set = ngx_http_cs_rx_alt(&rx, 0);

    if (rx.error) {
        return NGX_ERROR;
    }

    if (rx.giveup || set == NULL || rx.p != rx.end) {
        return NGX_DECLINED;
    }

    *out = set;

    return NGX_OK;
}
