/*
 * set_cs_pseudonym $out $in: a stable stand-in for a personal value (a
 * client address, a user id) in access logs and headers, made with
 * ngx_devel_kit's set_var API so that it runs in nginx's rewrite phase
 * like "set".
 */

#ifndef NGX_HTTP_CS_PSEUDONYM_H_INCLUDED_
#define NGX_HTTP_CS_PSEUDONYM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ndk.h>


/* the directive's cmd->post: NDK runs it on the value of $in */
extern ndk_set_var_t  ngx_http_cs_pseudonym_filter;


char *ngx_http_cs_set_pseudonym(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* at merge time: NGX_CONF_ERROR when set_cs_pseudonym has no cs_secret */
char *ngx_http_cs_check_pseudonym(ngx_conf_t *cf, void *conf);


#endif /* NGX_HTTP_CS_PSEUDONYM_H_INCLUDED_ */
