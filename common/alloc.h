/* SPDX-License-Identifier: MIT */
/* alloc.h - the allocator the core falls back on when the caller passes no
 * realloc hook: smtpreply_realloc_fn's contract (size 0 frees, returns
 * NULL) over the C library.  One definition for conn.c and session.c. */
#ifndef SMTPREPLY_ALLOC_H
#define SMTPREPLY_ALLOC_H

#include <stdlib.h>

static inline void *sr_libc_realloc(void *ctx, void *p, size_t size)
{
    (void)ctx;
    if (size == 0) {
        free(p);
        return NULL;
    }
    return realloc(p, size);
}

#endif
