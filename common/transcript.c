/* SPDX-License-Identifier: MIT */
/* transcript.c - one line of an RFC-style or swaks dialogue: who sent what. */
#include <stdlib.h>
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
    return i > 0 && len - i == strlen(" lines sent") &&
           memcmp(t + i, " lines sent", len - i) == 0;
}

/* swaks hints are three characters, then one space, then the line. */
static const struct {
    const char *hint;
    enum smtpreply_tline_kind kind;
    bool tls;
    bool unexpected;
} swaks_hints[] = {
    {" ->", SMTPREPLY_TLINE_CLIENT, false, false}, {" ~>", SMTPREPLY_TLINE_CLIENT, true, false},
    {"**>", SMTPREPLY_TLINE_CLIENT, false, true},  {"*~>", SMTPREPLY_TLINE_CLIENT, true, true},
    {"<- ", SMTPREPLY_TLINE_SERVER, false, false}, {"<~ ", SMTPREPLY_TLINE_SERVER, true, false},
    {"<**", SMTPREPLY_TLINE_SERVER, false, true},  {"<~*", SMTPREPLY_TLINE_SERVER, true, true},
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

const char *smtpreply_tline_warning_name(enum smtpreply_tline_warning w)
{
    switch (w) {
    case SMTPREPLY_TWARN_LOWER_PREFIX:
        return "lower-case-prefix";
    case SMTPREPLY_TWARN_BARE_REPLY:
        return "reply-without-prefix";
    case SMTPREPLY_TWARN_BARE_COMMAND:
        return "command-without-prefix";
    case SMTPREPLY_TWARN_NONE:
        break;
    }
    return NULL;
}

/* A line (after its indentation) that is no dialogue but reads like it:
 * "c: ..."/"s: ...", a reply line ("250 ok", "550-5.1.1 ...") or a
 * command ("MAIL FROM:<>", "QUIT") written without its prefix. */
static enum smtpreply_tline_warning looks_like_dialogue(const char *t, size_t n)
{
    if (n >= 2 && (t[0] == 'c' || t[0] == 's') && t[1] == ':')
        return SMTPREPLY_TWARN_LOWER_PREFIX;
    if (n >= 3 && is_digit(t[0]) && is_digit(t[1]) && is_digit(t[2]) && t[0] >= '2' &&
        t[0] <= '5' && (n == 3 || t[3] == ' ' || t[3] == '-'))
        return SMTPREPLY_TWARN_BARE_REPLY;
    size_t v = 0;
    while (v < n && v < 16 && t[v] >= 'A' && t[v] <= 'Z')
        v++;
    if (v >= 4 && (v == n || t[v] == ' ')) {
        enum smtpreply_cmd c = smtpreply_cmd_from_verb(t, v);
        if (c != SMTPREPLY_CMD_UNKNOWN && c != SMTPREPLY_CMD_CONNECT &&
            c != SMTPREPLY_CMD_DATA_END)
            return SMTPREPLY_TWARN_BARE_COMMAND;
    }
    return SMTPREPLY_TWARN_NONE;
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
        while (out->kind == SMTPREPLY_TLINE_SERVER && skip < n &&
               (t[skip] == ' ' || t[skip] == '\t'))
            skip++;
        out->text = t + skip;
        out->len = n - skip;
        /* Only the client's lines spell their ends out; a reply's text
         * ("354 End data with <CR><LF>.<CR><LF>") is what the server sent. */
        if (out->kind == SMTPREPLY_TLINE_CLIENT)
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
        if (starts(t, n, trimmed[k].hint) ||
            (n == hl - 1 && memcmp(t, trimmed[k].hint, n) == 0)) {
            out->kind = trimmed[k].kind;
            out->format = SMTPREPLY_TFORMAT_SWAKS;
            out->tls = trimmed[k].tls;
            out->unexpected = trimmed[k].hint[0] == '*' || trimmed[k].hint[1] == '*' ||
                              trimmed[k].hint[2] == '*';
            /* swaks puts one space after a 3-char hint; "<-" has two. */
            size_t skip = hl <= n ? hl : n;
            if (hl == 3 && skip < n && t[skip] == ' ' &&
                trimmed[k].kind == SMTPREPLY_TLINE_SERVER)
                skip++;
            out->text = t + skip;
            out->len = n - skip;
            if (out->kind == SMTPREPLY_TLINE_CLIENT && is_data_summary(out->text, out->len))
                out->kind = SMTPREPLY_TLINE_DATA_SUMMARY;
            return;
        }
    }
    out->warning = looks_like_dialogue(t, n);
}

