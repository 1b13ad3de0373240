/*
 * Automatic answers: cs_rule name regex "answer" [category];  The rules
 * are compiled with nginx's regex (PCRE, JIT under pcre_jit on) when the
 * configuration is read, and tried in order against a ticket's issue in
 * the worker, before its script is called.
 */

#ifndef NGX_HTTP_CS_RULES_H_INCLUDED_
#define NGX_HTTP_CS_RULES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_cs_prefilter.h"


#define NGX_HTTP_CS_RULE_NAME_MAX     64
#define NGX_HTTP_CS_RULE_ANSWER_MAX   4096
/* the first matching rule answers; up to 3 others are suggested */
#define NGX_HTTP_CS_SUGGESTIONS       3


typedef struct {
    ngx_str_t                   name;
    ngx_regex_t                *regex;
    ngx_str_t                   answer;
    ngx_str_t                   category;    /* "" for none */
    /* one of which every match contains (folded), NULL if none is known */
    ngx_array_t                *literals;
    /* the rules' prefilter, the same in every rule of a list */
    ngx_http_cs_prefilter_t    *filter;
    unsigned                    prefiltered:1;
} ngx_http_cs_rule_t;


/* the directive: conf's rules (an ngx_array_t * of ngx_http_cs_rule_t) */
char *ngx_http_cs_rule_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * The prefilter of a list of rules, built once when the configuration is
 * merged (a list inherited from an enclosing level is built once).
 */
ngx_int_t ngx_http_cs_rules_prefilter(ngx_conf_t *cf, ngx_array_t *rules);

/*
 * The rules whose regex matches text, in order, at most max of them: their
 * indexes in out[].  Returns how many, or NGX_ERROR when a match failed (a
 * PCRE error, logged).
 */
ngx_int_t ngx_http_cs_rules_match(ngx_array_t *rules, ngx_str_t *text,
    ngx_uint_t *out, ngx_uint_t max, ngx_log_t *log);


#endif /* NGX_HTTP_CS_RULES_H_INCLUDED_ */
