/*
 * The desk's bodies as field rows, and the checks of their strings.
 *
 * A row says what the validator (ngx_http_cs_json.c) needs to know of one
 * member: its name, type, whether it is required or nullable, its limits,
 * allowed values and default, and the check of its strings, which returns
 * the message of the 422.  The ticket's rows and messages are v1's, to the
 * byte.
 */

#include <string.h>

#include "ngx_http_cs_schema.h"


#define CS_ROWS(rows)  rows, sizeof(rows) / sizeof(ngx_http_cs_field_t)


static const char *const  cs_priorities[] = {
    "low", "normal", "high", "urgent", NULL
};

static const char *const  cs_channels[] = {
    "web", "email", "chat", "social", "phone", "api", NULL
};

static const char *const  cs_states[] = {
    "pending", "solved", "closed", NULL
};

static const char *const  cs_presences[] = {
    "online", "away", "offline", NULL
};

/* names that a path could not tell from something else */
static const char *const  cs_reserved_agents[] = {
    ".", "..", "unassigned", NULL
};


static int
cs_in_list(const unsigned char *s, size_t len, const char *const *list)
{
    for ( /* void */ ; *list; list++) {
        if (strlen(*list) == len && memcmp(*list, s, len) == 0) {
            return 1;
        }
    }

    return 0;
}


/* blank: empty, or only space, tab, CR and LF */
static int
cs_blank(const unsigned char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') {
            return 0;
        }
    }

    return 1;
}


/* [a-z0-9_-]{1,64}: a category, and a skill */
int
ngx_http_cs_category_ok(const unsigned char *s, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_HTTP_CS_CATEGORY_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')
              || s[i] == '_' || s[i] == '-'))
        {
            return 0;
        }
    }

    return 1;
}


static const char *
cs_check_user_id(const unsigned char *s, size_t len, size_t limit)
{
    size_t  i;

    (void) limit;

    if (len == 0 || len > NGX_HTTP_CS_USER_ID_MAX) {
        return "userId must be 1 to 128 bytes";
    }

    /* C0, DEL and C1 (U+0080-009F, encoded c2 80 to c2 9f) */
    for (i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f
            || (s[i] == 0xc2 && i + 1 < len && s[i + 1] < 0xa0))
        {
            return "userId must not contain control characters";
        }
    }

    return NULL;
}


static const char *
cs_check_issue(const unsigned char *s, size_t len, size_t limit)
{
    if (len > limit) {
        return "issue is longer than the configured maximum";
    }

    if (cs_blank(s, len)) {
        return "issue must not be blank";
    }

    return NULL;
}


static const char *
cs_check_category(const unsigned char *s, size_t len, size_t limit)
{
    (void) limit;

    if (!ngx_http_cs_category_ok(s, len)) {
        return "category must be 1 to 64 characters of [a-z0-9_-]";
    }

    return NULL;
}


static const char *
cs_check_email(const unsigned char *s, size_t len, size_t limit)
{
    size_t  i, at, n;

    (void) limit;

    if (len > NGX_HTTP_CS_EMAIL_MAX) {
        return "email must be at most 254 bytes";
    }

    at = 0;
    n = 0;

    for (i = 0; i < len; i++) {
        if (s[i] <= 0x20 || s[i] == 0x7f) {
            return "email must not contain spaces or control characters";
        }

        if (s[i] == '@') {
            at = i;
            n++;
        }
    }

    if (n != 1 || at == 0 || at == len - 1) {
        return "email must contain one @ between a name and a domain";
    }

    return NULL;
}


static const char *
cs_check_body(const unsigned char *s, size_t len, size_t limit)
{
    if (len > limit) {
        return "body is longer than the configured maximum";
    }

    if (cs_blank(s, len)) {
        return "body must not be blank";
    }

    return NULL;
}


/* as a path's {name}: [A-Za-z0-9_.-]{1,64}, and not . .. unassigned */
static const char *
cs_check_agent(const unsigned char *s, size_t len, size_t limit)
{
    (void) limit;

    if (ngx_http_cs_agent_name_ok(s, len)) {
        return NULL;
    }

    return "agent must be 1 to 64 characters of [A-Za-z0-9_.-], other than"
           " ., .. and unassigned";
}


/* the one rule for a name: an agent's (body, path, token, cs_agents) */
int
ngx_http_cs_agent_name_ok(const unsigned char *s, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_HTTP_CS_AGENT_NAME_MAX
        || cs_in_list(s, len, cs_reserved_agents))
    {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9')
              || s[i] == '_' || s[i] == '.' || s[i] == '-'))
        {
            return 0;
        }
    }

    return 1;
}


static const char *
cs_check_skill(const unsigned char *s, size_t len, size_t limit)
{
    (void) limit;

    if (!ngx_http_cs_category_ok(s, len)) {
        return "a skill must be 1 to 64 characters of [a-z0-9_-]";
    }

    return NULL;
}


static const char *
cs_check_comment(const unsigned char *s, size_t len, size_t limit)
{
    (void) s;

    if (len > limit) {
        return "comment is longer than the configured maximum";
    }

    return NULL;
}


/*
 * name, type, required, nullable, min, max, check, values, default; the
 * ticket's rows are in the order of ngx_http_cs_field_e.
 */

