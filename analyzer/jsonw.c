/* SPDX-License-Identifier: MIT */
/*
 * jsonw.c - JSON values written straight into an sbuf, byte for byte as
 * jansson dumps them with TALLY_JSON_FLAGS, for the hot paths (one
 * --replies line per reply): building a jansson object per line and
 * dumping it through a callback per token cost most of a --replies run.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kbfmt.h"
#include "tally.h"

/* An ASCII byte that JSON must escape. */
static inline bool special(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\';
}

/* The longest string written: each byte may take 6 ("\\u001F"), and
 * n * 6 + 2 must not wrap. */
#define JW_STR_MAX ((SIZE_MAX - 2) / 6)

/* s[0..n), valid UTF-8, as a JSON string: bytes of 0x80 and more as
 * they are, as jansson writes them without JSON_ENSURE_ASCII.  False
 * (nothing written) if the buffer cannot hold the worst case. */
static bool jw_utf8(struct sbuf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (n > JW_STR_MAX || !sb_reserve(b, n * 6 + 2))
        return false;
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
    return true;
}

void jw_str(struct sbuf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    /* Too long to bound (nothing read): null, as when out of memory. */
    if (n > JW_STR_MAX) {
        sb_putn(b, "null", 4);
        return;
    }
    bool ascii = true;
    for (size_t i = 0; i < n && ascii; i++)
        ascii = u[i] < 0x80;
    if (ascii) {
        if (!jw_utf8(b, s, n))
            sb_putn(b, "null", 4);
        return;
    }
    /* Rare: UTF-8 to check and bad bytes to replace, as for the rest. */
    json_t *j = kbfmt_string_lossy(s, n);
    if (!json_is_string(j) || !jw_utf8(b, json_string_value(j), json_string_length(j)))
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
 * neither '.' nor 'e' is there, the exponent without '+' or leading 0s.
 * jansson holds no infinity or NaN; JSON has none: null. */
void jw_real(struct sbuf *b, double v)
{
    char tmp[64];
    int len = isfinite(v) ? snprintf(tmp, sizeof tmp - 3, "%.16g", v) : -1;
    if (len < 0 || (size_t)len >= sizeof tmp - 3) {
        sb_putn(b, "null", 4);
        return;
    }
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

/* v / 10^decimals, the integer part and the fraction converted apart.
 * 10^18 is the largest power of ten an int64_t holds: more decimals
 * divide the double further. */
static double fixed_value(int64_t v, unsigned decimals)
{
    unsigned d = decimals < 18 ? decimals : 18;
    int64_t scale = 1;
    for (unsigned i = 0; i < d; i++)
        scale *= 10;
    double x = (double)(v / scale) + (double)(v % scale) / (double)scale;
    return d == decimals ? x : x / pow(10, (double)(decimals - d));
}

json_t *fixed_json(int64_t v, unsigned decimals)
{
    return json_real(fixed_value(v, decimals));
}

void jw_fixed(struct sbuf *b, int64_t v, unsigned decimals)
{
    jw_real(b, fixed_value(v, decimals));
}

/* A key's length: 2.14 keys may hold NUL bytes, and jansson dumps them. */
#if JANSSON_VERSION_HEX >= 0x020e00
#define KEY_LEN(it) json_object_iter_key_len(it)
#else
#define KEY_LEN(it) strlen(json_object_iter_key(it))
#endif

bool jw_json(struct sbuf *b, const json_t *j, bool compact)
{
    const char *sep = compact ? "," : ", ";
    size_t seplen = compact ? 1 : 2;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        if (!sb_putn(b, "{", 1))
            return false;
        for (void *it = json_object_iter((json_t *)j); it;) {
            if (!jw_utf8(b, json_object_iter_key(it), KEY_LEN(it)) ||
                !sb_putn(b, compact ? ":" : ": ", seplen) ||
                !jw_json(b, json_object_iter_value(it), compact))
                return false;
            it = json_object_iter_next((json_t *)j, it);
            if (it && !sb_putn(b, sep, seplen))
                return false;
        }
        return sb_putn(b, "}", 1);
    }
    case JSON_ARRAY:
        if (!sb_putn(b, "[", 1))
            return false;
        for (size_t i = 0; i < json_array_size(j); i++) {
            if ((i && !sb_putn(b, sep, seplen)) || !jw_json(b, json_array_get(j, i), compact))
                return false;
        }
        return sb_putn(b, "]", 1);
    case JSON_STRING:
        return jw_utf8(b, json_string_value(j), json_string_length(j));
    case JSON_INTEGER: {
        size_t n = b->n;
        jw_int(b, (int64_t)json_integer_value(j));
        return b->n > n;
    }
    case JSON_REAL: {
        size_t n = b->n;
        jw_real(b, json_real_value(j));
        return b->n > n;
    }
    case JSON_TRUE:
        return sb_putn(b, "true", 4);
    case JSON_FALSE:
        return sb_putn(b, "false", 5);
    case JSON_NULL:
        return sb_putn(b, "null", 4);
    }
    return false;
}
