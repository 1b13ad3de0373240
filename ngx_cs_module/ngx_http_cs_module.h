/*
 * ngx_cs_module: a customer-service desk's front door inside nginx.
 * Types shared by the directive, handler, filter and Redis files.
 */

#ifndef NGX_HTTP_CS_MODULE_H_INCLUDED_
#define NGX_HTTP_CS_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <yajl/yajl_gen.h>

#include "ngx_http_cs_json.h"
#include "ngx_http_cs_auth.h"


#define NGX_HTTP_CS_ASSIGN_ROUND_ROBIN   0
#define NGX_HTTP_CS_ASSIGN_LEAST_LOADED  1

#define NGX_HTTP_CS_IDEM_KEY_MAX         128

#define NGX_HTTP_CS_UNPROCESSABLE        422

/* what a location serves */
#define NGX_HTTP_CS_KIND_NONE            0
#define NGX_HTTP_CS_KIND_SERVICE         1   /* cs_service: v1 intake */
#define NGX_HTTP_CS_KIND_API             2   /* cs_api: the desk's table */
#define NGX_HTTP_CS_KIND_METRICS         3   /* cs_metrics: Prometheus */


typedef struct ngx_http_cs_redis_s  ngx_http_cs_redis_t;
typedef struct ngx_http_cs_crypt_s  ngx_http_cs_crypt_t;


typedef struct {
    ngx_uint_t                  status;
    const char                 *code;
    const char                 *message;
} ngx_http_cs_error_t;


typedef struct {
    ngx_array_t                 servers;     /* ngx_http_cs_redis_t * */
    ngx_array_t                 desks;       /* ngx_http_cs_desk_t * */
    ngx_array_t                *hmac_pairs;  /* ngx_http_cs_hmac_pair_t */
} ngx_http_cs_main_conf_t;


typedef struct ngx_http_cs_ctx_s  ngx_http_cs_ctx_t;
struct redisReply;


/*
 * The endpoint's own Redis arguments, after the desk's key.  NGX_OK to go
 * on; NGX_DONE when it answered the request itself (a bad body, say), with
 * the finalize code in ctx->rc; anything else is a finalize code.
 */
typedef ngx_int_t (*ngx_http_cs_args_pt)(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, ngx_array_t *args);

/* the endpoint's answer from its script's reply; a finalize code */
typedef ngx_int_t (*ngx_http_cs_answer_pt)(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, struct redisReply *reply);


#define NGX_HTTP_CS_ANYONE      0        /* roles: no credentials asked */


/*
 * One row of the endpoint table: what exists, who may call it, what body
 * it takes, which script runs it and how its answer is made.  The table is
 * in ngx_http_cs_endpoints.c; one pipeline (ngx_http_cs_api.c) runs every
 * row.
 */
typedef struct {
    ngx_uint_t                  method;      /* NGX_HTTP_GET, ... */
    const char                 *path;        /* "tickets/{id}" */
    ngx_uint_t                  roles;       /* NGX_HTTP_CS_ROLE_* bits */
    const ngx_http_cs_schema_t *schema;      /* of the body; NULL: none */
    ngx_uint_t                  idempotent;  /* takes an Idempotency-Key */
    ngx_uint_t                  script;      /* NGX_HTTP_CS_SCRIPT_* */
    ngx_http_cs_args_pt         args;        /* NULL: caller and path only */
    ngx_http_cs_answer_pt       answer;      /* NULL: the script's answer */
} ngx_http_cs_endpoint_t;


/* a request's state in the module */
struct ngx_http_cs_ctx_s {
    const ngx_http_cs_endpoint_t  *ep;
    ngx_str_t                      param;     /* the path's {id} or {name} */
    ngx_http_cs_caller_t           caller;
    ngx_http_cs_json_t            *json;      /* fed as the body arrives */
    ngx_int_t                      rc;        /* of an answer already sent */
    ngx_str_t                      token;     /* made here, shown once */
    ngx_str_t                      idem_key;  /* "" when none was sent */
    /* the intake's matching rules: the first answers, 3 more suggested */
    ngx_uint_t                     matched[4];
    ngx_uint_t                     nmatched;
    ngx_buf_t                     *error_body; /* nginx's own error, JSON */
    /* for the log variables, once Redis answered: ngx_http_cs_variables.c */
    ngx_str_t                      ticket_id;
    ngx_str_t                      agent;
    ngx_str_t                      user_id;
    unsigned                       error_sent:1;
    unsigned                       body_unread:1;
    unsigned                       body_fed:1;
};


/* a JSON answer being made; failed once any generator step failed */
typedef struct {
    yajl_gen                    g;
    ngx_uint_t                  failed;
    ngx_http_request_t         *r;
    ngx_uint_t                  crypt_failed; /* logged once, a 500 */
} ngx_http_cs_out_t;


