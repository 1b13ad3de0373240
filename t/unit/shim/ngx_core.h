/* see ngx_config.h beside this file */
#ifndef T_UNIT_SHIM_NGX_CORE_H_
#define T_UNIT_SHIM_NGX_CORE_H_

typedef unsigned char  u_char;
typedef intptr_t       ngx_int_t;
typedef uintptr_t      ngx_uint_t;

typedef struct {
    size_t       len;
    u_char      *data;
} ngx_str_t;

typedef struct {
    int          unused;
} ngx_pool_t;

typedef struct {
    void        *elts;
    ngx_uint_t   nelts;
    size_t       size;
    ngx_uint_t   nalloc;
    ngx_pool_t  *pool;
} ngx_array_t;

#define NGX_OK          0
#define NGX_ERROR      -1
#define NGX_DONE       -4
#define NGX_DECLINED   -5

#define ngx_memcpy     memcpy
#define ngx_memzero(p, n)  memset(p, 0, n)
#define ngx_pnalloc    ngx_palloc

static inline void *
ngx_palloc(ngx_pool_t *pool, size_t n)
{
    (void) pool;
    return malloc(n ? n : 1);
}

static inline void *
ngx_pcalloc(ngx_pool_t *pool, size_t n)
{
    (void) pool;
    return calloc(1, n ? n : 1);
}

static inline ngx_array_t *
ngx_array_create(ngx_pool_t *pool, ngx_uint_t n, size_t size)
{
    ngx_array_t  *a;

    a = malloc(sizeof(ngx_array_t));
    if (a == NULL) {
        return NULL;
    }

    a->elts = malloc(n * size);
    a->nelts = 0;
    a->size = size;
    a->nalloc = n;
    a->pool = pool;

    return a->elts ? a : NULL;
}

static inline void *
ngx_array_push(ngx_array_t *a)
{
    void  *elts;

    if (a->nelts == a->nalloc) {
        elts = realloc(a->elts, 2 * a->nalloc * a->size);
        if (elts == NULL) {
            return NULL;
        }

        a->elts = elts;
        a->nalloc *= 2;
    }

    return (char *) a->elts + a->size * a->nelts++;
}

#endif
