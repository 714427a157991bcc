/* SPDX-License-Identifier: MIT */
/*
 * test_jsonw.c - analyzer/jsonw.c writes what jansson dumps with
 * TALLY_JSON_FLAGS, byte for byte: strings of every ASCII byte, valid and
 * broken UTF-8 (jw_str against jansson on kbfmt_string_lossy's string),
 * integers at their limits, reals, jw_fixed against fixed_json and the
 * exact microseconds it promises, and random trees from a seeded PRNG in
 * both layouts.  Also the bounds: sizes that would wrap are refused.
 * A mismatch prints the value (escaped) and both outputs.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kbfmt.h"
#include "tally.h"

/* What jansson dumps for j with the tally's flags; j's reference dropped. */
static char *jansson(json_t *j, bool compact)
{
    char *s = json_dumps(j, JSON_ENCODE_ANY | TALLY_JSON_FLAGS | (compact ? JSON_COMPACT : 0));
    json_decref(j);
    return s;
}

/* desc: the value, printed with C escapes. */
static void escaped(char *out, size_t cap, const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"')
            out[k++] = (char)c;
        else
            k += (size_t)snprintf(out + k, cap - k, "\\x%02x", c);
    }
    out[k] = 0;
}

/* Compares the writer's output b with jansson's want (freed). */
static void same(const char *what, const char *desc, struct sbuf *b, char *want)
{
    bool ok = want && b->p && strlen(want) == b->n && memcmp(want, b->p, b->n) == 0;
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  %s of %s:\n    jsonw:   %.*s\n    jansson: %s\n", what, desc,
                (int)b->n, b->p ? b->p : "", want ? want : "(failed)");
    free(want);
    b->n = 0;
}

static struct sbuf b;

static void str_case(const char *s, size_t n)
{
    char desc[1024];
    escaped(desc, sizeof desc, s, n);
    jw_str(&b, s, n);
    same("jw_str", desc, &b, jansson(kbfmt_string_lossy(s, n), false));
    /* A C string: only what comes before a NUL. */
    if (memchr(s, 0, n) == NULL) {
        char *c = strndup(s, n);
        jw_cstr(&b, c);
        same("jw_cstr", desc, &b, jansson(kbfmt_string_lossy(c, n), false));
        free(c);
    }
}

