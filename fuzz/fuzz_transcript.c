/* SPDX-License-Identifier: MIT */
/* fuzz_transcript.c - the dialogue reader on arbitrary text: each line
 * classified alone, then the whole text run through a session exactly as
 * `smtpreply transcript` runs it (smtpreply_transcript_run_warn): every
 * skipped line it warns about lies inside the text, and every reply is
 * classified and redacted as the CLI does. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpreply.h"
#include "transcript.h"

struct bounds {
    const char *text;
    size_t len;
};

static void on_event(void *user, const struct smtpreply_event *ev)
{
    (void)user;
    if (ev->text_len && !ev->text)
        abort();
    if (ev->type != SMTPREPLY_EV_REPLY)
        return;
    if (ev->full_text_len && !ev->full_text)
        abort();
    struct smtpreply_reason_info why;
    smtpreply_reason_classify(ev->code, ev->has_esc ? &ev->esc : NULL,
                              smtpreply_reply_cmd(ev->has_cmd, ev->cmd.cmd, ev->stage),
                              ev->full_text, ev->full_text_len, &why);
    if (why.failure != (ev->code / 100 == 4 || ev->code / 100 == 5))
        abort();
    size_t cap = SMTPREPLY_REDACT_CAP(ev->full_text_len);
    char *red = malloc(cap);
    bool cut = true;
    if (!red)
        return;
    if (smtpreply_redact(ev->full_text, ev->full_text_len, red, cap, &cut) >= cap || cut)
        abort();
    free(red);
}

static void on_warning(void *user, uint64_t line, enum smtpreply_tline_warning w,
                       const char *text, size_t len)
{
    const struct bounds *b = user;
    if (line == 0 || !smtpreply_tline_warning_name(w) || text < b->text || len > b->len ||
        text + len > b->text + b->len)
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
        if (tl.kind != SMTPREPLY_TLINE_OTHER && (tl.text < line || tl.text + tl.len > line + l))
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
    struct bounds b = {copy, size};
    smtpreply_transcript_run_warn(copy, size, on_event, on_warning, &b, &res);
    if (res.dialogue > res.lines)
        abort();
    free(copy);
    return 0;
}
