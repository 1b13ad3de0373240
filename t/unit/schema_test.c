/*
 * Unit tests of the desk's schemas (ngx_cs_module/ngx_http_cs_schema.c) as
 * the body validator (ngx_http_cs_json.c) applies them, linked with yajl
 * alone: t/unit/run.sh builds and runs it, and `make test` runs that.
 *
 * Each case is a schema, a body and the answer it must get: the verdict,
 * the field at fault and the message, exactly, and for an accepted body
 * every row's value.  Every body is then fed again split in two at every
 * byte boundary, and one byte at a time with empty pieces between, and
 * must get the same answer each time (a syntax error's byte offset aside,
 * which yajl may count one byte later when a token ends at a piece's end).
 * No allocation may be left after ngx_http_cs_json_free().
 *
 * Prints one line per failure and a summary; exits 1 on any failure.
 */

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_cs_json.h"
#include "ngx_http_cs_schema.h"


/* cs_issue_max_length for these tests: small, so that it is reached */
#define T_LIMIT     64

#define T_OK        NGX_HTTP_CS_JSON_OK
#define T_SYNTAX    NGX_HTTP_CS_JSON_SYNTAX
#define T_MISSING   NGX_HTTP_CS_JSON_MISSING
#define T_INVALID   NGX_HTTP_CS_JSON_INVALID
#define T_UNKNOWN   NGX_HTTP_CS_JSON_UNKNOWN

#define T_MISSING_MSG  "a required field is missing"
#define T_UNKNOWN_MSG  "unknown field"
#define T_STRING_MSG   "the value must be a string"
#define T_CAPACITY_MSG "capacity must be an integer from 1 to 1000"
#define T_CSAT_MSG     "csat must be an integer from 1 to 5"
#define T_CES_MSG      "ces must be an integer from 1 to 7"
#define T_INTERNAL_MSG "internal must be true or false"
#define T_SKILLS_MSG   "skills must be a list of at most 32 strings"
#define T_SKILL_MSG    "a skill must be 1 to 64 characters of [a-z0-9_-]"
#define T_TWICE_MSG    "skills has a value twice"
#define T_AGENT_MSG    "agent must be 1 to 64 characters of [A-Za-z0-9_.-]," \
                       " other than ., .. and unassigned"
#define T_CATEGORY_MSG "category must be 1 to 64 characters of [a-z0-9_-]"
#define T_PRIORITY_MSG "priority must be one of low, normal, high, urgent"


typedef struct {
    const char                  *name;
    const ngx_http_cs_schema_t  *schema;
} t_schema_t;


/*
 * values: every row, "name=value" joined by spaces.  A value is '...' (a
 * string, its bytes as they are), a number, true or false, [a,b] (a list),
 * null; an absent row is "-" followed by its default, if any.
 */
typedef struct {
    const t_schema_t            *schema;
    const char                  *body;
    int                          rc;
    const char                  *field;
    const char                  *message;
    const char                  *values;
} t_case_t;


typedef struct {
    int                          rc;
    char                         field[256];
    char                         message[256];
    char                         values[4096];
} t_answer_t;


static const t_schema_t  t_ticket = { "ticket", &ngx_http_cs_schema_ticket };
static const t_schema_t  t_message = { "message",
                                       &ngx_http_cs_schema_message };
static const t_schema_t  t_status = { "status", &ngx_http_cs_schema_status };
static const t_schema_t  t_assign = { "assign", &ngx_http_cs_schema_assign };
static const t_schema_t  t_fields = { "fields", &ngx_http_cs_schema_fields };
static const t_schema_t  t_agent = { "agent", &ngx_http_cs_schema_agent };
static const t_schema_t  t_presence = { "presence",
                                        &ngx_http_cs_schema_presence };
static const t_schema_t  t_feedback = { "feedback",
                                        &ngx_http_cs_schema_feedback };
static const t_schema_t  t_user_export = { "user_export",
                                           &ngx_http_cs_schema_user_export };
static const t_schema_t  t_user_erase = { "user_erase",
                                          &ngx_http_cs_schema_user_erase };


/*
 * What no schema of the desk uses yet: values on items, a list of any
 * strings, a nullable integer, the whole long long range, a default.
 */
static const char *const  t_xy[] = { "x", "y", NULL };

static const ngx_http_cs_field_t  t_rows_synth[] = {
    { "tags", NGX_HTTP_CS_FT_STRINGS, 0, 0, 0, 3, NULL, t_xy, NULL },
    { "any", NGX_HTTP_CS_FT_STRINGS, 0, 0, 0, 2, NULL, NULL, NULL },
    { "n", NGX_HTTP_CS_FT_INTEGER, 0, 1, -3, 3, NULL, NULL, NULL },
    { "big", NGX_HTTP_CS_FT_INTEGER, 0, 0, LLONG_MIN, LLONG_MAX, NULL, NULL,
      NULL },
    { "s", NGX_HTTP_CS_FT_STRING, 0, 0, 0, 0, NULL, NULL, "d" }
};

static const ngx_http_cs_schema_t  t_synth_schema = {
    t_rows_synth, sizeof(t_rows_synth) / sizeof(ngx_http_cs_field_t)
};

static const t_schema_t  t_synth = { "synthetic", &t_synth_schema };

#define T_SYNTH_DEFAULTS  "n=- big=- s=-'d'"
#define T_BIG_MSG  "big must be an integer from -9223372036854775808 to " \
                   "9223372036854775807"


