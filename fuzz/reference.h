/*
 * An independent reference for the ticket validator: a strict RFC 8259
 * parser with a strict UTF-8 decoder and the v1 schema of DESIGN.md,
 * written without looking at ngx_http_cs_json.c's approach (whole-buffer
 * recursive descent instead of a streaming parse).
 */

#ifndef CS_FUZZ_REFERENCE_H_INCLUDED_
#define CS_FUZZ_REFERENCE_H_INCLUDED_


#include <stddef.h>


#define REF_FIELDS  6       /* userId issue category priority channel email */

/* why, for a key beyond the 256 an object may have */
#define REF_WHY_KEYS  "more than 256 keys in an object"


typedef enum {
    REF_OK = 0,
    REF_SYNTAX,
    REF_MISSING,
    REF_INVALID,
    REF_UNKNOWN
} ref_class_e;


typedef struct {
    ref_class_e       cls;
    const char       *why;             /* what the reference objected to */
    size_t            at;              /* where (syntax errors only) */

    /* the field at fault, as the module names it (unknown: cut at 128) */
    unsigned char    *field;
    size_t            field_len;

    /* accepted input only: values with defaults applied, absent len 0 */
    unsigned char    *value[REF_FIELDS];
    size_t            value_len[REF_FIELDS];
} ref_result_t;


void ref_check(const unsigned char *p, size_t n, size_t issue_max,
    ref_result_t *res);

void ref_result_free(ref_result_t *res);

const char *ref_class_name(ref_class_e cls);


#endif /* CS_FUZZ_REFERENCE_H_INCLUDED_ */
