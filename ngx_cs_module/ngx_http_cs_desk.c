/*
 * The desks of a configuration.  One desk is one key prefix on one Redis;
 * the settings that act without a request or say who is who must be the
 * same in every cs_api location of the desk, else nginx -t refuses the
 * configuration, naming the directive and both locations.
 *
 * A desk-wide setting is one row of the table below: its directive, its
 * field in the location's configuration, and how two values compare
 * (NULL: byte for byte, for numbers, times and flat structures of them).
 *
 * The Redis is told apart by its cs_redis_server as written and its
 * cs_redis_database: "localhost" and "127.0.0.1" name two servers here.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_cs_module.h"
#include "ngx_http_cs_auth.h"
#include "ngx_http_cs_desk.h"
#include "ngx_http_cs_crypt.h"


typedef ngx_uint_t (*ngx_http_cs_desk_same_pt)(void *a, void *b);


typedef struct {
    const char                 *directive;
    size_t                      offset;      /* in ngx_http_cs_loc_conf_t */
    size_t                      size;
    ngx_http_cs_desk_same_pt    same;        /* NULL: the same bytes */
} ngx_http_cs_desk_setting_t;


#define ngx_http_cs_desk_setting(directive, field, same)                      \
    { directive, offsetof(ngx_http_cs_loc_conf_t, field),                     \
      sizeof(((ngx_http_cs_loc_conf_t *) NULL)->field), same }


static ngx_uint_t ngx_http_cs_desk_same_secret(void *a, void *b);
static ngx_uint_t ngx_http_cs_desk_same_admin_keys(void *a, void *b);


static ngx_http_cs_desk_setting_t  ngx_http_cs_desk_settings[] = {
    ngx_http_cs_desk_setting("cs_secret", secret,
                             ngx_http_cs_desk_same_secret),
    ngx_http_cs_desk_setting("cs_encrypt_key", crypt,
                             ngx_http_cs_crypt_same),
    ngx_http_cs_desk_setting("cs_admin_keys", admin_keys,
                             ngx_http_cs_desk_same_admin_keys),
    ngx_http_cs_desk_setting("cs_assign", assign, NULL),
    ngx_http_cs_desk_setting("cs_presence_timeout", presence_timeout, NULL),
    ngx_http_cs_desk_setting("cs_close_after", close_after, NULL),
    ngx_http_cs_desk_setting("cs_feedback_window", feedback_window, NULL),
    ngx_http_cs_desk_setting("cs_reassign_after", reassign_after, NULL),
    ngx_http_cs_desk_setting("cs_recurring", recurring_threshold, NULL),
    ngx_http_cs_desk_setting("cs_recurring", recurring_window, NULL),
    { NULL, 0, 0, NULL }
};


static ngx_uint_t
ngx_http_cs_desk_same_str(ngx_str_t *a, ngx_str_t *b)
{
    return a->len == b->len && ngx_memcmp(a->data, b->data, a->len) == 0;
}


/* the same bytes, current and old: two files may hold one secret */
static ngx_uint_t
ngx_http_cs_desk_same_secret(void *a, void *b)
{
    ngx_http_cs_secret_t  *sa = *(ngx_http_cs_secret_t **) a;
    ngx_http_cs_secret_t  *sb = *(ngx_http_cs_secret_t **) b;

    if (sa == NULL || sb == NULL) {
        return sa == sb;
    }

    return ngx_http_cs_desk_same_str(&sa->current, &sb->current)
           && ngx_http_cs_desk_same_str(&sa->old, &sb->old);
}


/* every key of a is a key of b, under the same name */
static ngx_uint_t
ngx_http_cs_desk_keys_within(ngx_array_t *a, ngx_array_t *b)
{
    ngx_uint_t                i, j;
    ngx_http_cs_admin_key_t  *ka, *kb;

    ka = a->elts;
    kb = b->elts;

    for (i = 0; i < a->nelts; i++) {
        for (j = 0; j < b->nelts; j++) {
            if (ngx_http_cs_desk_same_str(&ka[i].name, &kb[j].name)
                && ngx_memcmp(ka[i].digest, kb[j].digest, 32) == 0)
            {
                break;
            }
        }

        if (j == b->nelts) {
            return 0;
        }
    }

    return 1;
}


/* the same keys under the same names, in any order */
static ngx_uint_t
ngx_http_cs_desk_same_admin_keys(void *a, void *b)
{
    ngx_array_t  *ka = *(ngx_array_t **) a;
    ngx_array_t  *kb = *(ngx_array_t **) b;

    if (ka == NULL || kb == NULL) {
        return ka == kb;
    }

    return ngx_http_cs_desk_keys_within(ka, kb)
           && ngx_http_cs_desk_keys_within(kb, ka);
}


static ngx_uint_t
ngx_http_cs_desk_same(ngx_http_cs_loc_conf_t *a, ngx_http_cs_loc_conf_t *b)
{
    return ngx_http_cs_desk_same_str(&a->key_prefix, &b->key_prefix)
           && ngx_http_cs_desk_same_str(&a->redis_server, &b->redis_server)
           && a->redis_database == b->redis_database;
}


char *
ngx_http_cs_desk_add(ngx_conf_t *cf, ngx_http_cs_loc_conf_t *cslcf)
{
    u_char                      *va, *vb;
    ngx_uint_t                   i;
    ngx_http_cs_desk_t          *desk, **dp;
    ngx_http_cs_loc_conf_t      *first;
    ngx_http_cs_main_conf_t     *cmcf;
    ngx_http_cs_desk_setting_t  *set;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_cs_module);

    dp = cmcf->desks.elts;
    for (i = 0; i < cmcf->desks.nelts; i++) {
        first = dp[i]->conf;

        if (!ngx_http_cs_desk_same(first, cslcf)) {
            continue;
        }

        for (set = ngx_http_cs_desk_settings; set->directive; set++) {
            va = (u_char *) first + set->offset;
            vb = (u_char *) cslcf + set->offset;

            if (set->same != NULL ? set->same(va, vb)
                                  : ngx_memcmp(va, vb, set->size) == 0)
            {
                continue;
            }

            /* names the directive and the places, never a value */
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"%s\" differs between the cs_api locations in "
                          "%V:%ui and %V:%ui, which serve one desk (prefix "
                          "\"%V\" on %V, database %i): set it alike in "
                          "both, or give each its own cs_key_prefix",
                          set->directive, &first->api_file, first->api_line,
                          &cslcf->api_file, cslcf->api_line,
                          &cslcf->key_prefix, &cslcf->redis_server,
                          cslcf->redis_database);
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    desk = ngx_pcalloc(cf->pool, sizeof(ngx_http_cs_desk_t));
    if (desk == NULL) {
        return NGX_CONF_ERROR;
    }

    desk->conf = cslcf;

    dp = ngx_array_push(&cmcf->desks);
    if (dp == NULL) {
        return NGX_CONF_ERROR;
    }

    *dp = desk;

    return NGX_CONF_OK;
}
