/* SPDX-License-Identifier: MIT */
/*
 * fuzz_acct.h - the allocator the fuzz targets hand to the core: it
 * counts the bytes live in *(size_t *)ctx, so a run can check at its end
 * that everything allocated was freed.
 */
#ifndef SMTPREPLY_FUZZ_ACCT_H
#define SMTPREPLY_FUZZ_ACCT_H

#include <stdlib.h>

static void *fuzz_acct_realloc(void *ctx, void *p, size_t size)
{
    size_t *live = ctx;
    size_t *h = p ? (size_t *)p - 2 : NULL;
    if (size == 0) {
        if (h) {
            *live -= h[0];
            free(h);
        }
        return NULL;
    }
    size_t old = h ? h[0] : 0;
    size_t *nh = realloc(h, size + 2 * sizeof(size_t));
    if (!nh)
        return NULL;
    nh[0] = size;
    *live = *live - old + size;
    return nh + 2;
}

#endif
