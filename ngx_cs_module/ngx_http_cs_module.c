/*
 * ngx_cs_module: directives, configuration and the worker's start and end.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#if (NGX_HTTP_CS_HAVE_GETRANDOM)
#include <sys/random.h>
#endif

#include "ngx_http_cs_module.h"
#include "ngx_http_cs_rules.h"
#include "ngx_http_cs_json.h"
#include "ngx_http_cs_schema.h"
#include "ngx_http_cs_redis.h"
#include "ngx_http_cs_auth.h"
#include "ngx_http_cs_crypt.h"
#include "ngx_http_cs_pseudonym.h"
#include "ngx_http_cs_desk.h"
#include "ngx_http_cs_metrics.h"
#include "ngx_http_cs_insights.h"


static char *ngx_http_cs_service(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cs_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cs_admin_keys(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cs_agents(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cs_cors_origin_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_cs_sticky(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cs_check_prefix(ngx_conf_t *cf, void *post, void *data);
static char *ngx_http_cs_check_positive(ngx_conf_t *cf, void *post,
    void *data);
static void *ngx_http_cs_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_cs_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_cs_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_cs_postconfiguration(ngx_conf_t *cf);
static void ngx_http_cs_seed_json(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_cs_init_process(ngx_cycle_t *cycle);
static void ngx_http_cs_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_cs_assign[] = {
    { ngx_string("round_robin"), NGX_HTTP_CS_ASSIGN_ROUND_ROBIN },
    { ngx_string("least_loaded"), NGX_HTTP_CS_ASSIGN_LEAST_LOADED },
    { ngx_null_string, 0 }
};

static ngx_conf_post_t  ngx_http_cs_prefix_post = {
    ngx_http_cs_check_prefix
};

/* cs_alert_csat: a csat, 1 to 5 */
static ngx_conf_num_bounds_t  ngx_http_cs_alert_csat_bounds = {
    ngx_conf_check_num_bounds, 1, 5
};

static ngx_conf_post_t  ngx_http_cs_positive_post = {
    ngx_http_cs_check_positive
};


#define NGX_HTTP_CS_CONF  (NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF               \
                           |NGX_HTTP_LOC_CONF)

/* where nginx's "set" is valid */
#define NGX_HTTP_CS_SET_CONF  (NGX_HTTP_SRV_CONF|NGX_HTTP_SIF_CONF           \
                               |NGX_HTTP_LOC_CONF|NGX_HTTP_LIF_CONF)