static void strings(void)
{
    char one[2];
    /* Every ASCII byte alone, and between others. */
    for (int c = 0; c < 0x80; c++) {
        one[0] = (char)c;
        str_case(one, 1);
        char mid[5] = {'a', (char)c, 'b', (char)c, 'c'};
        str_case(mid, sizeof mid);
    }
    char all[0x80];
    for (int c = 0; c < 0x80; c++)
        all[c] = (char)c;
    str_case(all, sizeof all);
    static const char *const texts[] = {
        "",
        "\"",
        "\\",
        "\\\"",
        "\x7f",
        "plain text, nothing to escape",
        "250 2.0.0 Ok: queued as 4Bx\r\n",
        /* Valid UTF-8: 2, 3 and 4 bytes, the separators JS fears, the
         * last of the BMP and of Unicode. */
        "caf\xc3\xa9",
        "\xc2\x80\xdf\xbf",
        "\xe2\x82\xac \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80",
        "\xe2\x80\xa8\xe2\x80\xa9",
        "\xef\xbf\xbf",
        "\xf0\x9f\x98\x80 \xf0\x90\x80\x80",
        "\xf4\x8f\xbf\xbf",
        "\xef\xbf\xbd already a replacement",
        "\xe6\x97\xa5\xe6\x9c\xac\"\\\n\x01",
        /* Invalid: overlongs, surrogates, past U+10FFFF, cut sequences,
         * bytes that never start one, lone continuations. */
        "\xc0\x80",
        "\xc1\xbf",
        "\xe0\x80\xaf",
        "\xf0\x80\x80\xaf",
        "\xed\xa0\x80",
        "\xed\xbf\xbf",
        "\xf4\x90\x80\x80",
        "\xf5\x80\x80\x80",
        "\xc3",
        "ab\xe2\x82",
        "\xf0\x9f\x98",
        "\xff",
        "\xfe\xff",
        "\x80",
        "\xbf\x80 x",
        "ok \xff\n\"\xc3(\x01",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        str_case(texts[i], strlen(texts[i]));
    /* NUL bytes inside a counted string. */
    str_case("a\0b", 3);
    str_case("\0\xff\0", 3);
    /* Every byte pair, and random byte strings. */
    for (int x = 0; x < 256; x++) {
        for (int y = 0; y < 256; y += 7) {
            char two[2] = {(char)x, (char)y};
            str_case(two, 2);
        }
    }
    srand(2026);
    for (int i = 0; i < 3000; i++) {
        char r[40];
        size_t n = (size_t)(rand() % (int)sizeof r);
        for (size_t k = 0; k < n; k++)
            r[k] = (char)(i % 2 ? rand() % 256 : rand() % 0xa0 + 0x20);
        str_case(r, n);
    }
    /* NULL: null. */
    jw_cstr(&b, NULL);
    same("jw_cstr", "NULL", &b, jansson(json_null(), false));
}

static void integers(void)
{
    static const int64_t ints[] = {0,
                                   1,
                                   -1,
                                   9,
                                   10,
                                   -10,
                                   99,
                                   100,
                                   250,
                                   554,
                                   4294967295,
                                   4294967296,
                                   -4294967296,
                                   999999999999999999,
                                   1000000000000000000,
                                   INT64_MAX,
                                   INT64_MAX - 1,
                                   INT64_MIN,
                                   INT64_MIN + 1};
    char desc[64];
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        int64_t v = ints[i];
        snprintf(desc, sizeof desc, "%" PRId64, v);
        jw_int(&b, v);
        same("jw_int", desc, &b, jansson(json_integer(v), false));
        if (v >= 0) {
            jw_uint(&b, (uint64_t)v);
            same("jw_uint", desc, &b, jansson(json_integer(v), false));
        }
    }
    for (int i = 0; i < 2000; i++) {
        int64_t v = (int64_t)((uint64_t)rand() << 40 ^ (uint64_t)rand() << 20 ^ (uint64_t)rand());
        v >>= rand() % 63;
        snprintf(desc, sizeof desc, "%" PRId64, v);
        jw_int(&b, v);
        same("jw_int", desc, &b, jansson(json_integer(v), false));
    }
    /* Above INT64_MAX a jansson integer cannot go (it would wrap to a
     * negative number): jw_uint writes the value itself, as PRIu64. */
    static const uint64_t big[] = {(uint64_t)INT64_MAX + 1, 10000000000000000000u, UINT64_MAX - 1,
                                   UINT64_MAX};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        char *want = malloc(24);
        snprintf(want, 24, "%" PRIu64, big[i]);
        jw_uint(&b, big[i]);
        same("jw_uint", want, &b, strdup(want));
        free(want);
    }
}

static void real_case(double v)
{
    char desc[64];
    snprintf(desc, sizeof desc, "%a (%.17g)", v, v);
    jw_real(&b, v);
    same("jw_real", desc, &b, jansson(json_real(v), false));
}

/* The exact decimal of v / 10^d, as %.16g would print it with jansson's
 * touches, for values of at most 16 significant digits. */
static void decimal(char *out, size_t cap, int64_t v, unsigned d)
{
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, scale = 1;
    for (unsigned i = 0; i < d; i++)
        scale *= 10;
    uint64_t ip = u / scale, fp = u % scale;
    char frac[24];
    snprintf(frac, sizeof frac, "%0*" PRIu64, (int)d, fp);
    size_t fl = strlen(frac);
    while (fl > 0 && frac[fl - 1] == '0')
        frac[--fl] = 0;
    const char *sign = v < 0 ? "-" : "";
    if (u == 0)
        snprintf(out, cap, "0.0");
    else if (ip > 0 || d < 4 || fp * 10000 >= scale)
        snprintf(out, cap, "%s%" PRIu64 ".%s", sign, ip, fl ? frac : "0");
    else {
        /* Below 1e-4: %g's exponent form, "1.5e-5". */
        char digits[24];
        snprintf(digits, sizeof digits, "%" PRIu64, fp);
        int exp = (int)strlen(digits) - (int)d - 1;
        size_t dl = strlen(digits);
        while (dl > 1 && digits[dl - 1] == '0')
            digits[--dl] = 0;
        snprintf(out, cap, "%s%c%s%.*se%d", sign, digits[0], dl > 1 ? "." : "", (int)dl - 1,
                 digits + 1, exp);
    }
}

