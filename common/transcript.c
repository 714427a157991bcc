/* SPDX-License-Identifier: MIT */
/* transcript.c - one line of an RFC-style or swaks dialogue: who sent what. */
#include <string.h>

#include "transcript.h"

static bool starts(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* " -> 11 lines sent" is swaks's -n summary of a DATA body. */
static bool is_data_summary(const char *t, size_t len)
{
    size_t i = 0;
    while (i < len && is_digit(t[i]))
        i++;
    return i > 0 && len - i == strlen(" lines sent") && memcmp(t + i, " lines sent", len - i) == 0;
}

/* swaks hints are three characters, then one space, then the line. */
static const struct {
    const char *hint;
    enum smtpreply_tline_kind kind;
    bool tls;
    bool unexpected;
} swaks_hints[] = {
    {" ->", SMTPREPLY_TLINE_CLIENT, false, false},
    {" ~>", SMTPREPLY_TLINE_CLIENT, true, false},
    {"**>", SMTPREPLY_TLINE_CLIENT, false, true},
    {"*~>", SMTPREPLY_TLINE_CLIENT, true, true},
    {"<- ", SMTPREPLY_TLINE_SERVER, false, false},
    {"<~ ", SMTPREPLY_TLINE_SERVER, true, false},
    {"<**", SMTPREPLY_TLINE_SERVER, false, true},
    {"<~*", SMTPREPLY_TLINE_SERVER, true, true},
};

static bool ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* RFCs spell line ends out ("C: To: Susan@random.com<CR><LF>" in RFC 3030,
 * "C: <CRLF>.<CRLF>" for the end of data in RFC 821 style); the line end is
 * already implied, so the notation goes. */
static void rfc_line_ends(struct smtpreply_tline *out)
{
    static const char *const ends[] = {"<CRLF>", "<CR><LF>"};
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(ends[i]);
        if (!ends_with(out->text, out->len, ends[i]))
            continue;
        out->len -= n;
        /* "<CRLF>.<CRLF>": the leading one ends the previous line. */
        if (out->len == n + 1 && memcmp(out->text, ends[i], n) == 0 && out->text[n] == '.') {
            out->text += n;
            out->len = 1;
        }
        return;
    }
}

void smtpreply_transcript_parse_line(const char *line, size_t len, struct smtpreply_tline *out)
{
    memset(out, 0, sizeof *out);
    out->kind = SMTPREPLY_TLINE_OTHER;
    if (len && line[len - 1] == '\r')
        len--;
    out->text = line;

    /* swaks, exactly as it prints: hint, space, text. */
    for (size_t i = 0; i < sizeof swaks_hints / sizeof swaks_hints[0]; i++) {
        if (starts(line, len, swaks_hints[i].hint) && (len == 3 || line[3] == ' ')) {
            out->kind = swaks_hints[i].kind;
            out->format = SMTPREPLY_TFORMAT_SWAKS;
            out->tls = swaks_hints[i].tls;
            out->unexpected = swaks_hints[i].unexpected;
            out->text = len > 4 ? line + 4 : line + len;
            out->len = len > 4 ? len - 4 : 0;
            if (out->kind == SMTPREPLY_TLINE_CLIENT && is_data_summary(out->text, out->len))
                out->kind = SMTPREPLY_TLINE_DATA_SUMMARY;
            return;
        }
    }

    /* Indented or trimmed pastes: skip blanks, then try both styles. */
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    const char *t = line + i;
    size_t n = len - i;
    if (n >= 2 && (t[0] == 'C' || t[0] == 'S') && t[1] == ':') {
        out->kind = t[0] == 'C' ? SMTPREPLY_TLINE_CLIENT : SMTPREPLY_TLINE_SERVER;
        out->format = SMTPREPLY_TFORMAT_RFC;
        size_t skip = n >= 3 && t[2] == ' ' ? 3 : 2;
        /* A reply never starts with a blank: more of them are alignment. */
        while (out->kind == SMTPREPLY_TLINE_SERVER && skip < n && (t[skip] == ' ' || t[skip] == '\t'))
            skip++;
        out->text = t + skip;
        out->len = n - skip;
        rfc_line_ends(out);
        /* RFCs narrate in angle brackets ("S: <wait for open connection>",
         * "C: <starts TLS negotiation>"): not bytes on the wire. */
        if (out->len >= 3 && out->text[0] == '<' && out->text[out->len - 1] == '>' &&
            memchr(out->text, ' ', out->len) != NULL) {
            out->kind = SMTPREPLY_TLINE_OTHER;
            out->len = 0;
        }
        return;
    }
    /* A trimmed swaks line ("-> EHLO x", "<- 250 ok"). */
    static const struct {
        const char *hint;
        enum smtpreply_tline_kind kind;
        bool tls;
    } trimmed[] = {
        {"*~> ", SMTPREPLY_TLINE_CLIENT, true}, {"**> ", SMTPREPLY_TLINE_CLIENT, false},
        {"<~* ", SMTPREPLY_TLINE_SERVER, true}, {"<** ", SMTPREPLY_TLINE_SERVER, false},
        {"-> ", SMTPREPLY_TLINE_CLIENT, false}, {"~> ", SMTPREPLY_TLINE_CLIENT, true},
        {"<- ", SMTPREPLY_TLINE_SERVER, false}, {"<~ ", SMTPREPLY_TLINE_SERVER, true},
    };
    for (size_t k = 0; k < sizeof trimmed / sizeof trimmed[0]; k++) {
        size_t hl = strlen(trimmed[k].hint);
        if (starts(t, n, trimmed[k].hint) || (n == hl - 1 && memcmp(t, trimmed[k].hint, n) == 0)) {
            out->kind = trimmed[k].kind;
            out->format = SMTPREPLY_TFORMAT_SWAKS;
            out->tls = trimmed[k].tls;
            out->unexpected = trimmed[k].hint[0] == '*' || trimmed[k].hint[1] == '*' ||
                              trimmed[k].hint[2] == '*';
            /* swaks puts one space after a 3-char hint; "<-" has two. */
            size_t skip = hl <= n ? hl : n;
            if (hl == 3 && skip < n && t[skip] == ' ' && trimmed[k].kind == SMTPREPLY_TLINE_SERVER)
                skip++;
            out->text = t + skip;
            out->len = n - skip;
            if (out->kind == SMTPREPLY_TLINE_CLIENT && is_data_summary(out->text, out->len))
                out->kind = SMTPREPLY_TLINE_DATA_SUMMARY;
            return;
        }
    }
}
