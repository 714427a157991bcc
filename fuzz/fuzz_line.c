/* SPDX-License-Identifier: MIT */
/* fuzz_line.c - reply-line and command-verb parsing: never read outside the
 * line, and what they return agrees with the grammar (RFC 5321 §4.2). */
#include <stdint.h>
#include <stdlib.h>

#include "smtpreply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly `size` bytes, so ASan sees any over-read. */
    char *line = calloc(size ? size : 1, 1);
    if (!line)
        return 0;
    for (size_t i = 0; i < size; i++)
        line[i] = (char)data[i];
    struct smtpreply_line l;
    if (smtpreply_parse_reply_line(line, size, &l)) {
        if (size < 3 || l.code > 999 || l.text < line || l.text + l.text_len > line + size)
            abort();
        if (l.sep != ' ' && l.sep != '-' && l.sep != 0)
            abort();
        if (l.has_esc && (l.esc.cls != 2 && l.esc.cls != 4 && l.esc.cls != 5))
            abort();
        if (l.has_esc && (l.esc.subject > 999 || l.esc.detail > 999))
            abort();
    }
    size_t v = smtpreply_parse_command_verb(line, size);
    if (v > size)
        abort();
    free(line);
    return 0;
}