#define T_U32  "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu"
#define T_U64  T_U32 T_U32
#define T_A32  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define T_A64  T_A32 T_A32

#define T_TICKET_DEFAULTS                                                    \
    "category=- priority=-'normal' channel=-'api' email=-"

/* 32 skills, then the same with a 33rd */
#define T_SKILLS_32                                                          \
    "\"s1\",\"s2\",\"s3\",\"s4\",\"s5\",\"s6\",\"s7\",\"s8\",\"s9\","       \
    "\"s10\",\"s11\",\"s12\",\"s13\",\"s14\",\"s15\",\"s16\",\"s17\","      \
    "\"s18\",\"s19\",\"s20\",\"s21\",\"s22\",\"s23\",\"s24\",\"s25\","      \
    "\"s26\",\"s27\",\"s28\",\"s29\",\"s30\",\"s31\",\"s32\""
#define T_SKILLS_32_VALUES  "[s1,s2,s3,s4,s5,s6,s7,s8,s9,s10,s11,s12,s13,"   \
    "s14,s15,s16,s17,s18,s19,s20,s21,s22,s23,s24,s25,s26,s27,s28,s29,s30,"    \
    "s31,s32]"


static const t_case_t  t_cases[] = {

    /* the ticket: v1's answers, to the byte */

    { &t_ticket, "{\"userId\":\"u\",\"issue\":\"x\"}", T_OK, NULL, "",
      "userId='u' issue='x' " T_TICKET_DEFAULTS },
    { &t_ticket, "{\"email\":\"a@b\",\"channel\":\"chat\","
      "\"priority\":\"low\",\"category\":\"billing\","
      "\"issue\":\"it \\u00e9\",\"userId\":\"u1\"}",
      T_OK, NULL, "",
      "userId='u1' issue='it \xc3\xa9' category='billing' priority='low' "
      "channel='chat' email='a@b'" },
    { &t_ticket, "{\"userId\":\"" T_U64 T_U64 "\",\"issue\":\"" T_A64 "\"}",
      T_OK, NULL, "",
      "userId='" T_U64 T_U64 "' issue='" T_A64 "' " T_TICKET_DEFAULTS },
    { &t_ticket, "{}", T_MISSING, "userId", T_MISSING_MSG, NULL },
    { &t_ticket, "{\"issue\":\"x\"}", T_MISSING, "userId", T_MISSING_MSG,
      NULL },
    { &t_ticket, "{\"userId\":\"u\"}", T_MISSING, "issue", T_MISSING_MSG,
      NULL },
    { &t_ticket, "{\"userId\":1,\"issue\":\"x\"}", T_INVALID, "userId",
      T_STRING_MSG, NULL },
    { &t_ticket, "{\"userId\":null,\"issue\":\"x\"}", T_INVALID, "userId",
      T_STRING_MSG, NULL },
    { &t_ticket, "{\"userId\":\"u\",\"issue\":[\"x\"]}", T_INVALID, "issue",
      T_STRING_MSG, NULL },
    { &t_ticket, "{\"userId\":\"u\",\"issue\":{\"a\":1}}", T_INVALID, "issue",
      T_STRING_MSG, NULL },
    { &t_ticket, "{\"x\":1,\"userId\":2}", T_UNKNOWN, "x", T_UNKNOWN_MSG,
      NULL },
    { &t_ticket, "{\"userId\":2,\"x\":1}", T_INVALID, "userId", T_STRING_MSG,
      NULL },
    { &t_ticket, "{\"userId\":\"u\",\"issue\":\"x\",\"meta\":{\"userId\":5}}",
      T_UNKNOWN, "meta", T_UNKNOWN_MSG, NULL },
    { &t_ticket, "{\"userId\":\"\",\"issue\":\"x\"}", T_INVALID, "userId",
      "userId must be 1 to 128 bytes", NULL },
    { &t_ticket, "{\"userId\":\"" T_U64 T_U64 "u\",\"issue\":\"x\"}",
      T_INVALID, "userId", "userId must be 1 to 128 bytes", NULL },
    { &t_ticket, "{\"userId\":\"a\\u0085\",\"issue\":\"x\"}", T_INVALID,
      "userId", "userId must not contain control characters", NULL },
    { &t_ticket, "{\"userId\":\"u\",\"issue\":\" \\n\\t\"}", T_INVALID,
      "issue", "issue must not be blank", NULL },
    { &t_ticket, "{\"userId\":\"u\",\"issue\":\"" T_A64 "a\"}", T_INVALID,
      "issue", "issue is longer than the configured maximum", NULL },
    { &t_ticket, "{\"userId\":\"u\",\"issue\":\"x\",\"category\":\"Billing\"}",
      T_INVALID, "category", T_CATEGORY_MSG, NULL },
    { &t_ticket, "{\"userId\":\"u\",\"issue\":\"x\",\"priority\":\"p\"}",
      T_INVALID, "priority", T_PRIORITY_MSG, NULL },
    { &t_ticket, "{\"userId\":\"u\",\"issue\":\"x\",\"channel\":\"fax\"}",
      T_INVALID, "channel",
      "channel must be one of web, email, chat, social, phone, api", NULL },
    { &t_ticket, "{\"userId\":\"u\",\"issue\":\"x\",\"email\":\"a@\"}",
      T_INVALID, "email",
      "email must contain one @ between a name and a domain", NULL },
    { &t_ticket, "{\"userId\":\"u\",\"issue\":\"x\",\"email\":\"a b@c\"}",
      T_INVALID, "email",
      "email must not contain spaces or control characters", NULL },

    /* a syntax error anywhere beats any schema error before it */
    { &t_ticket, "{\"x\":1,\"userId\":5", T_SYNTAX, NULL,
      "premature end of the body at byte 17", NULL },
    { &t_ticket, "{\"userId\":5,\"issue\":\"x\"}}", T_SYNTAX, NULL,
      "trailing garbage at byte 24", NULL },
    { &t_ticket, "{\"userId\":5,\"userId\":\"u\"}", T_SYNTAX, NULL,
      "duplicate key in an object at byte 19", NULL },
    { &t_ticket, "[1]", T_SYNTAX, NULL,
      "the body must be a JSON object at byte 0", NULL },
    { &t_ticket, "", T_SYNTAX, NULL, "the body is empty at byte 0", NULL },

    /* message */

    { &t_message, "{\"body\":\"hi\"}", T_OK, NULL, "",
      "body='hi' internal=-" },
    { &t_message, "{\"internal\":true,\"body\":\"hi\"}", T_OK, NULL, "",
      "body='hi' internal=true" },
    { &t_message, "{\"body\":\"hi\",\"internal\":false}", T_OK, NULL, "",
      "body='hi' internal=false" },
    { &t_message, "{\"body\":\"" T_A64 "\"}", T_OK, NULL, "",
      "body='" T_A64 "' internal=-" },
    { &t_message, "{\"body\":\"" T_A64 "a\"}", T_INVALID, "body",
      "body is longer than the configured maximum", NULL },
    { &t_message, "{\"body\":\"\"}", T_INVALID, "body",
      "body must not be blank", NULL },
    { &t_message, "{\"body\":\" \\r\\n\"}", T_INVALID, "body",
      "body must not be blank", NULL },
    { &t_message, "{\"body\":null}", T_INVALID, "body", T_STRING_MSG, NULL },
    { &t_message, "{\"body\":\"hi\",\"internal\":\"true\"}", T_INVALID,
      "internal", T_INTERNAL_MSG, NULL },
    { &t_message, "{\"body\":\"hi\",\"internal\":1}", T_INVALID, "internal",
      T_INTERNAL_MSG, NULL },
    { &t_message, "{\"body\":\"hi\",\"internal\":null}", T_INVALID,
      "internal", T_INTERNAL_MSG, NULL },
    { &t_message, "{\"body\":\"hi\",\"internal\":[true]}", T_INVALID,
      "internal", T_INTERNAL_MSG, NULL },
    { &t_message, "{\"internal\":true}", T_MISSING, "body", T_MISSING_MSG,
      NULL },
    { &t_message, "{\"body\":\"hi\",\"from\":\"me\"}", T_UNKNOWN, "from",
      T_UNKNOWN_MSG, NULL },

    /* status */

    { &t_status, "{\"state\":\"pending\"}", T_OK, NULL, "",
      "state='pending'" },
    { &t_status, "{\"state\":\"solved\"}", T_OK, NULL, "", "state='solved'" },
    { &t_status, "{\"state\":\"closed\"}", T_OK, NULL, "", "state='closed'" },
    { &t_status, "{\"state\":\"queued\"}", T_INVALID, "state",
      "state must be one of pending, solved, closed", NULL },
    { &t_status, "{\"state\":\"Solved\"}", T_INVALID, "state",
      "state must be one of pending, solved, closed", NULL },
    { &t_status, "{\"state\":null}", T_INVALID, "state", T_STRING_MSG, NULL },
    { &t_status, "{}", T_MISSING, "state", T_MISSING_MSG, NULL },

    /* assign: nullable */

    { &t_assign, "{\"agent\":null}", T_OK, NULL, "", "agent=null" },
    { &t_assign, "{\"agent\":\"Agent_1.b-c\"}", T_OK, NULL, "",
      "agent='Agent_1.b-c'" },
    { &t_assign, "{\"agent\":\"" T_A64 "\"}", T_OK, NULL, "",
      "agent='" T_A64 "'" },
    { &t_assign, "{\"agent\":\"...\"}", T_OK, NULL, "", "agent='...'" },
    { &t_assign, "{\"agent\":\"" T_A64 "a\"}", T_INVALID, "agent",
      T_AGENT_MSG, NULL },
    { &t_assign, "{\"agent\":\".\"}", T_INVALID, "agent", T_AGENT_MSG, NULL },
    { &t_assign, "{\"agent\":\"..\"}", T_INVALID, "agent", T_AGENT_MSG,
      NULL },
    { &t_assign, "{\"agent\":\"unassigned\"}", T_INVALID, "agent",
      T_AGENT_MSG, NULL },
    { &t_assign, "{\"agent\":\"\"}", T_INVALID, "agent", T_AGENT_MSG, NULL },
    { &t_assign, "{\"agent\":\"a b\"}", T_INVALID, "agent", T_AGENT_MSG,
      NULL },
    { &t_assign, "{\"agent\":\"a/b\"}", T_INVALID, "agent", T_AGENT_MSG,
      NULL },
    { &t_assign, "{\"agent\":5}", T_INVALID, "agent", T_STRING_MSG, NULL },
    { &t_assign, "{\"agent\":false}", T_INVALID, "agent", T_STRING_MSG,
      NULL },
    { &t_assign, "{}", T_MISSING, "agent", T_MISSING_MSG, NULL },

    /* fields: both optional, no default; category nullable */

    { &t_fields, "{}", T_OK, NULL, "", "priority=- category=-" },
    { &t_fields, "{\"category\":\"vip_2\",\"priority\":\"urgent\"}", T_OK,
      NULL, "", "priority='urgent' category='vip_2'" },
    { &t_fields, "{\"category\":null}", T_OK, NULL, "",
      "priority=- category=null" },
    { &t_fields, "{\"priority\":null}", T_INVALID, "priority", T_STRING_MSG,
      NULL },
    { &t_fields, "{\"priority\":\"asap\"}", T_INVALID, "priority",
      T_PRIORITY_MSG, NULL },
    { &t_fields, "{\"category\":\"a.b\"}", T_INVALID, "category",
      T_CATEGORY_MSG, NULL },
    { &t_fields, "{\"category\":\"" T_A64 "a\"}", T_INVALID, "category",
      T_CATEGORY_MSG, NULL },
    { &t_fields, "{\"state\":\"closed\"}", T_UNKNOWN, "state", T_UNKNOWN_MSG,
      NULL },

    /* agent: integers */

    { &t_agent, "{\"capacity\":1000}", T_OK, NULL, "",
      "capacity=1000 skills=-[]" },
    { &t_agent, "{\"capacity\":1}", T_OK, NULL, "",
      "capacity=1 skills=-[]" },
    { &t_agent, "{\"capacity\":1001}", T_INVALID, "capacity",
      T_CAPACITY_MSG, NULL },
    { &t_agent, "{\"capacity\":0}", T_INVALID, "capacity", T_CAPACITY_MSG,
      NULL },
    { &t_agent, "{\"capacity\":-0}", T_INVALID, "capacity", T_CAPACITY_MSG,
      NULL },
    { &t_agent, "{\"capacity\":-5}", T_INVALID, "capacity", T_CAPACITY_MSG,
      NULL },
    { &t_agent, "{\"capacity\":1.5}", T_INVALID, "capacity", T_CAPACITY_MSG,
      NULL },
    { &t_agent, "{\"capacity\":5.0}", T_INVALID, "capacity", T_CAPACITY_MSG,
      NULL },
    { &t_agent, "{\"capacity\":1e2}", T_INVALID, "capacity", T_CAPACITY_MSG,
      NULL },
    { &t_agent, "{\"capacity\":1E2}", T_INVALID, "capacity", T_CAPACITY_MSG,
      NULL },
    { &t_agent, "{\"capacity\":\"3\"}", T_INVALID, "capacity",
      T_CAPACITY_MSG, NULL },
    { &t_agent, "{\"capacity\":null}", T_INVALID, "capacity",
      T_CAPACITY_MSG, NULL },
    { &t_agent, "{\"capacity\":true}", T_INVALID, "capacity",
      T_CAPACITY_MSG, NULL },
    { &t_agent, "{\"capacity\":[5]}", T_INVALID, "capacity",
      T_CAPACITY_MSG, NULL },
    { &t_agent, "{\"capacity\":9223372036854775807}", T_INVALID, "capacity",
      T_CAPACITY_MSG, NULL },
    { &t_agent, "{\"capacity\":18446744073709551621}", T_INVALID, "capacity",
      T_CAPACITY_MSG, NULL },
    { &t_agent, "{\"capacity\":-9223372036854775809}", T_INVALID, "capacity",
      T_CAPACITY_MSG, NULL },
    { &t_agent, "{\"capacity\":999999999999999999999999999999}", T_INVALID,
      "capacity", T_CAPACITY_MSG, NULL },
    { &t_agent, "{\"skills\":[]}", T_MISSING, "capacity", T_MISSING_MSG,
      NULL },

    /* agent: lists */

    { &t_agent, "{\"capacity\":5,\"skills\":[]}", T_OK, NULL, "",
      "capacity=5 skills=[]" },
    { &t_agent, "{\"skills\":[\"billing\",\"b-2_x\"],\"capacity\":5}", T_OK,
      NULL, "", "capacity=5 skills=[billing,b-2_x]" },
    { &t_agent, "{\"capacity\":5,\"skills\":[" T_SKILLS_32 "]}", T_OK, NULL,
      "", "capacity=5 skills=" T_SKILLS_32_VALUES },
    { &t_agent, "{\"capacity\":5,\"skills\":[" T_SKILLS_32 ",\"s33\"]}",
      T_INVALID, "skills", T_SKILLS_MSG, NULL },
    { &t_agent, "{\"capacity\":5,\"skills\":[\"a\",1]}", T_INVALID, "skills",
      T_SKILLS_MSG, NULL },
    { &t_agent, "{\"capacity\":5,\"skills\":[null]}", T_INVALID, "skills",
      T_SKILLS_MSG, NULL },
    { &t_agent, "{\"capacity\":5,\"skills\":[[\"a\"]]}", T_INVALID, "skills",
      T_SKILLS_MSG, NULL },
    { &t_agent, "{\"capacity\":5,\"skills\":[{\"capacity\":0}]}", T_INVALID,
      "skills", T_SKILLS_MSG, NULL },
    { &t_agent, "{\"capacity\":5,\"skills\":[[\"A\",\"A\"]]}", T_INVALID,
      "skills", T_SKILLS_MSG, NULL },
    { &t_agent, "{\"capacity\":5,\"skills\":\"billing\"}", T_INVALID,
      "skills", T_SKILLS_MSG, NULL },
    { &t_agent, "{\"capacity\":5,\"skills\":null}", T_INVALID, "skills",
      T_SKILLS_MSG, NULL },
    { &t_agent, "{\"capacity\":5,\"skills\":{}}", T_INVALID, "skills",
      T_SKILLS_MSG, NULL },
    { &t_agent, "{\"capacity\":5,\"skills\":[\"Billing\"]}", T_INVALID,
      "skills", T_SKILL_MSG, NULL },
    { &t_agent, "{\"capacity\":5,\"skills\":[\"\"]}", T_INVALID, "skills",
      T_SKILL_MSG, NULL },
    { &t_agent, "{\"capacity\":5,\"skills\":[\"" T_A64 "a\"]}", T_INVALID,
      "skills", T_SKILL_MSG, NULL },
    { &t_agent, "{\"capacity\":5,\"skills\":[\"a\",\"b\",\"a\"]}", T_INVALID,
      "skills", T_TWICE_MSG, NULL },
    { &t_agent, "{\"capacity\":5,\"skills\":[\"a\",\"\\u0061\"]}", T_INVALID,
      "skills", T_TWICE_MSG, NULL },
    { &t_agent, "{\"capacity\":5,\"skills\":[\"ab\",\"a\",\"b\",\"ba\"]}",
      T_OK, NULL, "", "capacity=5 skills=[ab,a,b,ba]" },

    /* agent: the first member at fault in body order, syntax over all */

    { &t_agent, "{\"skills\":[\"a\",\"a\"],\"capacity\":0}", T_INVALID,
      "skills", T_TWICE_MSG, NULL },
    { &t_agent, "{\"capacity\":0,\"skills\":[\"a\",\"a\"]}", T_INVALID,
      "capacity", T_CAPACITY_MSG, NULL },
    { &t_agent, "{\"capacity\":0,\"x\":1}", T_INVALID, "capacity",
      T_CAPACITY_MSG, NULL },
    { &t_agent, "{\"x\":1,\"capacity\":0}", T_UNKNOWN, "x", T_UNKNOWN_MSG,
      NULL },
    { &t_agent, "{\"skills\":[\"a\"],\"capacity\":5,\"name\":\"x\"}",
      T_UNKNOWN, "name", T_UNKNOWN_MSG, NULL },
    { &t_agent, "{\"capacity\":0,\"skills\":[\"a\"]", T_SYNTAX, NULL,
      "premature end of the body at byte 28", NULL },
    { &t_agent, "{\"skills\":[\"a\",\"a\"],\"capacity\":5,}", T_SYNTAX, NULL,
      "invalid object key (must be a string) at byte 33", NULL },
    { &t_agent, "{\"capacity\":5,\"skills\":[\"a\"],\"skills\":[]}", T_SYNTAX,
      NULL, "duplicate key in an object at byte 36", NULL },
    { &t_agent, "{\"capacity\":5,\"skills\":[\"a\",\"\xc0\xaf\"]}", T_SYNTAX,
      NULL, "invalid UTF-8 in a string at byte 29", NULL },

    /* presence */

    { &t_presence, "{\"status\":\"online\"}", T_OK, NULL, "",
      "status='online'" },
    { &t_presence, "{\"status\":\"away\"}", T_OK, NULL, "", "status='away'" },
    { &t_presence, "{\"status\":\"offline\"}", T_OK, NULL, "",
      "status='offline'" },
    { &t_presence, "{\"status\":\"busy\"}", T_INVALID, "status",
      "status must be one of online, away, offline", NULL },
    { &t_presence, "{\"status\":1}", T_INVALID, "status", T_STRING_MSG,
      NULL },
    { &t_presence, "{}", T_MISSING, "status", T_MISSING_MSG, NULL },

    /* feedback */

    { &t_feedback, "{\"csat\":5}", T_OK, NULL, "",
      "csat=5 ces=- comment=-" },
    { &t_feedback, "{\"comment\":\"thanks\",\"ces\":7,\"csat\":1}", T_OK, NULL,
      "", "csat=1 ces=7 comment='thanks'" },
    { &t_feedback, "{\"csat\":3,\"ces\":1,\"comment\":\"\"}", T_OK, NULL, "",
      "csat=3 ces=1 comment=''" },
    { &t_feedback, "{\"csat\":3,\"comment\":\"" T_A64 "\"}", T_OK, NULL, "",
      "csat=3 ces=- comment='" T_A64 "'" },
    { &t_feedback, "{\"csat\":3,\"comment\":\"" T_A64 "a\"}", T_INVALID,
      "comment", "comment is longer than the configured maximum", NULL },
    { &t_feedback, "{\"csat\":0}", T_INVALID, "csat", T_CSAT_MSG, NULL },
    { &t_feedback, "{\"csat\":6}", T_INVALID, "csat", T_CSAT_MSG, NULL },
    { &t_feedback, "{\"csat\":4.5}", T_INVALID, "csat", T_CSAT_MSG, NULL },
    { &t_feedback, "{\"csat\":3,\"ces\":0}", T_INVALID, "ces", T_CES_MSG,
      NULL },
    { &t_feedback, "{\"csat\":3,\"ces\":8}", T_INVALID, "ces", T_CES_MSG,
      NULL },
    { &t_feedback, "{\"csat\":3,\"ces\":null}", T_INVALID, "ces", T_CES_MSG,
      NULL },
    { &t_feedback, "{\"csat\":3,\"comment\":5}", T_INVALID, "comment",
      T_STRING_MSG, NULL },
    { &t_feedback, "{\"ces\":3,\"comment\":\"x\"}", T_MISSING, "csat",
      T_MISSING_MSG, NULL },
    { &t_feedback, "{\"ces\":8,\"comment\":\"x\"}", T_INVALID, "ces",
      T_CES_MSG, NULL },

    /* users/export, users/erase */

#define T_CURSOR_MSG  "cursor must be a cursor from an earlier page"
#define T_MODE_MSG    "mode must be one of erase, anonymize"

    { &t_user_export, "{\"userId\":\"u:{1}*?\"}", T_OK, NULL, "",
      "userId='u:{1}*?' cursor=-" },
    { &t_user_export, "{\"cursor\":\"100\",\"userId\":\"u\"}", T_OK,
      NULL, "", "userId='u' cursor='100'" },
    { &t_user_export, "{\"userId\":\"u\",\"cursor\":null}", T_OK, NULL,
      "", "userId='u' cursor=null" },
    { &t_user_export, "{\"userId\":\"u\",\"cursor\":\"\"}", T_INVALID,
      "cursor", T_CURSOR_MSG, NULL },
    { &t_user_export, "{\"userId\":\"u\",\"cursor\":\"1a\"}", T_INVALID,
      "cursor", T_CURSOR_MSG, NULL },
    { &t_user_export, "{\"userId\":\"u\",\"cursor\":\"1234567890123456\"}",
      T_INVALID, "cursor", T_CURSOR_MSG, NULL },
    { &t_user_export, "{\"userId\":\"u\",\"cursor\":1}", T_INVALID,
      "cursor", T_STRING_MSG, NULL },
    { &t_user_export, "{\"userId\":\"\"}", T_INVALID, "userId",
      "userId must be 1 to 128 bytes", NULL },
    { &t_user_export, "{\"cursor\":\"1\"}", T_MISSING, "userId",
      T_MISSING_MSG, NULL },
    { &t_user_export, "{\"userId\":\"u\",\"mode\":\"erase\"}", T_UNKNOWN,
      "mode", T_UNKNOWN_MSG, NULL },
    { &t_user_erase, "{\"userId\":\"u\",\"mode\":\"erase\"}", T_OK, NULL,
      "", "userId='u' mode='erase'" },
    { &t_user_erase, "{\"mode\":\"anonymize\",\"userId\":\"u\"}", T_OK,
      NULL, "", "userId='u' mode='anonymize'" },
    { &t_user_erase, "{\"userId\":\"u\",\"mode\":\"delete\"}", T_INVALID,
      "mode", T_MODE_MSG, NULL },
    { &t_user_erase, "{\"userId\":\"u\",\"mode\":null}", T_INVALID,
      "mode", T_STRING_MSG, NULL },
    { &t_user_erase, "{\"userId\":\"u\"}", T_MISSING, "mode",
      T_MISSING_MSG, NULL },
    { &t_user_erase, "{\"mode\":\"erase\"}", T_MISSING, "userId",
      T_MISSING_MSG, NULL },

    /* the engine's own edges */

    { &t_synth, "{}", T_OK, NULL, "",
      "tags=-[] any=-[] " T_SYNTH_DEFAULTS },
    { &t_synth, "{\"tags\":[\"y\",\"x\"],\"any\":[\"\",\"a\"]}", T_OK,
      NULL, "", "tags=[y,x] any=[,a] " T_SYNTH_DEFAULTS },
    { &t_synth, "{\"tags\":[\"x\",\"z\"]}", T_INVALID, "tags",
      "tags must be one of x, y", NULL },
    { &t_synth, "{\"tags\":[\"x\",\"y\",\"x\"]}", T_INVALID, "tags",
      "tags has a value twice", NULL },
    { &t_synth, "{\"any\":[\"\",\"\"]}", T_INVALID, "any",
      "any has a value twice", NULL },
    { &t_synth, "{\"any\":[\"a\",\"b\",\"c\"]}", T_INVALID, "any",
      "any must be a list of at most 2 strings", NULL },
    { &t_synth, "{\"n\":null,\"s\":\"\"}", T_OK, NULL, "",
      "tags=-[] any=-[] n=null big=- s=''" },
    { &t_synth, "{\"n\":-3,\"s\":\"d2\"}", T_OK, NULL, "",
      "tags=-[] any=-[] n=-3 big=- s='d2'" },
    { &t_synth, "{\"n\":-4}", T_INVALID, "n",
      "n must be an integer from -3 to 3", NULL },
    { &t_synth, "{\"s\":null}", T_INVALID, "s", T_STRING_MSG, NULL },
    { &t_synth, "{\"big\":-9223372036854775808}", T_OK, NULL, "",
      "tags=-[] any=-[] n=- big=-9223372036854775808 s=-'d'" },
    { &t_synth, "{\"big\":9223372036854775807}", T_OK, NULL, "",
      "tags=-[] any=-[] n=- big=9223372036854775807 s=-'d'" },
    { &t_synth, "{\"big\":9223372036854775808}", T_INVALID, "big",
      T_BIG_MSG, NULL },
    { &t_synth, "{\"big\":-9223372036854775809}", T_INVALID, "big",
      T_BIG_MSG, NULL },

    { NULL, NULL, 0, NULL, NULL, NULL }
};


