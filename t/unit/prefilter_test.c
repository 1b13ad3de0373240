/*
 * Unit tests of cs_rule's prefilter (ngx_cs_module/ngx_http_cs_prefilter_rx.c,
 * the regex reader, and ngx_http_cs_prefilter.c, the automaton)
 * against PCRE2 itself, with nginx's flags (none: no PCRE2_UTF, options
 * only inside the pattern): t/unit/run.sh builds and runs it.
 *
 * First, patterns whose literals are known: the literals read must be
 * exactly those, or none where none can be proven.  Then random patterns
 * built from pieces that are easy to get wrong (caseless groups, escapes,
 * \Q..\E, classes, anchors, lookarounds, quantifiers that make a literal
 * optional or repeat it, (?x) spaces and comments, alternations), twenty
 * rules to a filter, against random texts: whenever PCRE2 matches a
 * rule's regex, the filter must let that rule run.  The summary says how
 * often the filter skipped a regex, so that a filter that lets everything
 * through does not pass unnoticed.
 *
 * Prints one line per failure and a summary; exits 1 on any failure.
 */

#define PCRE2_CODE_UNIT_WIDTH  8

#include <pcre2.h>
#include <stdio.h>

#include "ngx_config.h"
#include "ngx_core.h"
#include "ngx_http_cs_prefilter.h"


#define T_RULES  20
#define T_TEXTS  60

static int  failures;


static unsigned long long  seed = 88172645463325252ULL;

static unsigned
t_random(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return (unsigned) seed;
}


static int
t_count(const char **a)
{
    int  n;

    for (n = 0; a[n] != NULL; n++) { /* void */ }

    return n;
}


/* the literals of a pattern, as "a|b|c", or "-" for none */
static void
t_literals(const char *pattern, char *out, size_t size)
{
    size_t        len;
    ngx_str_t     p, *s;
    ngx_uint_t    i;
    ngx_array_t  *lits;

    p.data = (u_char *) pattern;
    p.len = strlen(pattern);

    if (ngx_http_cs_regex_literals(NULL, &p, &lits) != NGX_OK) {
        snprintf(out, size, "-");
        return;
    }

    out[0] = '\0';
    s = lits->elts;

    for (i = 0; i < lits->nelts; i++) {
        len = strlen(out);
        snprintf(out + len, size - len, "%s%.*s", i ? "|" : "",
                 (int) s[i].len, s[i].data);
    }
}


static const struct {
    const char  *pattern;
    const char  *literals;
} known[] = {
    { "(?i)(refund|cancel|return) order 7\\b|invoice 7 missing",
      " order 7|invoice 7 missing" },
    { "(?i)refund", "refund" },
    { "Refund", "refund" },
    { "colou?r", "colo" },
    { "ab*c", "a" },
    { "ab+c", "ab" },
    { "go{2}gle", "ogle" },
    { "1\\.5\\s*kg", "1.5" },
    { "\\Qa+b\\E=c", "a+b=c" },
    { "a\\tb", "a\tb" },
    { "order [#]?\\d+ lost", "order " },
    { "cancel|abort", "cancel|abort" },
    { "x(y|)z", "x" },
    { "^hello$", "hello" },
    { "\\border\\b", "order" },
    { "(?x) pass \\ word  # comment", "pass word" },
    { "(?x)ab +c", "ab" },
    { "foo(?=bar)", "foo" },
    { "(?<=ab)cd", "cd" },
    { "(?i:Money) back", "money" },
    { "(a(?i)b|c)", "a|c" },
    { "(?:un)?lock(ed)?", "lock" },
    { "(?i)caf\xc3\xa9", "caf" },
    { "(a)\\1", "-" },
    { "(*UTF)(?i)kelvin", "-" },
    { "a|b*", "-" },
    { "\\x41bc", "-" },
    { "[abc]", "-" },
    { "a{,3}b", "-" },
    { "(?#note)abc", "-" },
    { "(?x)a\xc2\x85?b", "-" },
    { NULL, NULL }
};


static const char  *pieces[] = {
    "a", "b", "c", "A", "B", "ab", "Ab", "abc", "ba", " ", "1", "12", ".",
    "\\.", "\\b", "\\B", "\\d", "\\w", "\\s", "\\t", "\\Q.a\\E", "\\Qa b\\E",
    "[ab]", "[^a]", "[]a]", "[[:alpha:]]", "[a-c]", "^", "$", "\\A", "\\z",
    "#", "\\#", "\\ ", "}", "]", "x", "y", "-", "\xc3\xa9", NULL
};

static const char  *quants[] = {
    "", "", "", "", "?", "*", "+", "{0,2}", "{1}", "{2,}", "??", "+?", "*+",
    "{1,3}?", NULL
};

static const char  *opens[] = {
    "(", "(?:", "(?i)", "(?-i)", "(?i:", "(?x)", "(?x:", "(?=", "(?!",
    "(?<=a)", "(?<n>", "(?>", "(?|", "(?i)(?x)", "(?^)", "(?<!b)", NULL
};


