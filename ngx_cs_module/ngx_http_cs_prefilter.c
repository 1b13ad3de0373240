/*
 * cs_rule's prefilter, its second half (see ngx_http_cs_prefilter.h): the
 * Aho-Corasick automaton over all rules' literals, built when the
 * configuration is read and run over each issue in the worker.  The
 * literals come from the reader of regexes, ngx_http_cs_prefilter_rx.c.
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_cs_prefilter.h"


#define NGX_HTTP_CS_PF_CELLS     (4 * 1024 * 1024)


struct ngx_http_cs_prefilter_s {
    ngx_uint_t     nclasses;
    u_char         cls[256];
    uint32_t      *next;        /* state * nclasses + class */
    uint32_t      *hit;         /* the state or its nearest suffix with
                                   outputs, 0 for none */
    uint32_t      *link;        /* hit of the suffix link */
    uint32_t      *first;       /* a state's first output, or -1 */
    uint32_t      *out_rule;
    uint32_t      *out_next;
    uint64_t      *always;      /* the rules without literals */
    uint64_t      *bits;
    ngx_uint_t     nwords;
};


ngx_http_cs_prefilter_t *
ngx_http_cs_prefilter_create(ngx_pool_t *pool, ngx_array_t **lits,
    ngx_uint_t n, ngx_uint_t *none)
{
    size_t                    total;
    uint32_t                  s, t, r, f, c, k, nstates, nout, head, tail;
    uint32_t                 *fail, *queue, *row;
    ngx_str_t                *lit;
    ngx_uint_t                i, j, m, filtered;
    ngx_http_cs_prefilter_t  *pf;

    *none = 1;

    pf = ngx_pcalloc(pool, sizeof(ngx_http_cs_prefilter_t));
    if (pf == NULL) {
        return NULL;
    }

    /* the classes: each folded byte of a literal, 0 for all others */
    total = 0;
    nout = 0;
    filtered = 0;
    k = 1;

    for (i = 0; i < n; i++) {
        if (lits[i] == NULL) {
            continue;
        }

        filtered++;
        lit = lits[i]->elts;

        for (j = 0; j < lits[i]->nelts; j++) {
            total += lit[j].len;
            nout++;

            for (m = 0; m < lit[j].len; m++) {
                c = lit[j].data[m];

                if (pf->cls[c] == 0) {
                    pf->cls[c] = (u_char) k;

                    if (c >= 'a' && c <= 'z') {
                        pf->cls[c & ~0x20] = (u_char) k;
                    }

                    k++;
                }
            }
        }
    }

    if (filtered == 0 || (total + 1) * k > NGX_HTTP_CS_PF_CELLS) {
        return NULL;
    }

    pf->nclasses = k;
    pf->nwords = (n + 63) / 64;

    pf->next = ngx_pcalloc(pool, (total + 1) * k * sizeof(uint32_t));
    pf->hit = ngx_pcalloc(pool, (total + 1) * sizeof(uint32_t));
    pf->link = ngx_pcalloc(pool, (total + 1) * sizeof(uint32_t));
    pf->first = ngx_palloc(pool, (total + 1) * sizeof(uint32_t));
    pf->out_rule = ngx_palloc(pool, nout * sizeof(uint32_t));
    pf->out_next = ngx_palloc(pool, nout * sizeof(uint32_t));
    pf->always = ngx_pcalloc(pool, pf->nwords * sizeof(uint64_t));
    pf->bits = ngx_pcalloc(pool, pf->nwords * sizeof(uint64_t));
    fail = ngx_pcalloc(pool, (total + 1) * sizeof(uint32_t));
    queue = ngx_palloc(pool, (total + 1) * sizeof(uint32_t));

    if (pf->next == NULL || pf->hit == NULL || pf->link == NULL
        || pf->first == NULL || pf->out_rule == NULL || pf->out_next == NULL
        || pf->always == NULL || pf->bits == NULL || fail == NULL
        || queue == NULL)
    {
        *none = 0;
        return NULL;
    }

    /* the trie: 0 is the root, and no child of a state is the root */
    nstates = 1;
    nout = 0;
    pf->first[0] = (uint32_t) -1;

    for (i = 0; i < n; i++) {
        if (lits[i] == NULL) {
            pf->always[i / 64] |= (uint64_t) 1 << (i % 64);
            continue;
        }

        lit = lits[i]->elts;

        for (j = 0; j < lits[i]->nelts; j++) {
            s = 0;

            for (m = 0; m < lit[j].len; m++) {
                row = &pf->next[s * k];
                c = pf->cls[lit[j].data[m]];

                if (row[c] == 0) {
                    pf->first[nstates] = (uint32_t) -1;
                    row[c] = nstates++;
                }

                s = row[c];
            }

            pf->out_rule[nout] = (uint32_t) i;
            pf->out_next[nout] = pf->first[s];
            pf->first[s] = nout++;
        }
    }

    /*
     * Breadth first: each state's suffix link, its missing moves taken
     * from its suffix's (complete by then), and the nearest state along
     * the suffix links that ends a literal
     */
    head = 0;
    tail = 0;

    for (c = 1; c < k; c++) {
        s = pf->next[c];

        if (s != 0) {
            fail[s] = 0;
            pf->hit[s] = (pf->first[s] != (uint32_t) -1) ? s : 0;
            pf->link[s] = 0;
            queue[tail++] = s;
        }
    }

    while (head < tail) {
        r = queue[head++];
        f = fail[r];

        for (c = 0; c < k; c++) {
            s = pf->next[r * k + c];
            t = pf->next[f * k + c];

            if (s == 0) {
                pf->next[r * k + c] = t;
                continue;
            }

            fail[s] = t;
            pf->link[s] = pf->hit[t];
            pf->hit[s] = (pf->first[s] != (uint32_t) -1) ? s : pf->hit[t];
            queue[tail++] = s;
        }
    }

    *none = 0;

    return pf;
}


uint64_t *
ngx_http_cs_prefilter_scan(ngx_http_cs_prefilter_t *pf, ngx_str_t *text)
{
    u_char    *p, *end;
    uint32_t   s, t, o, k, rule;
    uint64_t  *bits;

    bits = pf->bits;
    ngx_memcpy(bits, pf->always, pf->nwords * sizeof(uint64_t));

    k = pf->nclasses;
    s = 0;
    end = text->data + text->len;

    for (p = text->data; p < end; p++) {
        s = pf->next[s * k + pf->cls[*p]];

        for (t = pf->hit[s]; t != 0; t = pf->link[t]) {
            for (o = pf->first[t]; o != (uint32_t) -1; o = pf->out_next[o]) {
                rule = pf->out_rule[o];
                bits[rule / 64] |= (uint64_t) 1 << (rule % 64);
            }
        }
    }

    return bits;
}