static long    t_live;          /* the validator's live allocations */
static int     t_failed;
static int     t_feeds;


static void *
t_malloc(void *ctx, size_t sz)
{
    void  *p;

    (void) ctx;

    p = malloc(sz);
    if (p != NULL) {
        t_live++;
    }

    return p;
}


static void *
t_realloc(void *ctx, void *old, size_t sz)
{
    void  *p;

    (void) ctx;

    p = realloc(old, sz);
    if (old == NULL && p != NULL) {
        t_live++;
    }

    return p;
}


static void
t_free(void *ctx, void *p)
{
    (void) ctx;

    if (p != NULL) {
        t_live--;
        free(p);
    }
}


static void
t_fail(const t_case_t *c, const char *fmt, ...)
{
    va_list  args;

    t_failed++;

    fprintf(stderr, "FAILED %s %s: ", c->schema->name, c->body);

    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);

    fprintf(stderr, "\n");
}


static void
t_append(char *buf, size_t size, const char *fmt, ...)
{
    size_t   n;
    va_list  args;

    n = strlen(buf);

    va_start(args, fmt);
    vsnprintf(buf + n, size - n, fmt, args);
    va_end(args);
}


/* the values of an accepted body, written as t_case_t's values are */
static void
t_values(ngx_http_cs_json_t *v, const ngx_http_cs_schema_t *schema,
    char *buf, size_t size)
{
    size_t                           f, i;
    const ngx_http_cs_field_t       *row;
    const ngx_http_cs_json_value_t  *val;

    buf[0] = '\0';

    for (f = 0; f < schema->nfields; f++) {
        row = &schema->fields[f];
        val = ngx_http_cs_json_get(v, f);

        t_append(buf, size, "%s%s=%s", f ? " " : "", row->name,
                 val->present ? "" : "-");

        if (val->is_null) {
            t_append(buf, size, "null");
            continue;
        }

        switch (row->type) {

        case NGX_HTTP_CS_FT_STRING:
            if (val->str.data != NULL) {
                t_append(buf, size, "'%.*s'", (int) val->str.len,
                         val->str.data);
            }

            break;

        case NGX_HTTP_CS_FT_INTEGER:
            if (val->present) {
                t_append(buf, size, "%lld", val->integer);
            }

            break;

        case NGX_HTTP_CS_FT_BOOLEAN:
            if (val->present) {
                t_append(buf, size, "%s", val->boolean ? "true" : "false");
            }

            break;

        default:
            t_append(buf, size, "[");

            for (i = 0; i < val->nitems; i++) {
                t_append(buf, size, "%s%.*s", i ? "," : "",
                         (int) val->items[i].len, val->items[i].data);
            }

            t_append(buf, size, "]");
            break;
        }
    }
}


