/* SPDX-License-Identifier: MIT */
/* fuzz_transcript.c - the dialogue reader on arbitrary text, each line it
 * accepts fed to a session as `smtpreply transcript` does. */
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
    char *buf = malloc(size + 2);
    if (!buf)
        return 0;
    struct smtpreply_session *s = smtpreply_session_new(NULL, NULL, NULL, on_event, NULL, 0);
    if (!s) {
        free(buf);
        return 0;
    }
    const char *text = (const char *)data;
    uint64_t lineno = 0;
    for (size_t pos = 0; pos < size;) {
        const char *nl = memchr(text + pos, '\n', size - pos);
        size_t l = nl ? (size_t)(nl - (text + pos)) : size - pos;
        /* Exact-size copy so an over-read shows. */
        char *line = malloc(l ? l : 1);
        if (!line)
            break;
        memcpy(line, text + pos, l);
        struct smtpreply_tline tl;
        smtpreply_transcript_parse_line(line, l, &tl);
        lineno++;
        if (tl.kind != SMTPREPLY_TLINE_OTHER &&
            (tl.text < line || tl.text + tl.len > line + l))
            abort();
        if (tl.kind == SMTPREPLY_TLINE_CLIENT || tl.kind == SMTPREPLY_TLINE_SERVER) {
            memcpy(buf, tl.text, tl.len);
            memcpy(buf + tl.len, "\r\n", 2);
            smtpreply_session_feed(s,
                                   tl.kind == SMTPREPLY_TLINE_CLIENT ? SMTPREPLY_DIR_CLIENT
                                                                     : SMTPREPLY_DIR_SERVER,
                                   (const uint8_t *)buf, tl.len + 2, (int64_t)lineno, lineno);
        } else if (tl.kind == SMTPREPLY_TLINE_DATA_SUMMARY) {
            smtpreply_session_feed(s, SMTPREPLY_DIR_CLIENT, (const uint8_t *)"\r\n.\r\n", 5,
                                   (int64_t)lineno, lineno);
        }
        free(line);
        pos += l + (nl ? 1 : 0);
    }
    smtpreply_session_finish(s, 0, 0);
    smtpreply_session_free(s);
    free(buf);
    return 0;
}