static void reals(void)
{
    static const double vals[] = {0.0,
                                  -0.0,
                                  1.0,
                                  -1.0,
                                  0.5,
                                  1e-7,
                                  -1e-7,
                                  1e-4,
                                  1e-5,
                                  123.456,
                                  1e300,
                                  -1e300,
                                  1e16,
                                  1e15,
                                  1e22,
                                  1.7976931348623157e308,
                                  4.9406564584124654e-324,
                                  2.2250738585072014e-308,
                                  0.1 + 0.2,
                                  1.0 / 3,
                                  2.0 / 3,
                                  123456789012345.6,
                                  1234567890123456.7,
                                  12345678901234567.0,
                                  0.12345678901234567,
                                  9007199254740993.0,
                                  1700000000.123456,
                                  0.001,
                                  1234.567,
                                  9750.985,
                                  0.999,
                                  60000.0};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        real_case(vals[i]);
    /* rt_ms as events.c makes it, and random doubles of every exponent. */
    for (int64_t us = 0; us < 20000; us += 7)
        real_case((double)us / 1000.0);
    for (int i = 0; i < 5000; i++) {
        uint64_t bits = (uint64_t)rand() << 42 ^ (uint64_t)rand() << 21 ^ (uint64_t)rand();
        double v;
        memcpy(&v, &bits, sizeof v);
        if (isfinite(v))
            real_case(v);
        real_case((double)rand() / RAND_MAX * pow(10, rand() % 40 - 20));
    }
    /* jansson holds no infinity or NaN: null, which JSON has. */
    jw_real(&b, INFINITY);
    same("jw_real", "inf", &b, strdup("null"));
    jw_real(&b, -INFINITY);
    same("jw_real", "-inf", &b, strdup("null"));
    jw_real(&b, NAN);
    same("jw_real", "nan", &b, strdup("null"));
}

static void fixed_case(int64_t v, unsigned d, bool exact)
{
    char desc[64], want[64];
    snprintf(desc, sizeof desc, "%" PRId64 " / 10^%u", v, d);
    jw_fixed(&b, v, d);
    same("jw_fixed", desc, &b, jansson(fixed_json(v, d), false));
    if (exact) {
        decimal(want, sizeof want, v, d);
        jw_fixed(&b, v, d);
        same("jw_fixed (exact)", desc, &b, strdup(want));
    }
}

static void fixed(void)
{
    /* Times since the epoch (16 digits from 2001-09-09) in microseconds:
     * exact, as TALLY_JSON_FLAGS promises. */
    static const int64_t ts[] = {1000000000000000, 1000000000000001, 1700000000123456,
                                 1700000000000000, 1700000000100000, 1733443200999999,
                                 4102444799999999};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        fixed_case(ts[i], 6, true);
        fixed_case(-ts[i], 6, true);
    }
    for (int i = 0; i < 3000; i++) {
        int64_t v = 1000000000000000 + ((int64_t)rand() << 20 ^ rand()) % 3100000000000000;
        fixed_case(v, 6, true);
    }
    /* Values whose double is exact or short: rt in ms, medians. */
    static const struct {
        int64_t v;
        unsigned d;
    } small[] = {{0, 6},      {1, 3},        {1, 6},      {15, 6}, {-5, 6},
                 {1500, 3},   {1234567, 3},  {123456, 3}, {5, 4},  {12345678, 4},
                 {999999, 3}, {60000000, 6}, {1, 0},      {-7, 0}, {25, 1}};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++)
        fixed_case(small[i].v, small[i].d, true);
    /* Anything else, rt values of seconds included (where 16 digits can
     * show the double's error, "9750.985000000001"): as fixed_json. */
    for (int i = 0; i < 5000; i++) {
        int64_t v = ((int64_t)rand() << 31 ^ rand()) >> (rand() % 62);
        fixed_case(i % 2 ? v : -v, (unsigned)(rand() % 19), false);
    }
    fixed_case(INT64_MAX, 6, false);
    fixed_case(INT64_MIN, 6, false);
    fixed_case(INT64_MIN, 18, false);
    /* More decimals than an int64_t's 10^18: no overflow (UBSan). */
    fixed_case(1, 19, false);
    fixed_case(INT64_MIN, 40, false);
    fixed_case(12345, 400, false);
}