static ngx_command_t  ngx_http_cs_commands[] = {

    { ngx_string("cs_service"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_cs_service,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_HTTP_CS_KIND_SERVICE,
      NULL },

    { ngx_string("cs_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_cs_service,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_HTTP_CS_KIND_API,
      NULL },

    { ngx_string("cs_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_cs_metrics_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cs_secret"),
      NGX_HTTP_CS_CONF|NGX_CONF_TAKE12,
      ngx_http_cs_secret,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cs_encrypt_key"),
      NGX_HTTP_CS_CONF|NGX_CONF_1MORE,
      ngx_http_cs_encrypt_key,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cs_presence_timeout"),
      NGX_HTTP_CS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cs_loc_conf_t, presence_timeout),
      &ngx_http_cs_positive_post },

    { ngx_string("cs_feedback_window"),
      NGX_HTTP_CS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cs_loc_conf_t, feedback_window),
      &ngx_http_cs_positive_post },

    { ngx_string("cs_alert_csat"),
      NGX_HTTP_CS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cs_loc_conf_t, alert_csat),
      &ngx_http_cs_alert_csat_bounds },

    { ngx_string("cs_close_after"),
      NGX_HTTP_CS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cs_loc_conf_t, close_after),
      &ngx_http_cs_positive_post },

    { ngx_string("cs_reassign_after"),
      NGX_HTTP_CS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cs_loc_conf_t, reassign_after),
      &ngx_http_cs_positive_post },

    { ngx_string("cs_recurring"),
      NGX_HTTP_CS_CONF|NGX_CONF_TAKE2,
      ngx_http_cs_recurring_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cs_admin_keys"),
      NGX_HTTP_CS_CONF|NGX_CONF_TAKE1,
      ngx_http_cs_admin_keys,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("set_cs_pseudonym"),
      NGX_HTTP_CS_SET_CONF|NGX_CONF_TAKE2,
      ngx_http_cs_set_pseudonym,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_http_cs_pseudonym_filter },

    { ngx_string("cs_redis_server"),
      NGX_HTTP_CS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cs_loc_conf_t, redis_server),
      NULL },

    { ngx_string("cs_redis_user"),
      NGX_HTTP_CS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cs_loc_conf_t, redis_user),
      NULL },

    { ngx_string("cs_redis_password"),
      NGX_HTTP_CS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cs_loc_conf_t, redis_password),
      NULL },

    { ngx_string("cs_redis_database"),
      NGX_HTTP_CS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cs_loc_conf_t, redis_database),
      NULL },

    { ngx_string("cs_redis_connect_timeout"),
      NGX_HTTP_CS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cs_loc_conf_t, redis_connect_timeout),
      &ngx_http_cs_positive_post },

    { ngx_string("cs_redis_timeout"),
      NGX_HTTP_CS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cs_loc_conf_t, redis_timeout),
      &ngx_http_cs_positive_post },

    { ngx_string("cs_key_prefix"),
      NGX_HTTP_CS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cs_loc_conf_t, key_prefix),
      &ngx_http_cs_prefix_post },

    { ngx_string("cs_agents"),
      NGX_HTTP_CS_CONF|NGX_CONF_1MORE,
      ngx_http_cs_agents,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cs_assign"),
      NGX_HTTP_CS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cs_loc_conf_t, assign),
      &ngx_http_cs_assign },

    { ngx_string("cs_issue_max_length"),
      NGX_HTTP_CS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cs_loc_conf_t, issue_max_length),
      &ngx_http_cs_positive_post },

    { ngx_string("cs_cors_origin"),
      NGX_HTTP_CS_CONF|NGX_CONF_TAKE1,
      ngx_http_cs_cors_origin_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cs_sticky"),
      NGX_HTTP_CS_CONF|NGX_CONF_TAKE1,
      ngx_http_cs_sticky,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cs_rule"),
      NGX_HTTP_CS_CONF|NGX_CONF_TAKE3|NGX_CONF_TAKE4,
      ngx_http_cs_rule_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_cs_module_ctx = {
    ngx_http_cs_add_variables,             /* preconfiguration */
    ngx_http_cs_postconfiguration,         /* postconfiguration */

    ngx_http_cs_create_main_conf,          /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_cs_create_loc_conf,           /* create location configuration */
    ngx_http_cs_merge_loc_conf             /* merge location configuration */
};


ngx_module_t  ngx_http_cs_module = {
    NGX_MODULE_V1,
    &ngx_http_cs_module_ctx,               /* module context */
    ngx_http_cs_commands,                  /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_cs_init_process,              /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_cs_exit_process,              /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* cs_service and cs_api: what this location serves, once */
static char *
ngx_http_cs_service(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cs_loc_conf_t    *cslcf = conf;
    ngx_http_core_loc_conf_t  *clcf;

    if (cslcf->kind == cmd->offset) {
        return "is duplicate";
    }

    if (cslcf->kind != NGX_CONF_UNSET_UINT) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" in a location that has another of "
                           "cs_service, cs_api and cs_metrics", &cmd->name);
        return NGX_CONF_ERROR;
    }

    cslcf->kind = cmd->offset;

    /* named when two locations of one desk disagree */
    cslcf->api_file = cf->conf_file->file.name;
    cslcf->api_line = cf->conf_file->line;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_cs_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_cs_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cs_loc_conf_t  *cslcf = conf;

    char                  *rv;
    ngx_str_t             *value;
    ngx_http_cs_secret_t  *secret;

    if (cslcf->secret != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    secret = ngx_pcalloc(cf->pool, sizeof(ngx_http_cs_secret_t));
    if (secret == NULL) {
        return NGX_CONF_ERROR;
    }

    rv = ngx_http_cs_read_secret(cf, &value[1], &secret->current);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (cf->args->nelts == 3) {
        rv = ngx_http_cs_read_secret(cf, &value[2], &secret->old);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    secret->file = value[1];
    cslcf->secret = secret;

    return NGX_CONF_OK;
}


static char *
ngx_http_cs_admin_keys(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cs_loc_conf_t  *cslcf = conf;

    ngx_str_t  *value;

    if (cslcf->admin_keys != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    return ngx_http_cs_read_admin_keys(cf, &value[1], &cslcf->admin_keys);
}


static char *
ngx_http_cs_agents(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cs_loc_conf_t  *cslcf = conf;

    ngx_str_t   *value, *agent;
    ngx_uint_t   i, j;

    if (cslcf->agents != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    cslcf->agents = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                     sizeof(ngx_str_t));
    if (cslcf->agents == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        if (!ngx_http_cs_agent_name_ok(value[i].data, value[i].len)) {
            goto invalid;
        }

        agent = cslcf->agents->elts;
        for (j = 0; j < cslcf->agents->nelts; j++) {
            if (agent[j].len == value[i].len
                && ngx_strncmp(agent[j].data, value[i].data, value[i].len)
                   == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "duplicate agent \"%V\" in \"%V\" "
                                   "directive", &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }
        }

        agent = ngx_array_push(cslcf->agents);
        if (agent == NULL) {
            return NGX_CONF_ERROR;
        }

        *agent = value[i];
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" directive: an agent "
                       "name is 1 to 64 of [A-Za-z0-9_.-], and not \".\", "
                       "\"..\" or \"unassigned\"", &value[i], &cmd->name);

    return NGX_CONF_ERROR;
}


/* cs_sticky time | off: off is 0 */
static char *
ngx_http_cs_sticky(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cs_loc_conf_t *cslcf = conf;

    ngx_str_t  *value;
    ngx_msec_t  ms;

    if (cslcf->sticky != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        cslcf->sticky = 0;
        return NGX_CONF_OK;
    }

    ms = ngx_parse_time(&value[1], 0);

    if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
        return "must be a time above 0, or off";
    }

    cslcf->sticky = ms;

    return NGX_CONF_OK;
}


static char *
ngx_http_cs_cors_origin_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_cs_loc_conf_t  *cslcf = conf;

    ngx_str_t   *value, *origin;
    ngx_uint_t   i;

    value = cf->args->elts;

    if (!(value[1].len == 1 && value[1].data[0] == '*')) {
        if (!((value[1].len > 7
               && ngx_strncasecmp(value[1].data, (u_char *) "http://", 7)
                  == 0)
              || (value[1].len > 8
                  && ngx_strncasecmp(value[1].data, (u_char *) "https://", 8)
                     == 0)))
        {
            goto invalid;
        }

        for (i = 0; i < value[1].len; i++) {
            if (value[1].data[i] <= 0x20 || value[1].data[i] >= 0x7f
                || value[1].data[i] == ',')
            {
                goto invalid;
            }
        }

        if (value[1].data[value[1].len - 1] == '/') {
            goto invalid;
        }
    }

    /* a list given at this level replaces the inherited one */
    if (cslcf->cors_origins == NGX_CONF_UNSET_PTR) {
        cslcf->cors_origins = ngx_array_create(cf->pool, 2,
                                               sizeof(ngx_str_t));
        if (cslcf->cors_origins == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    origin = ngx_array_push(cslcf->cors_origins);
    if (origin == NULL) {
        return NGX_CONF_ERROR;
    }

    *origin = value[1];

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" directive: expected "
                       "\"*\" or an origin such as https://example.com",
                       &value[1], &cmd->name);

    return NGX_CONF_ERROR;
}


static char *
ngx_http_cs_check_prefix(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *prefix = data;

    ngx_uint_t  i;

    if (prefix->len == 0 || prefix->len > 64) {
        return "must be 1 to 64 characters";
    }

    for (i = 0; i < prefix->len; i++) {
        if (prefix->data[i] <= 0x20 || prefix->data[i] >= 0x7f) {
            return "must be printable ASCII without spaces";
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_cs_check_positive(ngx_conf_t *cf, void *post, void *data)
{
    size_t  *sp = data;

    /* a msec and a size slot both store a machine word */
    if (*sp == 0) {
        return "must be greater than zero";
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_cs_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_cs_main_conf_t  *cmcf;

    cmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_cs_main_conf_t));
    if (cmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&cmcf->servers, cf->pool, 2,
                       sizeof(ngx_http_cs_redis_t *))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&cmcf->desks, cf->pool, 2,
                       sizeof(ngx_http_cs_desk_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return cmcf;
}


static void *
ngx_http_cs_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_cs_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_cs_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->redis_server = { 0, NULL };
     *     conf->redis_user = { 0, NULL };
     *     conf->redis_password = { 0, NULL };
     *     conf->key_prefix = { 0, NULL };
     *     conf->pseudonym_file = { 0, NULL };
     *     conf->pseudonym_line = 0;
     *     conf->api_file = { 0, NULL };
     *     conf->api_line = 0;
     *     conf->redis = NULL;
     */

    conf->kind = NGX_CONF_UNSET_UINT;
    conf->secret = NGX_CONF_UNSET_PTR;
    conf->crypt = NGX_CONF_UNSET_PTR;
    conf->admin_keys = NGX_CONF_UNSET_PTR;
    conf->presence_timeout = NGX_CONF_UNSET_MSEC;
    conf->sticky = NGX_CONF_UNSET_MSEC;
    conf->close_after = NGX_CONF_UNSET_MSEC;
    conf->feedback_window = NGX_CONF_UNSET_MSEC;
    conf->alert_csat = NGX_CONF_UNSET;
    conf->reassign_after = NGX_CONF_UNSET_MSEC;
    conf->recurring_threshold = NGX_CONF_UNSET;
    conf->recurring_window = NGX_CONF_UNSET_MSEC;
    conf->redis_database = NGX_CONF_UNSET;
    conf->redis_connect_timeout = NGX_CONF_UNSET_MSEC;
    conf->redis_timeout = NGX_CONF_UNSET_MSEC;
    conf->agents = NGX_CONF_UNSET_PTR;
    conf->assign = NGX_CONF_UNSET_UINT;
    conf->issue_max_length = NGX_CONF_UNSET_SIZE;
    conf->cors_origins = NGX_CONF_UNSET_PTR;
    conf->rules = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_cs_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_cs_loc_conf_t  *prev = parent;
    ngx_http_cs_loc_conf_t  *conf = child;

    ngx_http_core_loc_conf_t  *clcf;

    /*
     * cs_service and cs_api belong to their own location, and to the
     * unnamed blocks inside it: an "if" or "limit_except" block keeps the
     * location's content handler, so it must keep the service and its
     * connection too.
     */
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (conf->kind == NGX_CONF_UNSET_UINT) {
        conf->kind = clcf->noname ? prev->kind : NGX_HTTP_CS_KIND_NONE;

        if (conf->kind == NGX_CONF_UNSET_UINT) {
            conf->kind = NGX_HTTP_CS_KIND_NONE;
        }
    }

    if (conf->kind == NGX_HTTP_CS_KIND_API) {
        if (!clcf->noname
            && (clcf->named || clcf->exact_match
#if (NGX_PCRE)
                || clcf->regex
#endif
               ))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"cs_api\" routes the paths below a prefix "
                               "location, as in \"location /api/ { cs_api; "
                               "}\", not in \"%V\"", &clcf->name);
            return NGX_CONF_ERROR;
        }

        conf->prefix_uri = clcf->noname ? prev->prefix_uri : clcf->name;
    }

    ngx_conf_merge_str_value(conf->redis_server, prev->redis_server,
                             "127.0.0.1:6379");
    ngx_conf_merge_str_value(conf->redis_user, prev->redis_user, "");
    ngx_conf_merge_str_value(conf->redis_password, prev->redis_password, "");
    ngx_conf_merge_value(conf->redis_database, prev->redis_database, 0);
    ngx_conf_merge_msec_value(conf->redis_connect_timeout,
                              prev->redis_connect_timeout, 1000);
    ngx_conf_merge_msec_value(conf->redis_timeout, prev->redis_timeout, 2000);
    ngx_conf_merge_str_value(conf->key_prefix, prev->key_prefix, "cs:");
    ngx_conf_merge_ptr_value(conf->agents, prev->agents, NULL);
    ngx_conf_merge_uint_value(conf->assign, prev->assign,
                              NGX_HTTP_CS_ASSIGN_ROUND_ROBIN);
    ngx_conf_merge_size_value(conf->issue_max_length, prev->issue_max_length,
                              4096);
    ngx_conf_merge_ptr_value(conf->cors_origins, prev->cors_origins, NULL);
    /* a list of rules at a lower level replaces the inherited one */
    ngx_conf_merge_ptr_value(conf->rules, prev->rules, NULL);

    if (ngx_http_cs_rules_prefilter(cf, conf->rules) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_conf_merge_ptr_value(conf->secret, prev->secret, NULL);
    ngx_conf_merge_ptr_value(conf->crypt, prev->crypt, NULL);
    ngx_conf_merge_ptr_value(conf->admin_keys, prev->admin_keys, NULL);
    ngx_conf_merge_msec_value(conf->sticky, prev->sticky,
                              7 * 24 * 60 * 60 * 1000);
    ngx_conf_merge_msec_value(conf->presence_timeout, prev->presence_timeout,
                              60000);
    ngx_conf_merge_msec_value(conf->feedback_window, prev->feedback_window,
                              7 * 24 * 60 * 60 * 1000);
    ngx_conf_merge_value(conf->alert_csat, prev->alert_csat, 2);
    ngx_conf_merge_msec_value(conf->close_after, prev->close_after,
                              4 * 24 * 60 * 60 * 1000);
    ngx_conf_merge_msec_value(conf->reassign_after, prev->reassign_after,
                              120000);
    ngx_conf_merge_value(conf->recurring_threshold, prev->recurring_threshold,
                         NGX_HTTP_CS_RECURRING_THRESHOLD);
    ngx_conf_merge_msec_value(conf->recurring_window, prev->recurring_window,
                              NGX_HTTP_CS_RECURRING_WINDOW);

    /* a set_cs_pseudonym of this very block, now that its secret is known */
    if (ngx_http_cs_check_pseudonym(cf, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (conf->kind == NGX_HTTP_CS_KIND_API && conf->secret == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cs_api\" needs \"cs_secret\": the desk's "
                           "tokens are made with it "
                           "(openssl rand -hex 32 > cs.secret)");
        return NGX_CONF_ERROR;
    }

    if (conf->redis_database < 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cs_redis_database\" must not be negative");
        return NGX_CONF_ERROR;
    }

    if (conf->redis_user.len && conf->redis_password.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cs_redis_user\" needs \"cs_redis_password\": "
                           "an ACL user logs in with both");
        return NGX_CONF_ERROR;
    }

    if (conf->kind != NGX_HTTP_CS_KIND_NONE) {
        conf->redis = ngx_http_cs_redis_add(cf, &conf->redis_server,
                                            &conf->redis_user,
                                            &conf->redis_password,
                                            conf->redis_database,
                                            conf->redis_connect_timeout,
                                            conf->redis_timeout);
        if (conf->redis == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    /* an "if" block inside a cs_api location is that location */
    if (conf->kind == NGX_HTTP_CS_KIND_API && !clcf->noname) {
        return ngx_http_cs_desk_add(cf, conf);
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_cs_postconfiguration(ngx_conf_t *cf)
{
    if (ngx_http_cs_redis_init_scripts(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_cs_filter_init(cf);
}


/*
 * nginx runs init_process in its cache manager and cache loader too; only
 * the processes that serve requests talk to Redis.
 */
static ngx_uint_t
ngx_http_cs_serving_process(void)
{
    return ngx_process == NGX_PROCESS_WORKER
           || ngx_process == NGX_PROCESS_SINGLE;
}


/*
 * A secret per worker for the validator's key hash.  random() is only the
 * fallback: nginx seeds it from the pid and the time, which a client may
 * guess.
 */
static void
ngx_http_cs_seed_json(ngx_cycle_t *cycle)
{
    u_char      key[16];
    ngx_uint_t  i;

#if (NGX_HTTP_CS_HAVE_GETRANDOM)

    if (getrandom(key, sizeof(key), GRND_NONBLOCK) == (ssize_t) sizeof(key)) {
        ngx_http_cs_json_seed(key);
        return;
    }

    ngx_log_error(NGX_LOG_WARN, cycle->log, ngx_errno,
                  "getrandom() failed, the JSON key hash is seeded with "
                  "random()");
#endif

    for (i = 0; i < sizeof(key); i++) {
        key[i] = (u_char) (ngx_random() >> 8);
    }

    ngx_http_cs_json_seed(key);
}


static ngx_int_t
ngx_http_cs_init_process(ngx_cycle_t *cycle)
{
    if (!ngx_http_cs_serving_process()) {
        return NGX_OK;
    }

    ngx_http_cs_seed_json(cycle);

    if (ngx_http_cs_hmac_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_cs_redis_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_cs_sweep_init_process(cycle);
}


static void
ngx_http_cs_exit_process(ngx_cycle_t *cycle)
{
    if (!ngx_http_cs_serving_process()) {
        return;
    }

    /* first: the sweep hands its lock back on the connection */
    ngx_http_cs_sweep_exit_process(cycle);
    ngx_http_cs_redis_exit_process(cycle);
}
