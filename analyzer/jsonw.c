/* SPDX-License-Identifier: MIT */
/*
 * jsonw.c - JSON values written straight into an sbuf, byte for byte as
 * jansson dumps them with TALLY_JSON_FLAGS, for the hot paths (one
 * --replies line per reply): building a jansson object per line and
 * dumping it through a callback per token cost most of a --replies run.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kbfmt.h"
#include "tally.h"

/* An ASCII byte that JSON must escape. */
static inline bool special(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\';
}

/* s[0..n), valid UTF-8, as a JSON string: bytes of 0x80 and more as
 * they are, as jansson writes them without JSON_ENSURE_ASCII. */
static void jw_utf8(struct sbuf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (!sb_reserve(b, n * 6 + 2))
        return;
    char *o = b->p + b->n;
    *o++ = '"';
    for (size_t i = 0; i < n;) {
        size_t k = i;
        while (k < n && !special(u[k]))
            k++;
        memcpy(o, s + i, k - i);
        o += k - i;
        if (k == n)
            break;
        unsigned char c = u[k];
        *o++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *o++ = (char)c;
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            o += sprintf(o, "u%04X", c);
            break;
        }
        i = k + 1;
    }
    *o++ = '"';
    b->n = (size_t)(o - b->p);
}

void jw_str(struct sbuf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    bool ascii = true;
    for (size_t i = 0; i < n && ascii; i++)
        ascii = u[i] < 0x80;
    if (ascii) {
        jw_utf8(b, s, n);
        return;
    }
    /* Rare: UTF-8 to check and bad bytes to replace, as for the rest. */
    json_t *j = kbfmt_string_lossy(s, n);
    if (json_is_string(j))
        jw_utf8(b, json_string_value(j), json_string_length(j));
    else
        sb_putn(b, "null", 4);
    json_decref(j);
}

void jw_cstr(struct sbuf *b, const char *s)
{
    if (s)
        jw_str(b, s, strlen(s));
    else
        sb_putn(b, "null", 4);
}

void jw_uint(struct sbuf *b, uint64_t v)
{
    char tmp[24];
    size_t k = sizeof tmp;
    do {
        tmp[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    sb_putn(b, tmp + k, sizeof tmp - k);
}

void jw_int(struct sbuf *b, int64_t v)
{
    if (v < 0) {
        sb_putc(b, '-');
        jw_uint(b, (uint64_t)0 - (uint64_t)v);
    } else {
        jw_uint(b, (uint64_t)v);
    }
}

/* As jansson's jsonp_dtostr with precision 16: "%.16g", ".0" added when
 * neither '.' nor 'e' is there, the exponent without '+' or leading 0s. */
void jw_real(struct sbuf *b, double v)
{
    char tmp[64];
    int len = snprintf(tmp, sizeof tmp - 3, "%.16g", v);
    if (len < 0 || (size_t)len >= sizeof tmp - 3)
        return;
    size_t n = (size_t)len;
    char *e = memchr(tmp, 'e', n);
    if (e == NULL && memchr(tmp, '.', n) == NULL) {
        memcpy(tmp + n, ".0", 2);
        n += 2;
    }
    if (e) {
        char *start = e + 1, *end = e + 2;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, n - (size_t)(end - tmp));
            n -= (size_t)(end - start);
        }
    }
    sb_putn(b, tmp, n);
}

void jw_fixed(struct sbuf *b, int64_t v, unsigned decimals)
{
    int64_t scale = 1;
    for (unsigned i = 0; i < decimals; i++)
        scale *= 10;
    jw_real(b, (double)(v / scale) + (double)(v % scale) / (double)scale);
}

bool jw_json(struct sbuf *b, const json_t *j, bool compact)
{
    const char *sep = compact ? "," : ", ";
    size_t seplen = compact ? 1 : 2;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        sb_putc(b, '{');
        for (void *it = json_object_iter((json_t *)j); it;) {
            const char *key = json_object_iter_key(it);
            jw_utf8(b, key, strlen(key));
            sb_putn(b, compact ? ":" : ": ", seplen);
            if (!jw_json(b, json_object_iter_value(it), compact))
                return false;
            it = json_object_iter_next((json_t *)j, it);
            if (it)
                sb_putn(b, sep, seplen);
        }
        sb_putc(b, '}');
        return true;
    }
    case JSON_ARRAY:
        sb_putc(b, '[');
        for (size_t i = 0; i < json_array_size(j); i++) {
            if (i)
                sb_putn(b, sep, seplen);
            if (!jw_json(b, json_array_get(j, i), compact))
                return false;
        }
        sb_putc(b, ']');
        return true;
    case JSON_STRING:
        jw_utf8(b, json_string_value(j), json_string_length(j));
        return true;
    case JSON_INTEGER:
        jw_int(b, (int64_t)json_integer_value(j));
        return true;
    case JSON_REAL:
        jw_real(b, json_real_value(j));
        return true;
    case JSON_TRUE:
        sb_putn(b, "true", 4);
        return true;
    case JSON_FALSE:
        sb_putn(b, "false", 5);
        return true;
    case JSON_NULL:
        sb_putn(b, "null", 4);
        return true;
    }
    return false;
}
