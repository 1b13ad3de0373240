/*
 * A desk: one key prefix on one Redis (server and database).  Its settings
 * are the same in every cs_api location that serves it (checked at
 * nginx -t, ngx_http_cs_desk.c), and its timers run once per desk, in one
 * worker (the sweep of cs_close_after and cs_reassign_after,
 * ngx_http_cs_sweep.c).
 */

#ifndef NGX_HTTP_CS_DESK_H_INCLUDED_
#define NGX_HTTP_CS_DESK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_cs_module.h"


typedef struct {
    /* the first cs_api location of the desk: its prefix, Redis, settings */
    ngx_http_cs_loc_conf_t     *conf;

    /* the sweep, per worker */
    ngx_event_t                 timer;
    ngx_array_t                *args;        /* the script's, ngx_str_t */
    ngx_str_t                  *mode;        /* args' last: sweep, release */
    ngx_msec_t                  period;
    unsigned                    busy:1;      /* a sweep call is in flight */
    unsigned                    held:1;      /* the lock, at its last word */
} ngx_http_cs_desk_t;


/*
 * Adds a cs_api location to its desk; refuses it when a desk-wide setting
 * differs from the desk's first location.
 */
char *ngx_http_cs_desk_add(ngx_conf_t *cf, ngx_http_cs_loc_conf_t *cslcf);

ngx_int_t ngx_http_cs_sweep_init_process(ngx_cycle_t *cycle);
void ngx_http_cs_sweep_exit_process(ngx_cycle_t *cycle);


#endif /* NGX_HTTP_CS_DESK_H_INCLUDED_ */