static void
t_pattern(char *out, int depth)
{
    int  i, n;

    n = 1 + t_random() % 5;

    for (i = 0; i < n; i++) {
        switch (t_random() % 10) {

        case 0:
            if (depth < 3) {
                strcat(out, opens[t_random() % t_count(opens)]);

                if (out[strlen(out) - 1] != ')') {
                    t_pattern(out, depth + 1);

                    if (t_random() % 3 == 0) {
                        strcat(out, "|");
                        t_pattern(out, depth + 1);
                    }

                    strcat(out, ")");
                }

                break;
            }

            /* fall through */

        case 1:
            if (t_random() % 3 == 0) {
                strcat(out, "|");
                break;
            }

            /* fall through */

        case 2:
            if (t_random() % 4 == 0) {
                strcat(out, t_random() % 2 ? " #c\n" : "  ");
                break;
            }

            /* fall through */

        default:
            strcat(out, pieces[t_random() % t_count(pieces)]);
        }

        strcat(out, quants[t_random() % t_count(quants)]);
    }
}


int
main(void)
{
    int                       i, k, t, j, e, len, m, run, off, sl, l,
                              nknown;
    char                      got[512], pattern[T_RULES][1024], text[160];
    const char               *alpha = "abcABC 1.#\n\t-}]xyzb\xc3\xa9";
    uint64_t                 *bits;
    ngx_str_t                 p, s;
    ngx_uint_t                none;
    PCRE2_SIZE                eo;
    pcre2_code               *re[T_RULES];
    ngx_array_t              *lits[T_RULES];
    pcre2_match_data         *md;
    ngx_http_cs_prefilter_t  *pf;
    long                      pairs, matched, skipped, read, rules;

    for (nknown = 0; known[nknown].pattern != NULL; nknown++) {
        i = nknown;
        t_literals(known[i].pattern, got, sizeof(got));

        if (strcmp(got, known[i].literals) != 0) {
            printf("FAIL: /%s/: literals \"%s\", want \"%s\"\n",
                   known[i].pattern, got, known[i].literals);
            failures++;
        }
    }

    md = pcre2_match_data_create(4, NULL);
    pairs = matched = skipped = read = rules = 0;

    for (run = 0; run < 500; run++) {

        for (i = 0; i < T_RULES; i++) {
            do {
                pattern[i][0] = '\0';
                t_pattern(pattern[i], 0);
                re[i] = pcre2_compile((PCRE2_SPTR) pattern[i],
                                      strlen(pattern[i]), 0, &e, &eo, NULL);
            } while (re[i] == NULL);

            p.data = (u_char *) pattern[i];
            p.len = strlen(pattern[i]);

            if (ngx_http_cs_regex_literals(NULL, &p, &lits[i]) == NGX_ERROR)
            {
                printf("FAIL: no memory\n");
                return 1;
            }

            rules++;
            read += lits[i] != NULL;
        }

        pf = ngx_http_cs_prefilter_create(NULL, lits, T_RULES, &none);
        if (pf == NULL && !none) {
            printf("FAIL: no memory\n");
            return 1;
        }

        for (t = 0; t < T_TEXTS; t++) {
            len = t_random() % 24;

            for (j = 0; j < len; j++) {
                text[j] = alpha[t_random() % strlen(alpha)];
            }

            /* a piece of one of the patterns, so that some match */
            if (t_random() % 2) {
                k = t_random() % T_RULES;
                sl = strlen(pattern[k]);
                off = sl ? t_random() % sl : 0;
                l = t_random() % 8;

                for (j = 0; j < l && off + j < sl && len < 120; j++) {
                    text[len++] = pattern[k][off + j];
                }
            }

            for (j = 0; j < len; j++) {
                if (t_random() % 4 == 0 && text[j] >= 'a' && text[j] <= 'z') {
                    text[j] -= 32;
                }
            }

            s.data = (u_char *) text;
            s.len = len;
            bits = pf ? ngx_http_cs_prefilter_scan(pf, &s) : NULL;

            for (i = 0; i < T_RULES; i++) {
                m = pcre2_match(re[i], (PCRE2_SPTR) text, len, 0, 0, md,
                                NULL) >= 0;
                pairs++;
                matched += m;

                if (bits == NULL || (bits[i / 64] >> (i % 64)) & 1) {
                    continue;
                }

                skipped++;

                if (m) {
                    t_literals(pattern[i], got, sizeof(got));
                    printf("FAIL: /%s/ matches \"%.*s\" but the filter "
                           "skipped it (literals \"%s\")\n",
                           pattern[i], len, text, got);
                    failures++;
                }
            }
        }

        for (i = 0; i < T_RULES; i++) {
            pcre2_code_free(re[i]);
        }
    }

    pcre2_match_data_free(md);

    /* a filter that skips nothing, or reads nothing, proves nothing */
    if (skipped < pairs / 10 || read < rules / 3 || matched < pairs / 10) {
        printf("FAIL: the filter skipped %ld of %ld, read %ld of %ld "
               "patterns, %ld matched\n", skipped, pairs, read, rules,
               matched);
        failures++;
    }

    printf("prefilter: %d failures; %ld known patterns; %ld random rules, "
           "%ld with literals; %ld rule x text pairs, %ld matched, %ld "
           "skipped by the filter\n", failures, (long) nknown, rules, read,
           pairs, matched, skipped);

    return failures ? 1 : 0;
}
