/* SPDX-License-Identifier: MIT */
/*
 * fuzz_replytext.c - reading a pasted reply or an MTA log line
 * (smtpreply_read_reply), then classifying what was read.
 *
 * Input: byte 0 picks the small text buffer's size (0-63), the rest is the
 * pasted item.
 *
 * Properties, each checked with abort():
 *  - the item is read within its length (an exactly-sized heap copy) and
 *    the text buffer is never written past its size (ASan, and a guard
 *    byte after it);
 *  - the text is NUL-terminated at text_len, which fits the buffer, and
 *    text_cut says whether it was cut;
 *  - a small buffer and a large one find the same reply (ok, code,
 *    enhanced code, command, lines), and the small text is a prefix of the
 *    large one;
 *  - a found reply has a code 0-999, at least one line, a known command;
 *    none leaves everything zero and the text empty;
 *  - classifying what was read never fails.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpreply.h"

#define BIG 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smtpreply_pasted s, l;
    struct smtpreply_reason_info info;
    static char big[BIG + 1];
    char small[65];
    size_t cap, n;
    char *item;
    bool ok_s, ok_l;

    if (size < 1)
        return 0;
    cap = data[0] % 64u;
    n = size - 1;
    item = malloc(n ? n : 1);
    if (!item)
        return 0;
    memcpy(item, data + 1, n);

    memset(small, 0x5A, sizeof small);
    ok_s = smtpreply_read_reply(item, n, cap ? small : NULL, cap, &s);
    if (small[cap] != 0x5A || (cap == 0 && small[0] != 0x5A))
        abort(); /* wrote past the buffer */
    ok_l = smtpreply_read_reply(item, n, big, BIG, &l);

    if (ok_s != ok_l || s.code != l.code || s.has_esc != l.has_esc || s.has_cmd != l.has_cmd ||
        s.cmd != l.cmd || s.nlines != l.nlines)
        abort();
    if (s.has_esc && memcmp(&s.esc, &l.esc, sizeof s.esc) != 0)
        abort();
    if (l.text_len >= BIG || big[l.text_len] != '\0')
        abort();
    if (cap) {
        if (s.text_len >= cap || small[s.text_len] != '\0')
            abort();
        if (memcmp(small, big, s.text_len) != 0)
            abort();
        if (s.text_cut != (l.text_len > s.text_len || l.text_cut))
            abort();
    } else if (s.text_len != 0) {
        abort();
    }
    if (ok_l) {
        if (l.code > 999 || l.nlines < 1 || (unsigned)l.cmd >= SMTPREPLY_CMD__COUNT)
            abort();
        if (!l.has_cmd && l.cmd != SMTPREPLY_CMD_UNKNOWN)
            abort();
        smtpreply_reason_classify(l.code, l.has_esc ? &l.esc : NULL, l.cmd, big, l.text_len,
                                  &info);
        if ((l.code / 100 == 4 || l.code / 100 == 5) != (info.name != NULL))
            abort();
        if (!smtpreply_reply_meaning(l.cmd, l.code, l.has_esc ? &l.esc : NULL))
            abort();
    } else if (l.code || l.has_esc || l.has_cmd || l.nlines || l.text_len || big[0] != '\0') {
        abort();
    }
    free(item);
    return 0;
}