typedef struct {
    ngx_uint_t                  kind;        /* NGX_HTTP_CS_KIND_* */
    ngx_str_t                   prefix_uri;  /* cs_api: the location's */

    /* where this location's cs_api is, for the desk-wide check */
    ngx_str_t                   api_file;
    ngx_uint_t                  api_line;

    ngx_http_cs_secret_t       *secret;
    ngx_http_cs_crypt_t        *crypt;       /* cs_encrypt_key; NULL: off */
    ngx_array_t                *admin_keys;  /* ngx_http_cs_admin_key_t */
    ngx_msec_t                  presence_timeout;
    ngx_msec_t                  sticky;      /* 0: off */
    ngx_msec_t                  close_after;
    ngx_msec_t                  feedback_window;
    ngx_int_t                   alert_csat;  /* this csat or lower alerts */
    ngx_msec_t                  reassign_after;
    ngx_int_t                   recurring_threshold;  /* cs_recurring N */
    ngx_msec_t                  recurring_window;     /* and its window */

    /* where this block's set_cs_pseudonym is; line 0: it has none */
    ngx_str_t                   pseudonym_file;
    ngx_uint_t                  pseudonym_line;

    ngx_str_t                   redis_server;
    ngx_str_t                   redis_user;      /* Redis 6 ACL */
    ngx_str_t                   redis_password;
    ngx_int_t                   redis_database;
    ngx_msec_t                  redis_connect_timeout;
    ngx_msec_t                  redis_timeout;

    ngx_str_t                   key_prefix;
    ngx_array_t                *agents;      /* ngx_str_t */
    ngx_uint_t                  assign;
    size_t                      issue_max_length;
    ngx_array_t                *cors_origins; /* ngx_str_t */
    ngx_array_t                *rules;       /* ngx_http_cs_rule_t */

    ngx_http_cs_redis_t        *redis;
} ngx_http_cs_loc_conf_t;


extern ngx_module_t  ngx_http_cs_module;


ngx_int_t ngx_http_cs_handler(ngx_http_request_t *r);

/*
 * The checks made before the body is read, in the contract's order: the
 * route, the credentials, the content type.  NGX_DECLINED with *err (and
 * its headers added) for a request refused.
 */
ngx_int_t ngx_http_cs_precheck(ngx_http_request_t *r,
    ngx_http_cs_loc_conf_t *cslcf, ngx_http_cs_ctx_t *ctx,
    ngx_http_cs_error_t **err);

/*
 * The endpoint table (ngx_http_cs_endpoints.c): the row for the request's
 * method and path, in ctx->ep and ctx->param; NGX_DECLINED with *err (and
 * Allow added) when there is none.
 */
ngx_int_t ngx_http_cs_route(ngx_http_request_t *r,
    ngx_http_cs_loc_conf_t *cslcf, ngx_http_cs_ctx_t *ctx,
    ngx_http_cs_error_t **err);
/* the first arguments of every row with a caller (ngx_http_cs_endpoints.c) */
ngx_int_t ngx_http_cs_caller_args(ngx_http_cs_ctx_t *ctx,
    ngx_http_cs_loc_conf_t *cslcf, ngx_array_t *args);

/* the intake's row (ngx_http_cs_intake.c) */
extern const ngx_http_cs_endpoint_t  ngx_http_cs_intake_endpoint;

/* the agents' rows (ngx_http_cs_agents.c) */
ngx_int_t ngx_http_cs_agent_put_args(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, ngx_array_t *args);
ngx_int_t ngx_http_cs_presence_args(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, ngx_array_t *args);
ngx_int_t ngx_http_cs_agent_token_args(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, ngx_array_t *args);
ngx_int_t ngx_http_cs_agents_list_args(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, ngx_array_t *args);
ngx_int_t ngx_http_cs_agent_delete_args(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, ngx_array_t *args);

/* the tickets' rows (ngx_http_cs_tickets.c) */
ngx_int_t ngx_http_cs_message_args(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, ngx_array_t *args);
ngx_int_t ngx_http_cs_status_args(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, ngx_array_t *args);
ngx_int_t ngx_http_cs_assign_args(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, ngx_array_t *args);
ngx_int_t ngx_http_cs_fields_args(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, ngx_array_t *args);
ngx_int_t ngx_http_cs_feedback_args(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, ngx_array_t *args);
ngx_int_t ngx_http_cs_user_export_args(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, ngx_array_t *args);
ngx_int_t ngx_http_cs_user_erase_args(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, ngx_array_t *args);
ngx_int_t ngx_http_cs_tickets_list_args(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, ngx_array_t *args);
/* the names of a user's keys, under the current and the old cs_secret */
ngx_int_t ngx_http_cs_user_names(ngx_pool_t *pool,
    ngx_http_cs_loc_conf_t *cslcf, ngx_str_t *id, ngx_str_t *name,
    ngx_str_t *old);
ngx_int_t ngx_http_cs_agent_queue_args(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, ngx_array_t *args);
/* ?limit=&cursor= of a list */
ngx_int_t ngx_http_cs_page_args(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, ngx_array_t *args);