/*
 * Feeds the body in pieces: cut at one byte (at < len), or one byte at a
 * time with an empty piece before each (at == len), or whole (at > len).
 */
static void
t_run(const t_case_t *c, size_t at, t_answer_t *a)
{
    size_t               len, i;
    const char          *field;
    yajl_alloc_funcs     af;
    ngx_http_cs_json_t  *v;
    const unsigned char *p;

    af.malloc = t_malloc;
    af.realloc = t_realloc;
    af.free = t_free;
    af.ctx = NULL;

    t_live = 0;
    t_feeds++;

    memset(a, 0, sizeof(t_answer_t));

    v = ngx_http_cs_json_create(c->schema->schema, T_LIMIT, &af);
    if (v == NULL) {
        t_fail(c, "ngx_http_cs_json_create() failed");
        return;
    }

    p = (const unsigned char *) c->body;
    len = strlen(c->body);

    if (at < len) {
        if (ngx_http_cs_json_feed(v, p, at) == 0) {
            (void) ngx_http_cs_json_feed(v, p + at, len - at);
        }

    } else if (at == len) {
        for (i = 0; i < len; i++) {
            if (ngx_http_cs_json_feed(v, p, 0) != 0
                || ngx_http_cs_json_feed(v, p + i, 1) != 0)
            {
                break;
            }
        }

    } else {
        (void) ngx_http_cs_json_feed(v, p, len);
    }

    a->rc = ngx_http_cs_json_finish(v);

    snprintf(a->message, sizeof(a->message), "%s",
             ngx_http_cs_json_message(v));

    field = ngx_http_cs_json_field(v);
    snprintf(a->field, sizeof(a->field), "%s", field ? field : "(none)");

    if (a->rc == T_OK) {
        t_values(v, c->schema->schema, a->values, sizeof(a->values));
    }

    ngx_http_cs_json_free(v);

    if (t_live != 0) {
        t_fail(c, "%ld allocation(s) left after ngx_http_cs_json_free()",
               t_live);
    }
}


