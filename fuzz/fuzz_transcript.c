/* SPDX-License-Identifier: MIT */
/* fuzz_transcript.c - the dialogue reader on arbitrary text: each line
 * classified alone, then the whole text run through a session exactly as
 * `smtpreply transcript` runs it (smtpreply_transcript_run). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpreply.h"
#include "transcript.h"

static void on_event(void *user, const struct smtpreply_event *ev)
{
    (void)user;
    if (ev->text_len && !ev->text)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Each line alone, in an exact-size copy so an over-read shows, and
     * what the reader returns must lie inside it. */
    const char *text = (const char *)data;
    for (size_t pos = 0; pos < size;) {
        const char *nl = memchr(text + pos, '\n', size - pos);
        size_t l = nl ? (size_t)(nl - (text + pos)) : size - pos;
        char *line = malloc(l ? l : 1);
        if (!line)
            return 0;
        memcpy(line, text + pos, l);
        struct smtpreply_tline tl;
        smtpreply_transcript_parse_line(line, l, &tl);
        if (tl.kind != SMTPREPLY_TLINE_OTHER &&
            (tl.text < line || tl.text + tl.len > line + l))
            abort();
        free(line);
        pos += l + (nl ? 1 : 0);
    }
    /* Then the whole dialogue as `smtpreply transcript` runs it (excerpts,
     * chunk placeholders, the session engine). */
    char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    struct smtpreply_transcript_result res;
    smtpreply_transcript_run(copy, size, on_event, NULL, &res);
    if (res.dialogue > res.lines)
        abort();
    free(copy);
    return 0;
}
