/*
 * The intake's row: POST service.  Its body is the ticket, validated as it
 * streams (ngx_http_cs_json.c) against the ticket's rows
 * (ngx_http_cs_schema.c); then the Idempotency-Key, the proof of the
 * user id (X-CS-User) and the arguments of the intake script; then the
 * 201, which is v1's answer plus "token" where the desk has cs_secret.
 * The user's keys in Redis are named here, with an HMAC of the user id,
 * so that no key name holds the id and no script ever sees the secret.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <hiredis/hiredis.h>

#include "ngx_http_cs_module.h"
#include "ngx_http_cs_json.h"
#include "ngx_http_cs_schema.h"
#include "ngx_http_cs_redis.h"
#include "ngx_http_cs_rules.h"
#include "ngx_http_cs_crypt.h"
#include "ngx_http_cs_insights.h"


/*
 * what the intake script answers: {outcome, id, agent, state, nonce,
 * answer, categories}
 */
#define NGX_HTTP_CS_INTAKE_OUTCOME     0
#define NGX_HTTP_CS_INTAKE_ID          1
#define NGX_HTTP_CS_INTAKE_AGENT       2
#define NGX_HTTP_CS_INTAKE_STATE       3
#define NGX_HTTP_CS_INTAKE_NONCE       4
#define NGX_HTTP_CS_INTAKE_ANSWER      5
#define NGX_HTTP_CS_INTAKE_CATEGORIES  6
#define NGX_HTTP_CS_INTAKE_REPLY       7


static ngx_int_t ngx_http_cs_intake_args(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, ngx_array_t *args);
static ngx_int_t ngx_http_cs_intake_answer(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, redisReply *reply);


const ngx_http_cs_endpoint_t  ngx_http_cs_intake_endpoint = {
    NGX_HTTP_POST, "service",
    NGX_HTTP_CS_ANYONE,
    &ngx_http_cs_schema_ticket, 1, NGX_HTTP_CS_SCRIPT_INTAKE,
    ngx_http_cs_intake_args, ngx_http_cs_intake_answer
};


/*
 * X-CS-User: the site's proof that it logged this user in.  NGX_OK with
 * *proven set, or NGX_DECLINED for a proof that is wrong (401).
 */