/* a syntax error's offset may differ by the split: compare the text */
static int
t_same_message(const t_answer_t *a, const t_answer_t *b)
{
    const char  *pa, *pb;

    if (strcmp(a->message, b->message) == 0) {
        return 1;
    }

    if (a->rc != T_SYNTAX) {
        return 0;
    }

    pa = strstr(a->message, " at byte ");
    pb = strstr(b->message, " at byte ");

    return pa != NULL && pb != NULL && pa - a->message == pb - b->message
           && strncmp(a->message, b->message, pa - a->message) == 0;
}


static void
t_case(const t_case_t *c)
{
    size_t      at, len;
    t_answer_t  whole, split;

    len = strlen(c->body);

    t_run(c, len + 1, &whole);

    if (whole.rc != c->rc) {
        t_fail(c, "verdict %d, not %d (%s, field %s)", whole.rc, c->rc,
               whole.message, whole.field);
        return;
    }

    if (strcmp(whole.field, c->field ? c->field : "(none)") != 0) {
        t_fail(c, "field %s, not %s", whole.field,
               c->field ? c->field : "(none)");
    }

    if (strcmp(whole.message, c->message) != 0) {
        t_fail(c, "message \"%s\", not \"%s\"", whole.message, c->message);
    }

    if (c->rc == T_OK && strcmp(whole.values, c->values) != 0) {
        t_fail(c, "values\n    %s\n  not\n    %s", whole.values, c->values);
    }

    for (at = 0; at <= len; at++) {
        t_run(c, at, &split);

        if (split.rc != whole.rc || strcmp(split.field, whole.field) != 0
            || strcmp(split.values, whole.values) != 0
            || !t_same_message(&whole, &split))
        {
            t_fail(c, "fed %s %zu: %d %s \"%s\" %s",
                   at < len ? "cut at byte" : "a byte at a time, length",
                   at, split.rc, split.field, split.message, split.values);
        }
    }
}


