/* SPDX-License-Identifier: MIT */
/*
 * fuzz_enhanced.c - enhanced status codes on their own (RFC 3463):
 * smtpreply_esc_parse, smtpreply_esc_format and smtpreply_esc_explain.
 *
 * Properties, each checked with abort():
 *  - the parser never reads outside the input (an exactly-sized heap copy,
 *    so ASan sees an over-read) and consumes at most `size` bytes;
 *  - it agrees with an independent reading of the grammar below (class
 *    2/4/5, '.', subject, '.', detail, each 1-3 digits without leading
 *    zeros, then end of input, space or tab);
 *  - a parsed code formats back to exactly the bytes consumed, and that
 *    text parses again to the same code (round trip);
 *  - explain fills every string and says STANDARD or UNASSIGNED for a
 *    parsed code; for any other struct (class not 2/4/5, parts > 999) it
 *    says INVALID.  format never writes past the size it is given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpreply.h"

/* The grammar again, written differently from the library's parser:
 * returns the length of the code at the start of s (0 if there is none)
 * and its parts. */
static size_t oracle_part(const uint8_t *s, size_t len, size_t pos, unsigned *v, size_t *end)
{
    size_t start = pos;
    *v = 0;
    while (pos < len && s[pos] >= '0' && s[pos] <= '9') {
        *v = *v * 10u + (unsigned)(s[pos] - '0');
        pos++;
        if (pos - start > 3)
            return 0;
    }
    if (pos == start || (pos - start > 1 && s[start] == '0'))
        return 0;
    *end = pos;
    return pos - start;
}

static size_t oracle(const uint8_t *s, size_t len, unsigned *cls, unsigned *subj, unsigned *det)
{
    size_t pos;
    if (len < 2 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
        return 0;
    *cls = (unsigned)(s[0] - '0');
    if (!oracle_part(s, len, 2, subj, &pos))
        return 0;
    if (pos >= len || s[pos] != '.')
        return 0;
    if (!oracle_part(s, len, pos + 1, det, &pos))
        return 0;
    if (pos < len && s[pos] != ' ' && s[pos] != '\t')
        return 0;
    return pos;
}

static void check_info(const struct smtpreply_esc_info *info)
{
    if (!info->class_name || !info->subject_name || !info->meaning || !info->description ||
        !info->rfc || !info->assoc || !info->notes)
        abort();
    if (info->status != SMTPREPLY_STATUS_STANDARD &&
        info->status != SMTPREPLY_STATUS_UNASSIGNED && info->status != SMTPREPLY_STATUS_INVALID)
        abort();
    /* Touch every byte, so a dangling pointer shows under ASan. */
    if (strlen(info->class_name) + strlen(info->subject_name) + strlen(info->meaning) +
            strlen(info->description) + strlen(info->rfc) + strlen(info->assoc) +
            strlen(info->notes) ==
        (size_t)-1)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly `size` bytes (no NUL), so ASan sees any over-read. */
    char *s = malloc(size ? size : 1);
    struct smtpreply_esc e, e2;
    struct smtpreply_esc_info info;
    unsigned cls = 0, subj = 0, det = 0;
    char buf[16];
    size_t n, want;

    if (!s)
        return 0;
    memcpy(s, data, size);
    memset(&e, 0xAA, sizeof e);
    n = smtpreply_esc_parse(s, size, &e);
    want = oracle(data, size, &cls, &subj, &det);
    if (n > size || n != want)
        abort();
    if (smtpreply_esc_parse(s, size, NULL) != n) /* out is optional */
        abort();
    if (n > 0) {
        if (e.cls != cls || e.subject != subj || e.detail != det)
            abort();
        /* Round trip: format gives back the consumed prefix ... */
        smtpreply_esc_format(&e, buf, sizeof buf);
        if (strlen(buf) != n || memcmp(buf, s, n) != 0)
            abort();
        /* ... and it parses again to the same code. */
        memset(&e2, 0x55, sizeof e2);
        if (smtpreply_esc_parse(buf, strlen(buf), &e2) != n || e2.cls != e.cls ||
            e2.subject != e.subject || e2.detail != e.detail)
            abort();
        smtpreply_esc_explain(&e, &info);
        check_info(&info);
        if (info.status == SMTPREPLY_STATUS_INVALID)
            abort(); /* a parsed code is registered or explained by subject/class */
    }

    /* Any struct at all (the fields straight from the input): explain
     * never fails, and calls out what RFC 3463 does not allow; format
     * stays within every buffer size. */
    if (size >= 5) {
        struct smtpreply_esc r;
        r.cls = data[0];
        r.subject = (uint16_t)(data[1] | data[2] << 8);
        r.detail = (uint16_t)(data[3] | data[4] << 8);
        smtpreply_esc_explain(&r, &info);
        check_info(&info);
        if ((r.cls != 2 && r.cls != 4 && r.cls != 5) || r.subject > 999 || r.detail > 999) {
            if (info.status != SMTPREPLY_STATUS_INVALID)
                abort();
        } else if (info.status == SMTPREPLY_STATUS_INVALID) {
            abort();
        }
        for (size_t cap = 0; cap <= 14; cap++) {
            char *out = malloc(cap ? cap : 1);
            if (!out)
                break;
            if (smtpreply_esc_format(&r, out, cap) != out)
                abort();
            if (cap > 0 && strnlen(out, cap) == cap)
                abort(); /* always NUL-terminated within cap */
            free(out);
        }
    }
    free(s);
    return 0;
}
