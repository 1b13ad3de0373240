/*
 * Automatic answers (cs_rule): read, checked and compiled with the
 * configuration, so that a bad rule fails nginx -t with a message naming
 * it; matched in the worker against the decoded issue text.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_cs_module.h"
#include "ngx_http_cs_schema.h"
#include "ngx_http_cs_rules.h"


static ngx_int_t
ngx_http_cs_rule_name_ok(ngx_str_t *name)
{
    size_t  i;

    if (name->len == 0 || name->len > NGX_HTTP_CS_RULE_NAME_MAX) {
        return 0;
    }

    for (i = 0; i < name->len; i++) {
        if (!((name->data[i] >= 'a' && name->data[i] <= 'z')
              || (name->data[i] >= 'A' && name->data[i] <= 'Z')
              || (name->data[i] >= '0' && name->data[i] <= '9')
              || name->data[i] == '_' || name->data[i] == '.'
              || name->data[i] == '-'))
        {
            return 0;
        }
    }

    return 1;
}


/* UTF-8 without control characters other than tab and newline */
static ngx_int_t
ngx_http_cs_rule_text_ok(ngx_str_t *s)
{
    u_char    *p, *end;
    uint32_t   ch;

    p = s->data;
    end = s->data + s->len;

    while (p < end) {
        if (*p < 0x80) {
            if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f) {
                return 0;
            }

            p++;
            continue;
        }

        ch = ngx_utf8_decode(&p, end - p);

        if (ch > 0x10ffff) {
            return 0;
        }
    }

    return 1;
}


char *
ngx_http_cs_rule_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cs_loc_conf_t *cslcf = conf;

    u_char                errstr[NGX_MAX_CONF_ERRSTR];
    ngx_str_t            *value;
    ngx_uint_t            i;
    ngx_regex_compile_t   rc;
    ngx_http_cs_rule_t   *rule, *rules;

    value = cf->args->elts;

    if (cslcf->rules == NGX_CONF_UNSET_PTR) {
        cslcf->rules = ngx_array_create(cf->pool, 8,
                                        sizeof(ngx_http_cs_rule_t));
        if (cslcf->rules == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (!ngx_http_cs_rule_name_ok(&value[1])) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cs_rule \"%V\": a rule's name is 1 to 64 "
                           "characters of [A-Za-z0-9_.-]", &value[1]);
        return NGX_CONF_ERROR;
    }

    rules = cslcf->rules->elts;

    for (i = 0; i < cslcf->rules->nelts; i++) {
        if (rules[i].name.len == value[1].len
            && ngx_strncmp(rules[i].name.data, value[1].data, value[1].len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cs_rule \"%V\" is already defined at this "
                               "level", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    if (value[3].len == 0 || value[3].len > NGX_HTTP_CS_RULE_ANSWER_MAX
        || !ngx_http_cs_rule_text_ok(&value[3]))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cs_rule \"%V\": the answer must be 1 to 4096 "
                           "bytes of UTF-8 text", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 5
        && !ngx_http_cs_category_ok(value[4].data, value[4].len))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cs_rule \"%V\": the category \"%V\" is not 1 to "
                           "64 characters of [a-z0-9_-]", &value[1],
                           &value[4]);
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&rc, sizeof(ngx_regex_compile_t));

    rc.pattern = value[2];
    rc.pool = cf->pool;
    rc.err.len = NGX_MAX_CONF_ERRSTR;
    rc.err.data = errstr;

    if (ngx_regex_compile(&rc) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cs_rule \"%V\": the regex does not compile: %V",
                           &value[1], &rc.err);
        return NGX_CONF_ERROR;
    }

    rule = ngx_array_push(cslcf->rules);
    if (rule == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(rule, sizeof(ngx_http_cs_rule_t));

    rule->name = value[1];
    rule->regex = rc.regex;
    rule->answer = value[3];

    switch (ngx_http_cs_regex_literals(cf->pool, &value[2],
                                       &rule->literals))
    {
    case NGX_OK:
    case NGX_DECLINED:
        break;

    default:
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 5) {
        rule->category = value[4];

    } else {
        ngx_str_null(&rule->category);
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_cs_rules_prefilter(ngx_conf_t *cf, ngx_array_t *rules)
{
    ngx_uint_t                i, none;
    ngx_array_t             **lits;
    ngx_http_cs_rule_t       *rule;
    ngx_http_cs_prefilter_t  *pf;

    if (rules == NULL || rules->nelts == 0) {
        return NGX_OK;
    }

    rule = rules->elts;

    if (rule[0].prefiltered) {
        return NGX_OK;
    }

    lits = ngx_palloc(cf->temp_pool, rules->nelts * sizeof(ngx_array_t *));
    if (lits == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < rules->nelts; i++) {
        lits[i] = rule[i].literals;
    }

    pf = ngx_http_cs_prefilter_create(cf->pool, lits, rules->nelts, &none);
    if (pf == NULL && !none) {
        return NGX_ERROR;
    }

    for (i = 0; i < rules->nelts; i++) {
        rule[i].filter = pf;
        rule[i].prefiltered = 1;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_cs_rules_match(ngx_array_t *rules, ngx_str_t *text,
    ngx_uint_t *out, ngx_uint_t max, ngx_log_t *log)
{
    uint64_t            *run;
    ngx_int_t            rc;
    ngx_uint_t           i, n;
    ngx_http_cs_rule_t  *rule;

    if (rules == NULL || rules->nelts == 0) {
        return 0;
    }

    rule = rules->elts;
    n = 0;

    /* the rules whose regex can match: one pass over the text */
    run = NULL;

    if (rule[0].filter != NULL) {
        run = ngx_http_cs_prefilter_scan(rule[0].filter, text);
    }

    for (i = 0; i < rules->nelts && n < max; i++) {

        if (run != NULL && !(run[i / 64] & ((uint64_t) 1 << (i % 64)))) {
            continue;
        }

        rc = ngx_regex_exec(rule[i].regex, text, NULL, 0);

        if (rc == NGX_REGEX_NO_MATCHED) {
            continue;
        }

        if (rc < 0) {
            /* the text is not logged: it is the customer's */
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "cs: cs_rule \"%V\" failed to match: %i",
                          &rule[i].name, rc);
            return NGX_ERROR;
        }

        out[n++] = i;
    }

    return n;
}