/* the rows' own promises: the ticket's order, the cap on rows */
static void
t_rows(void)
{
    size_t                       i, f;
    ngx_http_cs_field_t          rows[NGX_HTTP_CS_JSON_MAX_FIELDS + 1];
    ngx_http_cs_schema_t         big;
    ngx_http_cs_json_t          *v;
    const ngx_http_cs_schema_t  *all[] = {
        &ngx_http_cs_schema_ticket, &ngx_http_cs_schema_message,
        &ngx_http_cs_schema_status, &ngx_http_cs_schema_assign,
        &ngx_http_cs_schema_fields, &ngx_http_cs_schema_agent,
        &ngx_http_cs_schema_presence, &ngx_http_cs_schema_feedback,
        &ngx_http_cs_schema_user_export, &ngx_http_cs_schema_user_erase
    };
    static const char           *ticket[NGX_HTTP_CS_F_COUNT] = {
        "userId", "issue", "category", "priority", "channel", "email"
    };
    static const t_case_t        rows_case = {
        &t_ticket, "(the rows)", 0, NULL, NULL, NULL
    };

    if (ngx_http_cs_schema_ticket.nfields != NGX_HTTP_CS_F_COUNT) {
        t_fail(&rows_case, "the ticket has %zu rows",
               ngx_http_cs_schema_ticket.nfields);
    }

    for (f = 0; f < NGX_HTTP_CS_F_COUNT; f++) {
        if (strcmp(ngx_http_cs_schema_ticket.fields[f].name, ticket[f]) != 0) {
            t_fail(&rows_case, "NGX_HTTP_CS_F_ %zu is %s, not %s", f,
                   ngx_http_cs_schema_ticket.fields[f].name, ticket[f]);
        }
    }

    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (all[i]->nfields == 0
            || all[i]->nfields > NGX_HTTP_CS_JSON_MAX_FIELDS)
        {
            t_fail(&rows_case, "schema %zu has %zu rows", i, all[i]->nfields);
        }
    }

    memset(rows, 0, sizeof(rows));

    for (f = 0; f <= NGX_HTTP_CS_JSON_MAX_FIELDS; f++) {
        rows[f].name = "x";
    }

    big.fields = rows;
    big.nfields = NGX_HTTP_CS_JSON_MAX_FIELDS + 1;

    v = ngx_http_cs_json_create(&big, T_LIMIT, NULL);
    if (v != NULL) {
        ngx_http_cs_json_free(v);
        t_fail(&rows_case, "a schema of 33 rows was taken");
    }
}