static ngx_int_t
ngx_http_cs_user_proof(ngx_http_request_t *r, ngx_http_cs_loc_conf_t *cslcf,
    const ngx_http_cs_json_str_t *user, ngx_uint_t *proven)
{
    ngx_str_t         want, id, *keys[2];
    ngx_uint_t        n, i;
    ngx_table_elt_t  *h;

    *proven = 0;

    h = ngx_http_cs_header(r, "X-CS-User", &n);
    if (h == NULL) {
        return NGX_OK;
    }

    /* without cs_secret no proof can be made: v1 ignores the header */
    if (cslcf->secret == NULL) {
        return NGX_OK;
    }

    if (n != 1) {
        return NGX_DECLINED;
    }

    id.data = (u_char *) user->data;
    id.len = user->len;

    /* the current secret, then the old one while proofs made under it live */
    keys[0] = &cslcf->secret->current;
    keys[1] = &cslcf->secret->old;

    for (i = 0; i < 2 && keys[i]->len > 0; i++) {
        if (ngx_http_cs_hmac_b64(r->pool, keys[i], "user", &id, 1, &want)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (h->value.len == want.len
            && ngx_http_cs_equal(h->value.data, want.data, want.len))
        {
            *proven = 1;
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


/*
 * The names of a user's keys: the HMAC of the userId (purpose "key") under
 * the current secret (under the public NGX_HTTP_CS_USER_KEY_PUBLIC without
 * one), and under the old secret ("" when none, or when it is the same
 * secret), whose keys the scripts still find.  The intake, users/export
 * and users/erase name a user alike.
 */
ngx_int_t
ngx_http_cs_user_names(ngx_pool_t *pool, ngx_http_cs_loc_conf_t *cslcf,
    ngx_str_t *id, ngx_str_t *name, ngx_str_t *old)
{
    ngx_str_t  key;

    if (cslcf->secret != NULL) {
        key = cslcf->secret->current;

    } else {
        ngx_str_set(&key, NGX_HTTP_CS_USER_KEY_PUBLIC);
    }

    if (ngx_http_cs_hmac_name(pool, &key, "key", id, name) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_str_null(old);

    if (cslcf->secret == NULL || cslcf->secret->old.len == 0) {
        return NGX_OK;
    }

    if (ngx_http_cs_hmac_name(pool, &cslcf->secret->old, "key", id, old)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the same secret twice: one name */
    if (old->len == name->len
        && ngx_memcmp(old->data, name->data, name->len) == 0)
    {
        ngx_str_null(old);
    }

    return NGX_OK;
}


/*
 * The user's key names (the script moves the old name's keys to the new
 * one), and an event id for a user who has none yet: a script's
 * math.random is the same on every call, so randomness comes from here.
 */
static ngx_int_t
ngx_http_cs_user_keys(ngx_http_request_t *r, ngx_http_cs_loc_conf_t *cslcf,
    const ngx_http_cs_json_str_t *user, ngx_array_t *args)
{
    ngx_str_t  id, name, old, event;

    id.data = (u_char *) user->data;
    id.len = user->len;

    if (ngx_http_cs_user_names(r->pool, cslcf, &id, &name, &old) != NGX_OK
        || ngx_http_cs_nonce(r->pool, &event) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_cs_push(args, name.data, name.len) != NGX_OK
        || ngx_http_cs_push(args, old.data, old.len) != NGX_OK
        || ngx_http_cs_push(args, event.data, event.len) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * cs_rule: the rules that match the issue, in order (the first answers,
 * the others are suggested), kept in ctx for the answer; the answering
 * rule's name and answer, and "1" when the answer's suggestions draw on
 * the user's history (a proven user), as the script's last arguments.
 */
static ngx_int_t
ngx_http_cs_intake_rules(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_http_cs_loc_conf_t *cslcf, ngx_uint_t proven, ngx_array_t *args)
{
    ngx_int_t                      n;
    ngx_str_t                      text;
    ngx_http_cs_rule_t            *rule;
    const ngx_http_cs_json_str_t  *issue;

    ctx->nmatched = 0;

    if (cslcf->rules == NULL) {
        return ngx_http_cs_push(args, NULL, 0) == NGX_OK
               && ngx_http_cs_push(args, NULL, 0) == NGX_OK
               && ngx_http_cs_push(args, NULL, 0) == NGX_OK
               ? NGX_OK : NGX_ERROR;
    }

    issue = ngx_http_cs_json_value(ctx->json, NGX_HTTP_CS_F_ISSUE);
    text.data = (u_char *) issue->data;
    text.len = issue->len;

    n = ngx_http_cs_rules_match(cslcf->rules, &text, ctx->matched,
                                NGX_HTTP_CS_SUGGESTIONS + 1,
                                r->connection->log);
    if (n == NGX_ERROR) {
        return NGX_ERROR;
    }

    ctx->nmatched = n;
    rule = cslcf->rules->elts;

    if (n > 0) {
        rule = &rule[ctx->matched[0]];

        if (ngx_http_cs_push(args, rule->name.data, rule->name.len)
            != NGX_OK
            || ngx_http_cs_push(args, rule->answer.data, rule->answer.len)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (ngx_http_cs_push(args, NULL, 0) != NGX_OK
               || ngx_http_cs_push(args, NULL, 0) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_cs_push(args, (u_char *) "1", proven ? 1 : 0);
}


/*
 * ARGV of the intake script, after the desk's key: assign, idempotency
 * key, the number of agents, the agents, the six fields, the nonce ("" for
 * a desk without cs_secret), "1" for a proven user id, the presence
 * timeout, the user's key names and fresh event id, the rules',
 * cs_sticky and cs_recurring (N, the window); with cs_encrypt_key, the
 * issue and email sealed (after the rules matched the issue) and the
 * ticket's seal and fingerprint.
 */
static ngx_int_t
ngx_http_cs_intake_args(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    ngx_array_t *args)
{
    u_char                        *count, *timeout;
    ngx_int_t                      rc;
    ngx_str_t                      key, nonce, *agent;
    ngx_uint_t                     i, f, nagents, proven;
    const char                    *assign;
    ngx_http_cs_loc_conf_t        *cslcf;
    const ngx_http_cs_json_str_t  *val;

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    key = ctx->idem_key;

    rc = ngx_http_cs_user_proof(r, cslcf,
                                ngx_http_cs_json_value(ctx->json,
                                                       NGX_HTTP_CS_F_USER_ID),
                                &proven);
    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        ngx_str_set(&nonce, "Bearer");
        if (ngx_http_cs_add_header(r, "WWW-Authenticate", &nonce) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->rc = ngx_http_cs_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                         "unauthorized",
                                         "X-CS-User is not a proof of this "
                                         "userId", NULL, 0);
        return NGX_DONE;
    }

    ngx_str_null(&nonce);

    if (cslcf->secret != NULL
        && ngx_http_cs_nonce(r->pool, &nonce) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    nagents = cslcf->agents ? cslcf->agents->nelts : 0;

    count = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (count == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    assign = (cslcf->assign == NGX_HTTP_CS_ASSIGN_LEAST_LOADED)
             ? "least_loaded" : "round_robin";

    if (ngx_http_cs_push(args, (u_char *) assign, ngx_strlen(assign))
        != NGX_OK
        || ngx_http_cs_push(args, key.data, key.len) != NGX_OK
        || ngx_http_cs_push(args, count,
                            ngx_sprintf(count, "%ui", nagents) - count)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    agent = nagents ? cslcf->agents->elts : NULL;
    for (i = 0; i < nagents; i++) {
        if (ngx_http_cs_push(args, agent[i].data, agent[i].len) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    /* the validator's values live in the pool until the request ends */
    f = args->nelts;

    for (i = 0; i < NGX_HTTP_CS_F_COUNT; i++) {
        val = ngx_http_cs_json_value(ctx->json, i);
        if (ngx_http_cs_push(args, (u_char *) val->data, val->len)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    timeout = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (timeout == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_cs_push(args, nonce.data, nonce.len) != NGX_OK
        || ngx_http_cs_push(args, (u_char *) (proven ? "1" : ""),
                            proven ? 1 : 0)
           != NGX_OK
        || ngx_http_cs_push(args, timeout,
                            ngx_sprintf(timeout, "%M",
                                        cslcf->presence_timeout)
                            - timeout)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_cs_user_keys(r, cslcf,
                              ngx_http_cs_json_value(ctx->json,
                                                     NGX_HTTP_CS_F_USER_ID),
                              args)
        != NGX_OK
        || ngx_http_cs_intake_rules(r, ctx, cslcf, proven, args) != NGX_OK
        || ngx_http_cs_push_msec(r, args, cslcf->sticky) != NGX_OK
        || ngx_http_cs_push_recurring(r, args) != NGX_OK
        || ngx_http_cs_crypt_intake_args(r, args, f) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


/*
 * "suggestions": at most three other rules, never the one that answered:
 * first those whose regex matched the issue, in order; then, for a proven
 * user, those whose category is one of the user's earlier tickets',
 * most recent ticket first; no rule twice.
 */
static void
ngx_http_cs_suggestions(ngx_http_cs_out_t *o, ngx_http_cs_ctx_t *ctx,
    ngx_array_t *rules, redisReply *cats)
{
    ngx_uint_t           i, j, k, n, taken[NGX_HTTP_CS_SUGGESTIONS + 1];
    ngx_http_cs_rule_t  *rule;

    rule = rules->elts;
    n = 0;

    for (i = 1; i < ctx->nmatched; i++) {
        taken[n++] = ctx->matched[i];
    }

    for (i = 0; i < cats->elements && n < NGX_HTTP_CS_SUGGESTIONS; i++) {

        if (cats->element[i]->type != REDIS_REPLY_STRING) {
            continue;
        }

        for (j = 0; j < rules->nelts && n < NGX_HTTP_CS_SUGGESTIONS; j++) {

            if (rule[j].category.len != cats->element[i]->len
                || ngx_strncmp(rule[j].category.data, cats->element[i]->str,
                               rule[j].category.len) != 0
                || (ctx->nmatched > 0 && j == ctx->matched[0]))
            {
                continue;
            }

            for (k = 0; k < n && taken[k] != j; k++) { /* void */ }

            if (k == n) {
                taken[n++] = j;
            }
        }
    }

    ngx_http_cs_out_list_open(o, "suggestions");

    for (i = 0; i < n; i++) {
        ngx_http_cs_out_open(o);
        ngx_http_cs_out_str(o, "rule", rule[taken[i]].name.data,
                            rule[taken[i]].name.len);
        ngx_http_cs_out_str(o, "answer", rule[taken[i]].answer.data,
                            rule[taken[i]].answer.len);
        ngx_http_cs_out_close(o);
    }

    ngx_http_cs_out_list_close(o);
}


static ngx_int_t
ngx_http_cs_send_ticket(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    redisReply *reply)
{
    u_char                        *p;
    ngx_str_t                      id, nonce, token;
    redisReply                   **e;
    ngx_http_cs_out_t              o;
    ngx_http_cs_loc_conf_t        *cslcf;
    const ngx_http_cs_json_str_t  *user;

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    e = reply->element;

    user = ngx_http_cs_json_value(ctx->json, NGX_HTTP_CS_F_USER_ID);
    ctx->user_id.data = (u_char *) user->data;
    ctx->user_id.len = user->len;

    if (ngx_http_cs_note(r, ctx, e[NGX_HTTP_CS_INTAKE_ID]->integer,
                         (u_char *) e[NGX_HTTP_CS_INTAKE_AGENT]->str,
                         e[NGX_HTTP_CS_INTAKE_AGENT]->len)
        != NGX_OK
        || ngx_http_cs_out_init(r, &o) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_cs_out_open(&o);
    ngx_http_cs_out_cstr(&o, "status", "success");
    ngx_http_cs_out_cstr(&o, "message", "Request received and processed.");
    ngx_http_cs_out_int(&o, "ticketId", e[NGX_HTTP_CS_INTAKE_ID]->integer);
    ngx_http_cs_out_str(&o, "agent",
                        e[NGX_HTTP_CS_INTAKE_AGENT]->len
                        ? (u_char *) e[NGX_HTTP_CS_INTAKE_AGENT]->str : NULL,
                        e[NGX_HTTP_CS_INTAKE_AGENT]->len);
    ngx_http_cs_out_str(&o, "state",
                        (u_char *) e[NGX_HTTP_CS_INTAKE_STATE]->str,
                        e[NGX_HTTP_CS_INTAKE_STATE]->len);

    /* the customer's token, the same on every replay of the intake */
    if (cslcf->secret != NULL && e[NGX_HTTP_CS_INTAKE_NONCE]->len > 0) {
        p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        id.data = p;
        id.len = ngx_sprintf(p, "%L", e[NGX_HTTP_CS_INTAKE_ID]->integer) - p;

        nonce.data = (u_char *) e[NGX_HTTP_CS_INTAKE_NONCE]->str;
        nonce.len = e[NGX_HTTP_CS_INTAKE_NONCE]->len;

        if (ngx_http_cs_ticket_token(r->pool, cslcf->secret,
                                     &cslcf->key_prefix, &id, &nonce, &token)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_cs_out_str(&o, "token", token.data, token.len);
    }

    if (e[NGX_HTTP_CS_INTAKE_ANSWER]->len > 0) {
        ngx_http_cs_out_str(&o, "answer",
                            (u_char *) e[NGX_HTTP_CS_INTAKE_ANSWER]->str,
                            e[NGX_HTTP_CS_INTAKE_ANSWER]->len);
    }

    if (cslcf->rules != NULL) {
        ngx_http_cs_suggestions(&o, ctx, cslcf->rules,
                                e[NGX_HTTP_CS_INTAKE_CATEGORIES]);
    }

    ngx_http_cs_out_close(&o);

    return ngx_http_cs_send_json(r, NGX_HTTP_CREATED,
                                 ngx_http_cs_out_buf(r, &o));
}


static ngx_int_t
ngx_http_cs_intake_answer(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    redisReply *reply)
{
    ngx_uint_t  i;

    if (reply->type != REDIS_REPLY_ARRAY
        || reply->elements != NGX_HTTP_CS_INTAKE_REPLY
        || reply->element[NGX_HTTP_CS_INTAKE_ID]->type
           != REDIS_REPLY_INTEGER)
    {
        goto invalid;
    }

    for (i = 0; i < NGX_HTTP_CS_INTAKE_REPLY; i++) {
        if (i != NGX_HTTP_CS_INTAKE_ID && i != NGX_HTTP_CS_INTAKE_CATEGORIES
            && reply->element[i]->type != REDIS_REPLY_STRING)
        {
            goto invalid;
        }
    }

    if (reply->element[NGX_HTTP_CS_INTAKE_CATEGORIES]->type
        != REDIS_REPLY_ARRAY)
    {
        goto invalid;
    }

    if (ngx_strcmp(reply->element[NGX_HTTP_CS_INTAKE_OUTCOME]->str, "reused")
        == 0)
    {
        return ngx_http_cs_send_error(r, NGX_HTTP_CONFLICT,
                                      "idempotency_key_reused",
                                      "this Idempotency-Key was used for a "
                                      "different ticket", NULL, 0);
    }

    return ngx_http_cs_send_ticket(r, ctx, reply);

invalid:

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "cs: unexpected reply from the intake script");

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}