/* "(message segment of 100000 octets)": a written placeholder for chunk
 * data (RFC 3030 §4.2).  Returns the number, or 0 if the line is not one. */
static uint64_t placeholder_octets(const char *t, size_t len)
{
    if (len < 3 || t[0] != '(' || t[len - 1] != ')')
        return 0;
    static const char *const units[] = {" octets)", " bytes)"};
    for (size_t u = 0; u < 2; u++) {
        if (!ends_with(t, len, units[u]))
            continue;
        size_t end = len - strlen(units[u]), start = end;
        while (start > 1 && is_digit(t[start - 1]))
            start--;
        if (start == end || end - start > 12)
            return 0;
        uint64_t n = 0;
        for (size_t i = start; i < end; i++)
            n = n * 10 + (uint64_t)(t[i] - '0');
        return n;
    }
    return 0;
}

void smtpreply_transcript_run(const char *text, size_t len, smtpreply_event_fn fn, void *user,
                              struct smtpreply_transcript_result *out)
{
    smtpreply_transcript_run_warn(text, len, fn, NULL, user, out);
}

void smtpreply_transcript_run_warn(const char *text, size_t len, smtpreply_event_fn fn,
                                   smtpreply_transcript_warn_fn warn, void *user,
                                   struct smtpreply_transcript_result *out)
{
    memset(out, 0, sizeof *out);
    struct smtpreply_session *s = NULL;
    char *line = NULL;
    size_t line_cap = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - (text + pos)) : len - pos;
        uint64_t lineno = ++out->lines;
        int64_t ts = (int64_t)lineno * 1000;
        struct smtpreply_tline tl;
        smtpreply_transcript_parse_line(text + pos, l, &tl);
        pos += l + (nl ? 1 : 0);
        if (tl.kind == SMTPREPLY_TLINE_OTHER) {
            if (tl.warning != SMTPREPLY_TWARN_NONE && warn)
                warn(user, lineno, tl.warning, tl.text, l && tl.text[l - 1] == '\r' ? l - 1 : l);
            continue;
        }
        if (!s) {
            s = smtpreply_session_new(NULL, NULL, NULL, fn, user,
                                      tl.kind == SMTPREPLY_TLINE_SERVER
                                          ? 0
                                          : SMTPREPLY_SESSION_NO_GREETING);
            if (!s) {
                out->oom = true;
                break;
            }
        }
        out->dialogue++;
        if (tl.kind == SMTPREPLY_TLINE_DATA_SUMMARY) {
            /* swaks -n: the body went out whole, ended by its dot line. */
            smtpreply_session_feed(s, SMTPREPLY_DIR_CLIENT, (const uint8_t *)"\r\n.\r\n", 5, ts,
                                   lineno);
            continue;
        }
        /* A placeholder stands for the chunk data it names, never more
         * than the chunk still takes (so a wrong count cannot swallow the
         * next command); outside a chunk it is an ordinary line. */
        if (tl.kind == SMTPREPLY_TLINE_CLIENT) {
            uint64_t octets = placeholder_octets(tl.text, tl.len);
            if (octets && smtpreply_session_chunk_skip(s, octets) > 0)
                continue;
        }
        if (tl.len + 2 > line_cap) {
            char *nb = realloc(line, tl.len + 2);
            if (!nb) {
                out->oom = true;
                break;
            }
            line = nb;
            line_cap = tl.len + 2;
        }
        memcpy(line, tl.text, tl.len);
        memcpy(line + tl.len, "\r\n", 2);
        smtpreply_session_feed(s,
                               tl.kind == SMTPREPLY_TLINE_CLIENT ? SMTPREPLY_DIR_CLIENT
                                                                 : SMTPREPLY_DIR_SERVER,
                               (const uint8_t *)line, tl.len + 2, ts, lineno);
    }
    if (s) {
        smtpreply_session_finish(s, (int64_t)(out->lines + 1) * 1000, out->lines + 1);
        out->encrypted = (smtpreply_session_stats(s)->flags & SMTPREPLY_SESSION_ENCRYPTED) != 0;
        smtpreply_session_free(s);
    }
    free(line);
}