/* ngx_http_cs_json_value() is the ticket's STRING, as v1's callers use it */
static void
t_value_getter(void)
{
    ngx_http_cs_json_t            *v;
    const ngx_http_cs_json_str_t  *s;
    static const char              body[] =
        "{\"userId\":\"u7\",\"issue\":\"x\"}";
    static const t_case_t          c = {
        &t_ticket, body, 0, NULL, NULL, NULL
    };

    v = ngx_http_cs_json_create(&ngx_http_cs_schema_ticket, T_LIMIT, NULL);
    if (v == NULL) {
        t_fail(&c, "ngx_http_cs_json_create() failed");
        return;
    }

    if (ngx_http_cs_json_feed(v, (const unsigned char *) body,
                              sizeof(body) - 1)
        != 0
        || ngx_http_cs_json_finish(v) != T_OK)
    {
        t_fail(&c, "refused");

    } else {
        s = ngx_http_cs_json_value(v, NGX_HTTP_CS_F_USER_ID);
        if (s != &ngx_http_cs_json_get(v, NGX_HTTP_CS_F_USER_ID)->str
            || s->len != 2 || memcmp(s->data, "u7", 2) != 0)
        {
            t_fail(&c, "ngx_http_cs_json_value() is not get()->str");
        }

        s = ngx_http_cs_json_value(v, NGX_HTTP_CS_F_EMAIL);
        if (s->len != 0 || s->data != NULL) {
            t_fail(&c, "an absent email has a value");
        }
    }

    ngx_http_cs_json_free(v);
}


int
main(void)
{
    int              n;
    const t_case_t  *c;
    unsigned char    seed[16];

    memset(seed, 0x5a, sizeof(seed));
    ngx_http_cs_json_seed(seed);

    n = 0;

    for (c = t_cases; c->schema != NULL; c++) {
        t_case(c);
        n++;
    }

    t_rows();
    t_value_getter();

    printf("schema tests: %d cases, %d feeds, %d failed\n", n, t_feeds,
           t_failed);

    return t_failed ? 1 : 0;
}