/* ------------------------------------------------------------------ */
/* random trees                                                       */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A random string, valid UTF-8 (what a jansson tree holds). */
static json_t *rand_string(void)
{
    char s[32];
    size_t n = next() % 12, k = 0;
    static const char *const pieces[] = {"a",
                                         "\"",
                                         "\\",
                                         "\n",
                                         "\x01",
                                         "\x1f",
                                         "\x7f",
                                         "/",
                                         "\xc3\xa9",
                                         "\xe2\x80\xa8",
                                         "\xf0\x9f\x98\x80",
                                         " "};
    while (n-- > 0) {
        const char *p = pieces[next() % (sizeof pieces / sizeof pieces[0])];
        size_t l = strlen(p);
        if (k + l >= sizeof s)
            break;
        memcpy(s + k, p, l);
        k += l;
    }
    if (next() % 10 == 0 && k < sizeof s)
        s[k++] = 0; /* a NUL inside */
    return json_stringn(s, k);
}

static json_t *rand_value(int depth)
{
    switch (next() % (depth > 4 ? 6 : 8)) {
    case 0:
        return rand_string();
    case 1:
        return json_integer((json_int_t)(next() >> (next() % 64)) * (next() % 2 ? 1 : -1));
    case 2: {
        double v = (double)(next() >> 11) / (double)(1ull << (next() % 53));
        return json_real(next() % 2 ? v : -v);
    }
    case 3:
        return json_true();
    case 4:
        return json_false();
    case 5:
        return json_null();
    case 6: {
        json_t *a = json_array();
        for (size_t n = next() % 5; n > 0; n--)
            json_array_append_new(a, rand_value(depth + 1));
        return a;
    }
    default: {
        /* Keys in insertion order, not sorted (JSON_PRESERVE_ORDER). */
        json_t *o = json_object();
        for (size_t n = next() % 6; n > 0; n--) {
            json_t *k = rand_string();
            json_object_setn_new(o, json_string_value(k), json_string_length(k),
                                 rand_value(depth + 1));
            json_decref(k);
        }
        return o;
    }
    }
}

static void trees(void)
{
    for (int i = 0; i < 4000; i++) {
        json_t *t = rand_value(0);
        char *text = json_dumps(t, JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII);
        char desc[64];
        snprintf(desc, sizeof desc, "tree %d (%.40s...)", i, text ? text : "?");
        free(text);
        for (int compact = 0; compact < 2; compact++) {
            CHECK(jw_json(&b, t, compact));
            json_incref(t);
            same(compact ? "jw_json compact" : "jw_json", desc, &b, jansson(t, compact));
        }
        json_decref(t);
    }
}

/* ------------------------------------------------------------------ */
/* bounds                                                             */

static void bounds(void)
{
    /* Sizes whose sums or doubling would wrap are refused, not granted. */
    struct sbuf s = {0};
    sb_putn(&s, "abc", 3);
    CHECK(!sb_reserve(&s, SIZE_MAX));
    CHECK(!sb_reserve(&s, SIZE_MAX - 3));
    CHECK(!sb_reserve(&s, SIZE_MAX / 2));
    CHECK(!sb_putn(&s, "x", SIZE_MAX - 1)); /* refused before reading */
    CHECK(sb_reserve(&s, 1000));
    CHECK_EQ_U(s.n, 3);
    /* A string whose worst case (6 bytes a byte) would wrap: null, its
     * bytes not read (ASan would see the 1-byte buffer overrun). */
    s.n = 0;
    jw_str(&s, "a", SIZE_MAX / 6 + 1);
    CHECK(s.n == 4 && memcmp(s.p, "null", 4) == 0);
    s.n = 0;
    jw_str(&s, "\xff", SIZE_MAX / 2);
    CHECK(s.n == 4 && memcmp(s.p, "null", 4) == 0);
    /* kbfmt_string_lossy: len * 3 + 1 would wrap; jansson stops at the
     * bad first byte, and nothing more is read. */
    json_t *j = kbfmt_string_lossy("\xff", SIZE_MAX / 3 + 1);
    CHECK(json_is_null(j));
    json_decref(j);
    free(s.p);
}

int main(void)
{
    strings();
    integers();
    reals();
    fixed();
    trees();
    bounds();
    free(b.p);
    return CHECK_DONE();
}
