/*
 * A prefilter for cs_rule's regexes, so that the rules a text cannot match
 * cost next to nothing.  When the configuration is read, each rule's
 * regex gives, where it can be proven, a set of literals one of which
 * every match contains (ASCII, case-folded); all rules' literals go into
 * one Aho-Corasick automaton.  In the worker, one pass of the automaton
 * over the issue marks the rules whose literals occur, and only those
 * (and the rules without literals) run their regex.  A rule matches
 * exactly when its regex does: the prefilter only skips a regex that
 * cannot match.
 */

#ifndef NGX_HTTP_CS_PREFILTER_H_INCLUDED_
#define NGX_HTTP_CS_PREFILTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


typedef struct ngx_http_cs_prefilter_s  ngx_http_cs_prefilter_t;


/*
 * The literals of a regex (nginx's flags: no PCRE2_UTF, no other option
 * but those inside the pattern): NGX_OK and *out an array of ngx_str_t,
 * case-folded, one of which every match contains; NGX_DECLINED when none
 * can be proven (an alternation with a branch that has none, a construct
 * the reader does not know, UTF mode); NGX_ERROR without memory.
 */
ngx_int_t ngx_http_cs_regex_literals(ngx_pool_t *pool, ngx_str_t *pattern,
    ngx_array_t **out);

/*
 * The automaton over rules' literals: lits[i] is rule i's literals, NULL
 * for a rule that must always run.  NULL with *none set when no rule has
 * any (nothing to filter); NULL otherwise means no memory.
 */
ngx_http_cs_prefilter_t *ngx_http_cs_prefilter_create(ngx_pool_t *pool,
    ngx_array_t **lits, ngx_uint_t n, ngx_uint_t *none);

/*
 * One pass over text: a bitmap of the rules to run (bit i for rule i),
 * owned by the filter and valid until the next call (the worker calls it
 * synchronously, once per intake).
 */
uint64_t *ngx_http_cs_prefilter_scan(ngx_http_cs_prefilter_t *pf,
    ngx_str_t *text);


#endif /* NGX_HTTP_CS_PREFILTER_H_INCLUDED_ */
