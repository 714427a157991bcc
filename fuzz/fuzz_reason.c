/* SPDX-License-Identifier: MIT */
/*
 * fuzz_reason.c - failure-reason classification and the meaning that fits
 * (smtpreply_reason_classify, smtpreply_reply_meaning).
 *
 * Input: bytes 0-1 the basic code (little endian, mod 1000), byte 2 the
 * enhanced class (0: no enhanced code), byte 3 its subject, bytes 4-5 its
 * detail (mod 1000), byte 6 the command (mod the command count, plus a few
 * out-of-range values), the rest the reply text.
 *
 * Properties, each checked with abort():
 *  - the text is read within its length (an exactly-sized heap copy);
 *  - only 4yz/5yz replies get a reason, and then exactly one, with its
 *    name, party, advice, source and basis; permanent iff 5yz;
 *  - a "text" decision names a pattern row; whenever some applicable row's
 *    pattern occurs literally (case-insensitively) in the scanned text, the
 *    decision is "text" and by that row or an earlier one (first row wins);
 *  - the trigram-indexed search and the reference (each row in order,
 *    searched for in turn) pick the same pattern row;
 *  - the same input gives the same answer; the meaning is never NULL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reason_internal.h"
#include "smtpreply.h"

static unsigned char lc(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static int occurs(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++) {
        size_t k = 0;
        while (k < m && lc((unsigned char)hay[i + k]) == (unsigned char)needle[k])
            k++;
        if (k == m)
            return 1;
    }
    return 0;
}

static int applies(const struct smtpreply_reason_pattern *p, unsigned code,
                   const struct smtpreply_esc *esc, enum smtpreply_cmd cmd)
{
    if (code / 100 == 4 ? !p->temp : !p->perm)
        return 0;
    if (!p->any_cmd && p->cmd != cmd)
        return 0;
    if (p->esc_subject >= 0) {
        if (!esc || esc->subject != (unsigned)p->esc_subject)
            return 0;
        if (p->esc_detail >= 0 && esc->detail != (unsigned)p->esc_detail)
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smtpreply_reason_info a, b;
    struct smtpreply_esc e, *esc = NULL;
    struct smtpreply_reason_pattern p;
    enum smtpreply_cmd cmd;
    unsigned code;
    size_t n, idx, first = (size_t)-1;
    char *text;

    if (size < 7)
        return 0;
    code = (unsigned)(data[0] | data[1] << 8) % 1000u;
    if (data[2]) {
        e.cls = (uint8_t)(data[2] % 8u);
        e.subject = data[3];
        e.detail = (uint16_t)((data[4] | data[5] << 8) % 1000u);
        esc = &e;
    }
    cmd = (enum smtpreply_cmd)(data[6] % (SMTPREPLY_CMD__COUNT + 3u));
    n = size - 7;
    text = malloc(n ? n : 1);
    if (!text)
        return 0;
    memcpy(text, data + 7, n);

    smtpreply_reason_classify(code, esc, cmd, text, n, &a);
    smtpreply_reason_classify(code, esc, cmd, text, n, &b);
    if (memcmp(&a, &b, sizeof a) != 0)
        abort();
    if (smtpreply__reason_pattern_reference(code, esc, cmd, text, n) != a.pattern)
        abort();
    if ((code / 100 == 4 || code / 100 == 5) != a.failure)
        abort();
    if (!a.failure) {
        if (a.reason != SMTPREPLY_REASON_NONE || a.name || a.advice || a.party_name ||
            a.source_name || a.pattern || a.basis || a.permanent)
            abort();
    } else {
        if (a.reason <= SMTPREPLY_REASON_NONE || a.reason >= SMTPREPLY_REASON__COUNT)
            abort();
        if (!a.name || !a.advice || !a.party_name || !a.source_name || !a.basis)
            abort();
        if (strcmp(a.name, smtpreply_reason_name(a.reason)) != 0 ||
            a.permanent != (code / 100 == 5))
            abort();
        if ((a.source == SMTPREPLY_REASON_SOURCE_TEXT) != (a.pattern != NULL))
            abort();
        if ((unsigned)cmd >= SMTPREPLY_CMD__COUNT)
            cmd = SMTPREPLY_CMD_UNKNOWN; /* as the classifier reads it */
        if (esc && esc->cls != 2 && esc->cls != 4 && esc->cls != 5)
            esc = NULL;
        if (a.pattern) {
            int found = 0;
            for (idx = 0; !found && smtpreply_reason_pattern_at(idx, &p); idx++) {
                if (a.pattern != p.text)
                    continue;
                found = 1;
                if (p.reason != a.reason || !applies(&p, code, esc, cmd))
                    abort();
            }
            if (!found)
                abort();
        }
        /* First applicable row whose pattern occurs literally in the
         * scanned bytes: the decision is text, by it or an earlier row. */
        for (size_t i = 0; smtpreply_reason_pattern_at(i, &p); i++) {
            size_t scan = n < SMTPREPLY_REASON_SCAN_MAX ? n : SMTPREPLY_REASON_SCAN_MAX;
            if (applies(&p, code, esc, cmd) && occurs(text, scan, p.text)) {
                first = i;
                break;
            }
        }
        if (first != (size_t)-1) {
            if (a.source != SMTPREPLY_REASON_SOURCE_TEXT)
                abort();
            for (idx = 0; smtpreply_reason_pattern_at(idx, &p) && p.text != a.pattern; idx++)
                ;
            if (idx > first)
                abort();
        }
    }
    if (!smtpreply_reply_meaning(cmd, code, esc))
        abort();
    free(text);
    return 0;
}