ngx_int_t ngx_http_cs_push(ngx_array_t *args, u_char *data, size_t len);
/* a STRING row's value; null (and absent) is "" */
ngx_int_t ngx_http_cs_push_json_str(ngx_array_t *args,
    const ngx_http_cs_json_value_t *v);
ngx_int_t ngx_http_cs_push_msec(ngx_http_request_t *r, ngx_array_t *args,
    ngx_msec_t ms);
/* what a script that routes needs: see routing() in the prelude */
ngx_int_t ngx_http_cs_push_routing(ngx_http_request_t *r, ngx_array_t *args);
ngx_int_t ngx_http_cs_push_conf_routing(ngx_pool_t *pool,
    ngx_http_cs_loc_conf_t *cslcf, ngx_array_t *args);

ngx_int_t ngx_http_cs_filter_init(ngx_conf_t *cf);

/* $cs_ticket_id, $cs_agent, $cs_user_pseudonym (ngx_http_cs_variables.c) */
ngx_int_t ngx_http_cs_add_variables(ngx_conf_t *cf);
/* notes the ticket and its agent (len 0: none) for the variables */
ngx_int_t ngx_http_cs_note(ngx_http_request_t *r, ngx_http_cs_ctx_t *ctx,
    long long id, u_char *agent, size_t len);
/* notes ticketId, agent and userId of an object answer */
ngx_int_t ngx_http_cs_note_answer(ngx_http_request_t *r,
    ngx_http_cs_ctx_t *ctx, struct redisReply *value);

/* hands the validator the body's buffers (ngx_http_cs_filter.c) */
void ngx_http_cs_feed(ngx_http_cs_ctx_t *ctx, ngx_chain_t *in);

/* the request's module context, made on first use; NULL on no memory */
ngx_http_cs_ctx_t *ngx_http_cs_get_ctx(ngx_http_request_t *r);

/* yajl allocates from the request pool */
void ngx_http_cs_yajl_funcs(ngx_http_request_t *r, yajl_alloc_funcs *af);

ngx_int_t ngx_http_cs_out_init(ngx_http_request_t *r, ngx_http_cs_out_t *o);
void ngx_http_cs_out_open(ngx_http_cs_out_t *o);
void ngx_http_cs_out_close(ngx_http_cs_out_t *o);
/* a list member: its items follow, then ngx_http_cs_out_list_close() */
void ngx_http_cs_out_list_open(ngx_http_cs_out_t *o, const char *key);
void ngx_http_cs_out_list_close(ngx_http_cs_out_t *o);
/* a string member; v NULL makes it null */
void ngx_http_cs_out_str(ngx_http_cs_out_t *o, const char *key,
    const u_char *v, size_t len);
void ngx_http_cs_out_cstr(ngx_http_cs_out_t *o, const char *key,
    const char *v);
void ngx_http_cs_out_int(ngx_http_cs_out_t *o, const char *key, long long n);
/* the answer's buffer, or NULL when any step failed */
ngx_buf_t *ngx_http_cs_out_buf(ngx_http_request_t *r, ngx_http_cs_out_t *o);

/* sends a JSON answer (NULL b: 500) and returns the finalize code */
ngx_int_t ngx_http_cs_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_buf_t *b);
ngx_int_t ngx_http_cs_send_body(ngx_http_request_t *r, ngx_str_t *type,
    ngx_buf_t *b);
/* a request waits for the store's reply: NGX_DONE for its handler */
ngx_int_t ngx_http_cs_wait_for_store(ngx_http_request_t *r);

/* the Origin of a request when it is one of cs_cors_origin, else NULL */
ngx_str_t *ngx_http_cs_cors_origin(ngx_http_request_t *r,
    ngx_http_cs_loc_conf_t *cslcf);

/* {"status":"error","error":code,"message":...[,"field":...]} */
ngx_buf_t *ngx_http_cs_error_json(ngx_http_request_t *r, const char *code,
    const char *message, const char *field);

ngx_int_t ngx_http_cs_add_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value);

/* a script's value as JSON: see ngx_http_cs_answer.c for the shapes */
void ngx_http_cs_out_reply(ngx_http_cs_out_t *o, struct redisReply *v,
    ngx_uint_t depth);
/* the members of an object value, into an object already open */
void ngx_http_cs_out_members(ngx_http_cs_out_t *o, struct redisReply *v,
    ngx_uint_t depth);

/* a request header by name (any case), and how many there are */
ngx_table_elt_t *ngx_http_cs_header(ngx_http_request_t *r, const char *name,
    ngx_uint_t *n);

/* sends the error answer and returns the finalize code */
ngx_int_t ngx_http_cs_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message, const char *field,
    time_t retry_after);
/* 503 store_unavailable, with the location's Redis' Retry-After */
ngx_int_t ngx_http_cs_send_unavailable(ngx_http_request_t *r);


#endif /* NGX_HTTP_CS_MODULE_H_INCLUDED_ */
