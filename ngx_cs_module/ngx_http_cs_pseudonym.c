/*
 * set_cs_pseudonym $out $in;
 *
 * $out is the HMAC-SHA256 of "pseudonym:" $in under the desk's current
 * cs_secret, its first 16 bytes in base64url without padding (22
 * characters): the same input gives the same pseudonym on every worker and
 * host that shares the secret, so an access log can count and follow a
 * client without holding its address or id.  The purpose keeps a
 * pseudonym from ever serving as a token, a key name or a user's proof.
 * Rotating cs_secret changes every pseudonym: the old secret only checks
 * tokens.
 *
 * ngx_devel_kit compiles the directive into the rewrite module's script,
 * as "set" is, and calls ngx_http_cs_pseudonym_value() with the value of
 * $in; the request's location (or "if" block) configuration gives the
 * secret.  Whether a secret applies is known only once the configuration
 * is merged (cs_secret may come later in the block, or from the server or
 * http level), so the directive records where it is and the merge checks.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ndk.h>

#include "ngx_http_cs_module.h"
#include "ngx_http_cs_auth.h"
#include "ngx_http_cs_pseudonym.h"


static ngx_int_t ngx_http_cs_pseudonym_value(ngx_http_request_t *r,
    ngx_str_t *res, ngx_http_variable_value_t *v);


ndk_set_var_t  ngx_http_cs_pseudonym_filter = {
    NDK_SET_VAR_VALUE,
    (void *) ngx_http_cs_pseudonym_value,
    1,
    NULL
};


char *
ngx_http_cs_set_pseudonym(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cs_loc_conf_t  *cslcf = conf;

    if (cslcf->pseudonym_line == 0) {
        cslcf->pseudonym_file = cf->conf_file->file.name;
        cslcf->pseudonym_line = cf->conf_file->line;
    }

    return ndk_set_var_value(cf, cmd, conf);
}


char *
ngx_http_cs_check_pseudonym(ngx_conf_t *cf, void *conf)
{
    ngx_http_cs_loc_conf_t  *cslcf = conf;

    if (cslcf->pseudonym_line == 0 || cslcf->secret != NULL) {
        return NGX_CONF_OK;
    }

    /* the merge runs at the end of the http block: name the directive's */
    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "\"set_cs_pseudonym\" needs \"cs_secret\" at its level or "
                  "above: pseudonyms are made with it "
                  "(openssl rand -hex 32 > cs.secret) in %V:%ui",
                  &cslcf->pseudonym_file, cslcf->pseudonym_line);

    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_cs_pseudonym_value(ngx_http_request_t *r, ngx_str_t *res,
    ngx_http_variable_value_t *v)
{
    ngx_str_t                in;
    ngx_http_cs_loc_conf_t  *cslcf;

    cslcf = ngx_http_get_module_loc_conf(r, ngx_http_cs_module);

    if (cslcf->secret == NULL) {
        /* the merge refuses this configuration; never a keyless value */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "set_cs_pseudonym without cs_secret");
        return NGX_ERROR;
    }

    /* nothing stays nothing: no pseudonym of an absent value */
    if (v->len == 0) {
        ngx_str_set(res, "");
        return NGX_OK;
    }

    in.data = v->data;
    in.len = v->len;

    return ngx_http_cs_hmac_name(r->pool, &cslcf->secret->current,
                                 "pseudonym", &in, res);
}
