/*
 * The few parts of nginx's core that ngx_http_cs_prefilter.c and
 * ngx_http_cs_prefilter_rx.c use, over malloc, for t/unit/prefilter_test.c
 * (its allocations are never freed: a test process is short).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
