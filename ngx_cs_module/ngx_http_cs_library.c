/*
 * The desk's Redis Functions library: the text FUNCTION LOAD sends and the
 * function names FCALL calls, made when the configuration is read from the
 * text that config generates (ngx_http_cs_scripts.h, included here and
 * nowhere else), and the check of FUNCTION LOAD's reply.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_sha1.h>
#include <hiredis/async.h>

#include "ngx_http_cs_redis_int.h"
#include "ngx_http_cs_scripts.h"


/*
 * The desk's scripts are the functions of one Redis Functions library
 * (ngx_http_cs_library.sh): cs_<v>_<script>, where cs_<v> names the
 * library by its text (<v>: 16 hex digits of the text's SHA-1), so that two
 * builds of the module never share a name, and a worker of the old build
 * still finds its own functions during a reload or a rolling upgrade.
 */

#define NGX_HTTP_CS_LIBRARY_NAME_LEN  (sizeof("cs_") - 1 + 16)

static const char  *ngx_http_cs_script_names[NGX_HTTP_CS_SCRIPT_COUNT] = {
    "intake",
    "me",
    "ticket_get",
    "agent_put",
    "agent_token",
    "agent_presence",
    "agents_list",
    "agent_delete",
    "ticket_message",
    "ticket_status",
    "ticket_assign",
    "ticket_fields",
    "tickets_list",
    "agent_queue",
    "sweep",
    "ticket_feedback",
    "user_export",
    "user_erase",
    "metrics_get",
    "trends",
    "insights_list"
};

#define NGX_HTTP_CS_LIBRARY_HEAD                                             \
    "#!lua name=cs_0123456789abcdef\nlocal LIB = 'cs_0123456789abcdef_'\n"

/*
 * What FUNCTION LOAD sends: its first line and the LIB the registrations
 * use, then the text; static, as the configuration cycle's pools come and
 * go with reloads and failed ones
 */
static u_char     ngx_http_cs_library_load[sizeof(NGX_HTTP_CS_LIBRARY_HEAD)
                                           - 1 + sizeof(ngx_http_cs_library)];
static ngx_str_t  ngx_http_cs_library_text;
static u_char     ngx_http_cs_library_name[NGX_HTTP_CS_LIBRARY_NAME_LEN + 1];

/* cs_<v>_<script>, what FCALL names */
#define NGX_HTTP_CS_FUNCTION_NAME_MAX  64

static u_char     ngx_http_cs_function_names[NGX_HTTP_CS_SCRIPT_COUNT]
                                            [NGX_HTTP_CS_FUNCTION_NAME_MAX];
static ngx_str_t  ngx_http_cs_functions[NGX_HTTP_CS_SCRIPT_COUNT];


ngx_int_t
ngx_http_cs_redis_init_scripts(ngx_conf_t *cf)
{
    u_char      *p, digest[20], hex[40];
    size_t       body;
    ngx_uint_t   i;
    ngx_sha1_t   sha1;

    body = sizeof(ngx_http_cs_library) - 1;

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, ngx_http_cs_library, body);
    ngx_sha1_final(digest, &sha1);
    ngx_hex_dump(hex, digest, 20);

    ngx_sprintf(ngx_http_cs_library_name, "cs_%*s%Z", (size_t) 16, hex);

    /* the head, bounded, must be NGX_HTTP_CS_LIBRARY_HEAD's length */
    p = ngx_snprintf(ngx_http_cs_library_load,
                     sizeof(NGX_HTTP_CS_LIBRARY_HEAD),
                     "#!lua name=%s\nlocal LIB = '%s_'\n",
                     ngx_http_cs_library_name, ngx_http_cs_library_name);

    if ((size_t) (p - ngx_http_cs_library_load)
        != sizeof(NGX_HTTP_CS_LIBRARY_HEAD) - 1)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "cs: the desk's library head is %uz bytes, not %uz",
                      (size_t) (p - ngx_http_cs_library_load),
                      sizeof(NGX_HTTP_CS_LIBRARY_HEAD) - 1);
        return NGX_ERROR;
    }

    p = ngx_cpymem(p, ngx_http_cs_library, body);

    ngx_http_cs_library_text.data = ngx_http_cs_library_load;
    ngx_http_cs_library_text.len = p - ngx_http_cs_library_load;

    for (i = 0; i < NGX_HTTP_CS_SCRIPT_COUNT; i++) {
        p = ngx_snprintf(ngx_http_cs_function_names[i],
                         NGX_HTTP_CS_FUNCTION_NAME_MAX, "%s_%s",
                         ngx_http_cs_library_name,
                         ngx_http_cs_script_names[i]);

        if ((size_t) (p - ngx_http_cs_function_names[i])
            != NGX_HTTP_CS_LIBRARY_NAME_LEN + 1
               + ngx_strlen(ngx_http_cs_script_names[i]))
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "cs: the function name of script \"%s\" is "
                          "longer than %d bytes",
                          ngx_http_cs_script_names[i],
                          NGX_HTTP_CS_FUNCTION_NAME_MAX);
            return NGX_ERROR;
        }

        ngx_http_cs_functions[i].data = ngx_http_cs_function_names[i];
        ngx_http_cs_functions[i].len = p - ngx_http_cs_function_names[i];
    }

    return NGX_OK;
}


/*
 * FUNCTION LOAD's reply: the library's name, or, when the library is
 * there already (another worker, host or earlier run loaded it, and Redis
 * keeps it with its data), "ERR Library '...' already exists"
 */
ngx_int_t
ngx_http_cs_redis_library_loaded(redisReply *reply)
{
    if (reply->type == REDIS_REPLY_STRING) {
        return (reply->len == NGX_HTTP_CS_LIBRARY_NAME_LEN
                && ngx_strncmp(reply->str, ngx_http_cs_library_name,
                               NGX_HTTP_CS_LIBRARY_NAME_LEN) == 0)
               ? NGX_OK : NGX_DECLINED;
    }

    if (reply->type == REDIS_REPLY_ERROR
        && ngx_strstr(reply->str, " already exists") != NULL
        && ngx_strstr(reply->str, (char *) ngx_http_cs_library_name) != NULL)
    {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


/* what FUNCTION LOAD sends */
ngx_str_t *
ngx_http_cs_redis_library(void)
{
    return &ngx_http_cs_library_text;
}


/* cs_<v>, null-terminated */
u_char *
ngx_http_cs_redis_library_name(void)
{
    return ngx_http_cs_library_name;
}


/* cs_<v>_<script>, what FCALL names for script */
ngx_str_t *
ngx_http_cs_redis_function(ngx_uint_t script)
{
    return &ngx_http_cs_functions[script];
}