static const ngx_http_cs_field_t  cs_ticket[] = {
    { "userId", NGX_HTTP_CS_FT_STRING, 1, 0, 0, 0, cs_check_user_id, NULL,
      NULL },
    { "issue", NGX_HTTP_CS_FT_STRING, 1, 0, 0, 0, cs_check_issue, NULL,
      NULL },
    { "category", NGX_HTTP_CS_FT_STRING, 0, 0, 0, 0, cs_check_category, NULL,
      NULL },
    { "priority", NGX_HTTP_CS_FT_STRING, 0, 0, 0, 0, NULL, cs_priorities,
      "normal" },
    { "channel", NGX_HTTP_CS_FT_STRING, 0, 0, 0, 0, NULL, cs_channels,
      "api" },
    { "email", NGX_HTTP_CS_FT_STRING, 0, 0, 0, 0, cs_check_email, NULL,
      NULL }
};

static const ngx_http_cs_field_t  cs_message[] = {
    { "body", NGX_HTTP_CS_FT_STRING, 1, 0, 0, 0, cs_check_body, NULL, NULL },
    { "internal", NGX_HTTP_CS_FT_BOOLEAN, 0, 0, 0, 0, NULL, NULL, NULL }
};

static const ngx_http_cs_field_t  cs_status[] = {
    { "state", NGX_HTTP_CS_FT_STRING, 1, 0, 0, 0, NULL, cs_states, NULL }
};

/* null: back to routing */
static const ngx_http_cs_field_t  cs_assign[] = {
    { "agent", NGX_HTTP_CS_FT_STRING, 1, 1, 0, 0, cs_check_agent, NULL,
      NULL }
};

/* either or both; a category may be null */
static const ngx_http_cs_field_t  cs_fields[] = {
    { "priority", NGX_HTTP_CS_FT_STRING, 0, 0, 0, 0, NULL, cs_priorities,
      NULL },
    { "category", NGX_HTTP_CS_FT_STRING, 0, 1, 0, 0, cs_check_category, NULL,
      NULL }
};

static const ngx_http_cs_field_t  cs_agent[] = {
    { "capacity", NGX_HTTP_CS_FT_INTEGER, 1, 0, 1, 1000, NULL, NULL, NULL },
    { "skills", NGX_HTTP_CS_FT_STRINGS, 0, 0, 0, NGX_HTTP_CS_SKILLS_MAX,
      cs_check_skill, NULL, NULL }
};

static const ngx_http_cs_field_t  cs_presence[] = {
    { "status", NGX_HTTP_CS_FT_STRING, 1, 0, 0, 0, NULL, cs_presences, NULL }
};

static const ngx_http_cs_field_t  cs_feedback[] = {
    { "csat", NGX_HTTP_CS_FT_INTEGER, 1, 0, 1, 5, NULL, NULL, NULL },
    { "ces", NGX_HTTP_CS_FT_INTEGER, 0, 0, 1, 7, NULL, NULL, NULL },
    { "comment", NGX_HTTP_CS_FT_STRING, 0, 0, 0, 0, cs_check_comment, NULL,
      NULL }
};

/* users/export, users/erase: the cursor of an earlier page */
static const char *
cs_check_cursor(const unsigned char *s, size_t len, size_t limit)
{
    size_t  i;

    (void) limit;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            break;
        }
    }

    if (len == 0 || len > 15 || i < len) {
        return "cursor must be a cursor from an earlier page";
    }

    return NULL;
}

static const char *const  cs_erase_modes[] = {
    "erase", "anonymize", NULL
};

static const ngx_http_cs_field_t  cs_user_export[] = {
    { "userId", NGX_HTTP_CS_FT_STRING, 1, 0, 0, 0, cs_check_user_id, NULL,
      NULL },
    { "cursor", NGX_HTTP_CS_FT_STRING, 0, 1, 0, 0, cs_check_cursor, NULL,
      NULL }
};

static const ngx_http_cs_field_t  cs_user_erase[] = {
    { "userId", NGX_HTTP_CS_FT_STRING, 1, 0, 0, 0, cs_check_user_id, NULL,
      NULL },
    { "mode", NGX_HTTP_CS_FT_STRING, 1, 0, 0, 0, NULL, cs_erase_modes, NULL }
};


const ngx_http_cs_schema_t  ngx_http_cs_schema_user_export =
    { CS_ROWS(cs_user_export) };
const ngx_http_cs_schema_t  ngx_http_cs_schema_user_erase =
    { CS_ROWS(cs_user_erase) };
const ngx_http_cs_schema_t  ngx_http_cs_schema_ticket = { CS_ROWS(cs_ticket) };
const ngx_http_cs_schema_t  ngx_http_cs_schema_message =
    { CS_ROWS(cs_message) };
const ngx_http_cs_schema_t  ngx_http_cs_schema_status = { CS_ROWS(cs_status) };
const ngx_http_cs_schema_t  ngx_http_cs_schema_assign = { CS_ROWS(cs_assign) };
const ngx_http_cs_schema_t  ngx_http_cs_schema_fields = { CS_ROWS(cs_fields) };
const ngx_http_cs_schema_t  ngx_http_cs_schema_agent = { CS_ROWS(cs_agent) };
const ngx_http_cs_schema_t  ngx_http_cs_schema_presence =
    { CS_ROWS(cs_presence) };
const ngx_http_cs_schema_t  ngx_http_cs_schema_feedback =
    { CS_ROWS(cs_feedback) };
