/* SPDX-License-Identifier: MIT */
/*
 * sbuf.c - the growable byte buffer the tally builds its output in, and
 * jansson trees serialised into it (through jsonw.c when it can).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tally.h"

/* The most a buffer may hold, its NUL included. */
#define SB_MAX (SIZE_MAX / 2)

bool sb_reserve(struct sbuf *b, size_t more)
{
    /* Below SIZE_MAX / 2 with the NUL, so that neither the sum nor the
     * doubling can wrap (a wrapped sum said yes to any size). */
    if (more >= SB_MAX - b->n)
        return false;
    if (b->n + more + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL)
        return false;
    b->p = p;
    b->cap = cap;
    return true;
}

void sb_putc(struct sbuf *b, char c)
{
    if (sb_reserve(b, 1))
        b->p[b->n++] = c;
}

bool sb_putn(struct sbuf *b, const char *p, size_t n)
{
    if (!sb_reserve(b, n))
        return false;
    memcpy(b->p + b->n, p, n);
    b->n += n;
    return true;
}

void sb_puts(struct sbuf *b, const char *s)
{
    size_t len = strlen(s);
    if (sb_reserve(b, len)) {
        memcpy(b->p + b->n, s, len);
        b->n += len;
    }
}

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int len = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (len < 0)
        return;
    if ((size_t)len < sizeof tmp) {
        if (sb_reserve(b, (size_t)len)) {
            memcpy(b->p + b->n, tmp, (size_t)len);
            b->n += (size_t)len;
        }
        return;
    }
    if (!sb_reserve(b, (size_t)len))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)len + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)len;
}

static int sb_dump_cb(const char *buf, size_t size, void *data)
{
    return sb_putn(data, buf, size) ? 0 : -1;
}

void sb_json(struct sbuf *b, json_t *j, size_t flags)
{
    /* Without indentation jsonw.c writes what jansson would, in a fifth
     * of the time (no callback per token, no snprintf per integer). */
    size_t n = b->n;
    if (j && ((flags & JSON_MAX_INDENT) != 0 || !jw_json(b, j, (flags & JSON_COMPACT) != 0))) {
        b->n = n;
        json_dump_callback(j, sb_dump_cb, b, flags | TALLY_JSON_FLAGS);
    }
    json_decref(j);
}

void sb_json_with_int(struct sbuf *b, json_t *before, const char *key, uint64_t val,
                      json_t *after, size_t flags, size_t *at)
{
    bool compact = (flags & JSON_COMPACT) != 0;
    const char *sep = compact ? "," : ", ";
    size_t start = b->n;
    sb_json(b, before, flags);
    if (b->n > start && b->p[b->n - 1] == '}')
        b->n--;
    if (b->n > start + 1)
        sb_puts(b, sep);
    else if (b->n == start)
        sb_putc(b, '{');
    sb_printf(b, "\"%s\"%s", key, compact ? ":" : ": ");
    *at = b->n;
    sb_printf(b, "%" PRIu64, val);
    struct sbuf tail = {0};
    sb_json(&tail, after, flags);
    if (tail.n > 2) {
        sb_puts(b, sep);
        sb_putn(b, tail.p + 1, tail.n - 1); /* "{...}" without its '{' */
    } else {
        sb_putc(b, '}');
    }
    free(tail.p);
}
