/* SPDX-License-Identifier: MIT */
/*
 * test_reason_quiz.c - the core against tests/quiz/replies.tsv (its header
 * says the format): every row's item is read (code, enhanced code, and the
 * command when the item names it) and classified to the row's reason; the
 * file covers every reason and cites a source on every row.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "smtpreply.h"

#define MAX_FIELDS 8

static size_t unescape(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; s[i] && n + 1 < cap; i++) {
        char c = s[i];
        if (c == '\\' && s[i + 1]) {
            i++;
            c = s[i] == 'n' ? '\n' : s[i] == 'r' ? '\r' : s[i] == 't' ? '\t' : s[i];
        }
        out[n++] = c;
    }
    out[n] = '\0';
    return n;
}

static bool parse_cmd(const char *s, enum smtpreply_cmd *cmd)
{
    if (strcmp(s, ".") == 0)
        *cmd = SMTPREPLY_CMD_DATA_END;
    else if (strcmp(s, "greeting") == 0)
        *cmd = SMTPREPLY_CMD_CONNECT;
    else if (strcmp(s, "-") == 0)
        *cmd = SMTPREPLY_CMD_UNKNOWN;
    else {
        *cmd = smtpreply_cmd_from_verb(s, strlen(s));
        return *cmd != SMTPREPLY_CMD_UNKNOWN;
    }
    return true;
}

int main(void)
{
    char path[4096], line[8192], item[8192], text[8192];
    unsigned rows = 0, per_reason[SMTPREPLY_REASON__COUNT] = {0};
    FILE *f;

    snprintf(path, sizeof path, "%s/tests/quiz/replies.tsv", SOURCE_DIR);
    f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f)
        return CHECK_DONE();
    while (fgets(line, sizeof line, f)) {
        char *field[MAX_FIELDS], *p = line;
        size_t nf = 0, len = strlen(line);
        struct smtpreply_pasted got;
        struct smtpreply_reason_info info;
        struct smtpreply_esc want_esc;
        enum smtpreply_reason want;
        enum smtpreply_cmd cmd;
        bool named, has_esc, ok;
        unsigned code;
        char escbuf[16];

        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        while (nf < MAX_FIELDS) {
            char *tab = strchr(p, '\t');
            field[nf++] = p;
            if (!tab)
                break;
            *tab = '\0';
            p = tab + 1;
        }
        rows++;
        CHECK_EQ_U(nf, 7);
        if (nf != 7) {
            fprintf(stderr, "  row %u: %zu fields\n", rows, nf);
            continue;
        }
        want = smtpreply_reason_from_name(field[0], strlen(field[0]));
        CHECK(want != SMTPREPLY_REASON_NONE);
        code = (unsigned)strtoul(field[1], NULL, 10);
        has_esc = strcmp(field[2], "-") != 0;
        CHECK(!has_esc || smtpreply_esc_parse(field[2], strlen(field[2]), &want_esc) > 0);
        CHECK(parse_cmd(field[3], &cmd));
        CHECK(strcmp(field[4], "yes") == 0 || strcmp(field[4], "no") == 0);
        named = strcmp(field[4], "yes") == 0;
        CHECK(strlen(field[6]) > 3);
        unescape(field[5], item, sizeof item);

        ok = smtpreply_read_reply(item, strlen(item), text, sizeof text, &got);
        CHECK(ok);
        CHECK_EQ_U(got.code, code);
        CHECK_EQ_U(got.has_esc, has_esc);
        if (has_esc && got.has_esc) {
            smtpreply_esc_format(&got.esc, escbuf, sizeof escbuf);
            CHECK_EQ_S(escbuf, field[2]);
        }
        CHECK_EQ_U(got.has_cmd, named);
        if (named)
            CHECK_EQ_U(got.cmd, cmd);
        smtpreply_reason_classify(got.code, got.has_esc ? &got.esc : NULL, cmd, text,
                                  got.text_len, &info);
        if (!ok || info.reason != want || got.code != code)
            fprintf(stderr, "  row %u (%s): read %u \"%s\", reason %s (%s \"%s\"), want %s\n",
                    rows, field[6], got.code, text, info.name ? info.name : "(none)",
                    info.source_name ? info.source_name : "-", info.pattern ? info.pattern : "",
                    field[0]);
        CHECK_EQ_U(info.reason, want);
        CHECK(smtpreply_reply_meaning(cmd, got.code, got.has_esc ? &got.esc : NULL)[0] != '\0');
        if (want < SMTPREPLY_REASON__COUNT)
            per_reason[want]++;
    }
    fclose(f);
    CHECK(rows >= 60);
    for (unsigned r = 1; r < SMTPREPLY_REASON__COUNT; r++) {
        if (per_reason[r] == 0)
            fprintf(stderr, "  no quiz row for %s\n",
                    smtpreply_reason_name((enum smtpreply_reason)r));
        CHECK(per_reason[r] > 0);
    }
    printf("%u quiz rows\n", rows);
    return CHECK_DONE();
}
