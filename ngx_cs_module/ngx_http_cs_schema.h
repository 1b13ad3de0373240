/*
 * The bodies the desk takes, as field rows for the validator
 * (ngx_http_cs_json.h).  An endpoint's row names one of these.
 *
 * Like the validator, ngx_http_cs_schema.c depends on libc alone, so that
 * the fuzzer and the unit tests link it.
 */

#ifndef NGX_HTTP_CS_SCHEMA_H_INCLUDED_
#define NGX_HTTP_CS_SCHEMA_H_INCLUDED_


#include "ngx_http_cs_json.h"


#define NGX_HTTP_CS_USER_ID_MAX       128
#define NGX_HTTP_CS_CATEGORY_MAX      64
#define NGX_HTTP_CS_EMAIL_MAX         254
#define NGX_HTTP_CS_AGENT_NAME_MAX    64
#define NGX_HTTP_CS_SKILLS_MAX        32


/* the ticket's rows, in order: ngx_http_cs_json_get(v, NGX_HTTP_CS_F_...) */
typedef enum {
    NGX_HTTP_CS_F_USER_ID = 0,
    NGX_HTTP_CS_F_ISSUE,
    NGX_HTTP_CS_F_CATEGORY,
    NGX_HTTP_CS_F_PRIORITY,
    NGX_HTTP_CS_F_CHANNEL,
    NGX_HTTP_CS_F_EMAIL,
    NGX_HTTP_CS_F_COUNT
} ngx_http_cs_field_e;


/*
 * ticket    POST service: v1's intake
 * message   POST tickets/{id}/messages
 * status    POST tickets/{id}/status
 * assign    POST tickets/{id}/assign
 * fields    POST tickets/{id}/fields
 * agent     PUT agents/{name}
 * presence  PUT agents/{name}/presence
 * feedback  POST tickets/{id}/feedback
 * user_export  POST users/export
 * user_erase   POST users/erase
 *
 * Each schema's rows, with their messages, are in ngx_http_cs_schema.c.
 */
/* 1 for an agent's name: [A-Za-z0-9_.-]{1,64}, not ".", ".." or
 * "unassigned" */
int ngx_http_cs_agent_name_ok(const unsigned char *s, size_t len);

/* 1 for a category (or a skill): [a-z0-9_-]{1,64} */
int ngx_http_cs_category_ok(const unsigned char *s, size_t len);

extern const ngx_http_cs_schema_t  ngx_http_cs_schema_ticket;
extern const ngx_http_cs_schema_t  ngx_http_cs_schema_message;
extern const ngx_http_cs_schema_t  ngx_http_cs_schema_status;
extern const ngx_http_cs_schema_t  ngx_http_cs_schema_assign;
extern const ngx_http_cs_schema_t  ngx_http_cs_schema_fields;
extern const ngx_http_cs_schema_t  ngx_http_cs_schema_agent;
extern const ngx_http_cs_schema_t  ngx_http_cs_schema_presence;
extern const ngx_http_cs_schema_t  ngx_http_cs_schema_feedback;
extern const ngx_http_cs_schema_t  ngx_http_cs_schema_user_export;
extern const ngx_http_cs_schema_t  ngx_http_cs_schema_user_erase;


#endif /* NGX_HTTP_CS_SCHEMA_H_INCLUDED_ */
