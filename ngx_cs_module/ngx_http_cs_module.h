/*
 * ngx_cs_module: a customer-service desk's front door inside nginx.
 * Types shared by the directive, handler, filter and Redis files.
 */

#ifndef NGX_HTTP_CS_MODULE_H_INCLUDED_
#define NGX_HTTP_CS_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_CS_ASSIGN_ROUND_ROBIN   0
#define NGX_HTTP_CS_ASSIGN_LEAST_LOADED  1

#define NGX_HTTP_CS_IDEM_KEY_MAX         128


typedef struct ngx_http_cs_redis_s  ngx_http_cs_redis_t;


typedef struct {
    ngx_uint_t                  status;
    const char                 *code;
    const char                 *message;
} ngx_http_cs_error_t;


typedef struct {
    ngx_array_t                 servers;     /* ngx_http_cs_redis_t * */
} ngx_http_cs_main_conf_t;


typedef struct {
    ngx_flag_t                  service;

    ngx_str_t                   redis_server;
    ngx_str_t                   redis_password;
    ngx_int_t                   redis_database;
    ngx_msec_t                  redis_connect_timeout;
    ngx_msec_t                  redis_timeout;

    ngx_str_t                   key_prefix;
    ngx_array_t                *agents;      /* ngx_str_t */
    ngx_uint_t                  assign;
    size_t                      issue_max_length;
    ngx_array_t                *cors_origins; /* ngx_str_t */

    ngx_http_cs_redis_t        *redis;
} ngx_http_cs_loc_conf_t;


extern ngx_module_t  ngx_http_cs_module;


ngx_int_t ngx_http_cs_handler(ngx_http_request_t *r);

/* NGX_DECLINED with *err for a request refused before its body is read */
ngx_int_t ngx_http_cs_check_request(ngx_http_request_t *r,
    ngx_http_cs_loc_conf_t *cslcf, ngx_http_cs_error_t **err);

ngx_int_t ngx_http_cs_filter_init(ngx_conf_t *cf);

/* the Origin of a request when it is one of cs_cors_origin, else NULL */
ngx_str_t *ngx_http_cs_cors_origin(ngx_http_request_t *r,
    ngx_http_cs_loc_conf_t *cslcf);

/* {"status":"error","error":code,"message":...[,"field":...]} */
ngx_buf_t *ngx_http_cs_error_json(ngx_http_request_t *r, const char *code,
    const char *message, const char *field);

ngx_int_t ngx_http_cs_add_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value);

/* sends the error answer and returns the finalize code */
ngx_int_t ngx_http_cs_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message, const char *field,
    time_t retry_after);


#endif /* NGX_HTTP_CS_MODULE_H_INCLUDED_ */
