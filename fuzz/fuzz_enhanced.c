/* SPDX-License-Identifier: MIT */
/* fuzz_enhanced.c - enhanced status code parsing on its own (RFC 3463):
 * smtpreply_esc_parse never reads past its input, accepts only the strict
 * grammar, and what it accepts formats back to exactly the bytes it
 * consumed; smtpreply_esc_explain always answers with a documented status
 * and real strings, for parsed codes and for any class/subject/detail. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpreply.h"

static void check_info(const struct smtpreply_esc *e)
{
    struct smtpreply_esc_info info;
    smtpreply_esc_explain(e, &info);
    if (info.status != SMTPREPLY_STATUS_STANDARD && info.status != SMTPREPLY_STATUS_UNASSIGNED &&
        info.status != SMTPREPLY_STATUS_INVALID)
        abort();
    if (!info.class_name || !info.subject_name || !info.meaning || !info.description ||
        !info.rfc || !info.assoc || !info.notes)
        abort();
    /* Touch every string: ASan catches one that is not terminated. */
    volatile size_t sum = strlen(info.class_name) + strlen(info.subject_name) +
                          strlen(info.meaning) + strlen(info.description) + strlen(info.rfc) +
                          strlen(info.assoc) + strlen(info.notes);
    (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly `size` bytes, so ASan sees any over-read. */
    char *s = malloc(size ? size : 1);
    if (!s)
        return 0;
    if (size)
        memcpy(s, data, size);

    struct smtpreply_esc e;
    size_t n = smtpreply_esc_parse(s, size, &e);
    if (n > size)
        abort();
    if (n > 0) {
        /* The grammar: class 2/4/5, 1-3 digit parts without leading
         * zeros, then the end or a space/tab. */
        if (e.cls != 2 && e.cls != 4 && e.cls != 5)
            abort();
        if (e.subject > 999 || e.detail > 999)
            abort();
        if (n < size && s[n] != ' ' && s[n] != '\t')
            abort();
        char buf[16];
        smtpreply_esc_format(&e, buf, sizeof buf);
        if (strlen(buf) != n || memcmp(buf, s, n) != 0)
            abort(); /* what was consumed is exactly the canonical form */
        struct smtpreply_esc again;
        if (smtpreply_esc_parse(buf, strlen(buf), &again) != n || again.cls != e.cls ||
            again.subject != e.subject || again.detail != e.detail)
            abort();
        check_info(&e);
    }
    /* Any triple the caller might build by hand, valid or not. */
    if (size >= 5) {
        struct smtpreply_esc any = {data[0], (uint16_t)(data[1] | data[2] << 8),
                                    (uint16_t)(data[3] | data[4] << 8)};
        char small[4];
        smtpreply_esc_format(&any, small, sizeof small); /* must respect the size */
        if (memchr(small, '\0', sizeof small) == NULL)
            abort();
        check_info(&any);
    }
    free(s);
    return 0;
}
