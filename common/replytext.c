/* SPDX-License-Identifier: MIT */
/*
 * replytext.c - finds the server reply, and the command it answers, in
 * what people paste: a multi-line reply, a transcript excerpt, a Postfix,
 * Exim or Microsoft log or bounce line, a DSN's Diagnostic-Code.
 *
 * No I/O, no allocation: the caller gives the text buffer.  The input is
 * untrusted and need not be NUL-terminated; every loop is bounded by its
 * length, and every phrase search is linear in it.
 */
#include <string.h>

#include "smtpreply.h"

#define NPOS ((size_t)-1)

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Does the lower-case needle start at s[i] (case-insensitively)? */
static bool at_ci(const char *s, size_t len, size_t i, const char *needle)
{
    size_t m = strlen(needle);
    if (i > len || len - i < m)
        return false;
    for (size_t k = 0; k < m; k++) {
        if (lower((unsigned char)s[i + k]) != (unsigned char)needle[k])
            return false;
    }
    return true;
}

/* First position >= from where the lower-case needle starts; NPOS if none. */
static size_t find_ci(const char *s, size_t len, size_t from, const char *needle)
{
    unsigned char first = (unsigned char)needle[0];
    for (size_t i = from; i < len; i++) {
        if (lower((unsigned char)s[i]) == first && at_ci(s, len, i, needle))
            return i;
    }
    return NPOS;
}

static size_t line_end(const char *s, size_t len, size_t from)
{
    const char *nl = from < len ? memchr(s + from, '\n', len - from) : NULL;
    return nl ? (size_t)(nl - s) : len;
}

/* The command a log phrase names: "RCPT TO:<...>", "MAIL FROM", "end of
 * DATA", "DATA", "initial connection", "EHLO host", "pipelined RCPT ...". */
static bool named_cmd(const char *s, size_t len, size_t i, enum smtpreply_cmd *cmd)
{
    size_t v;
    if (at_ci(s, len, i, "pipelined "))
        i += 10;
    if (at_ci(s, len, i, "end of data")) {
        *cmd = SMTPREPLY_CMD_DATA_END;
        return true;
    }
    if (at_ci(s, len, i, "initial connection") || at_ci(s, len, i, "initial greeting") ||
        at_ci(s, len, i, "greeting")) {
        *cmd = SMTPREPLY_CMD_CONNECT;
        return true;
    }
    v = i;
    while (v < len && v - i < 16 &&
           ((s[v] >= 'A' && s[v] <= 'Z') || (s[v] >= 'a' && s[v] <= 'z')))
        v++;
    *cmd = smtpreply_cmd_from_verb(s + i, v - i);
    return *cmd != SMTPREPLY_CMD_UNKNOWN;
}

/* A transcript prefix at s[i]: returns its length (with the blanks after
 * it), 0 if none.  *client tells a client line from a server line. */
static size_t line_prefix(const char *s, size_t len, size_t i, bool *client)
{
    static const char *const server[] = {"s:", "<-", "<~", "<**"};
    static const char *const clientp[] = {"c:", "->", "~>", "**>"};
    size_t start = i, n = 0;
    *client = false;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    for (size_t k = 0; k < 4 && n == 0; k++) {
        if (at_ci(s, len, i, server[k]))
            n = strlen(server[k]);
        else if (at_ci(s, len, i, clientp[k])) {
            n = strlen(clientp[k]);
            *client = true;
        }
    }
    i += n;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i - start;
}

/* Three digits at s[i] ending at end, a blank or '-', where a reply may
 * start: the region's start, or after a blank or punctuation that opens a
 * quoted reply. */
static bool code_token(const char *s, size_t end, size_t i, size_t start)
{
    unsigned char prev;
    if (end - i < 3 || !is_digit((unsigned char)s[i]) || !is_digit((unsigned char)s[i + 1]) ||
        !is_digit((unsigned char)s[i + 2]))
        return false;
    if (end - i > 3 && s[i + 3] != ' ' && s[i + 3] != '-' && s[i + 3] != '\r' && s[i + 3] != '\t')
        return false;
    if (i == start)
        return true;
    prev = (unsigned char)s[i - 1];
    return prev == ' ' || prev == '\t' || prev == ':' || prev == ';' || prev == '\'' ||
           prev == '"' || prev == '(' || prev == '<' || prev == '\n';
}

struct sink {
    char *buf;
    size_t cap, len;
    bool cut;
};

static void put(struct sink *k, const char *p, size_t n)
{
    size_t room = k->cap > k->len + 1 ? k->cap - k->len - 1 : 0;
    if (n > room) {
        n = room;
        k->cut = true;
    }
    if (n) {
        memcpy(k->buf + k->len, p, n);
        k->len += n;
    }
    if (k->cap)
        k->buf[k->len] = '\0';
}

/* In a '-' line's text, where the next line of a reply flattened onto one
 * line starts (" 550-5.7.1 ..." / " 550 5.7.1 ..." with the same code and,
 * when the first line had one, the same enhanced code); NPOS if none. */
static size_t flattened_next(const char *s, size_t from, size_t end, unsigned code,
                             const struct smtpreply_pasted *out)
{
    char digits[3] = {(char)('0' + code / 100u), (char)('0' + code / 10u % 10u),
                      (char)('0' + code % 10u)};
    for (size_t i = from; i + 4 <= end; i++) {
        struct smtpreply_line l;
        if (s[i] != ' ' || memcmp(s + i + 1, digits, 3) != 0 || i + 4 >= end ||
            (s[i + 4] != '-' && s[i + 4] != ' '))
            continue;
        if (!smtpreply_parse_reply_line(s + i + 1, end - i - 1, &l))
            continue;
        if (out->has_esc &&
            (!l.has_esc || l.esc.cls != out->esc.cls || l.esc.subject != out->esc.subject ||
             l.esc.detail != out->esc.detail))
            continue;
        return i + 1;
    }
    return NPOS;
}

/* Reads reply lines from pos (a code token) up to end; returns false if
 * the first does not parse. */
static bool collect(const char *s, size_t end, size_t pos, struct sink *k,
                    struct smtpreply_pasted *out)
{
    for (;;) {
        size_t le = line_end(s, end, pos), te, next = NPOS;
        struct smtpreply_line l;
        bool client;

        te = le;
        while (te > pos && (s[te - 1] == '\r' || s[te - 1] == ' ' || s[te - 1] == '\t'))
            te--;
        if (!smtpreply_parse_reply_line(s + pos, te - pos, &l))
            return out->nlines > 0;
        if (out->nlines == 0) {
            out->code = l.code;
            if (l.has_esc) {
                out->has_esc = true;
                out->esc = l.esc;
            }
        } else if (l.code != out->code) {
            return true;
        }
        if (l.sep == '-') {
            size_t tstart = (size_t)(l.text - s);
            next = flattened_next(s, tstart, te, out->code, out);
            if (next != NPOS)
                te = next - 1;
        }
        if (out->nlines > 0)
            put(k, "\n", 1);
        if (l.text_len > 0 && te > (size_t)(l.text - s))
            put(k, l.text, te - (size_t)(l.text - s));
        if (!out->has_esc && l.has_esc) {
            out->has_esc = true;
            out->esc = l.esc;
        }
        out->nlines++;
        if (l.sep != '-')
            return true;
        if (next != NPOS) {
            pos = next;
            continue;
        }
        if (le >= end)
            return true;
        pos = le + 1;
        pos += line_prefix(s, end, pos, &client);
        if (client)
            return true;
    }
}

bool smtpreply_read_reply(const char *item, size_t len, char *text, size_t text_cap,
                          struct smtpreply_pasted *out)
{
    struct sink k = {text, text ? text_cap : 0, 0, false};
    size_t start = 0, end = len, p, pos = NPOS;
    enum smtpreply_cmd cmd = SMTPREPLY_CMD_UNKNOWN, line_cmd = SMTPREPLY_CMD_UNKNOWN;
    bool has_cmd = false, has_line_cmd = false;

    memset(out, 0, sizeof *out);
    out->cmd = SMTPREPLY_CMD_UNKNOWN;
    if (k.cap)
        k.buf[0] = '\0';
    if (!item)
        return false;

    /* Postfix: "host H[IP] said: <reply> (in reply to RCPT TO command)",
     * "host H[IP] refused to talk to me: <reply>" (the greeting). */
    if ((p = find_ci(item, len, 0, " said: ")) != NPOS) {
        start = p + 7;
        if ((p = find_ci(item, len, start, "(in reply to ")) != NPOS) {
            end = p;
            has_cmd = named_cmd(item, len, p + 13, &cmd);
        }
    } else if ((p = find_ci(item, len, 0, "refused to talk to me: ")) != NPOS) {
        start = p + 23;
        cmd = SMTPREPLY_CMD_CONNECT;
        has_cmd = true;
    } else if ((p = find_ci(item, len, 0, "error from remote mail server after ")) != NPOS) {
        /* Exim: "SMTP error from remote mail server after RCPT TO:<a>:
         * [host H [IP]: ]<reply>" (log line or bounce). */
        start = p + 36;
        has_cmd = named_cmd(item, len, start, &cmd);
    } else if ((p = find_ci(item, len, 0, "remote server returned '")) != NPOS) {
        /* Microsoft: "Remote Server returned '550 5.1.10 ...'" */
        size_t q, le;
        start = p + 24;
        le = line_end(item, len, start);
        for (q = le; q > start && item[q - 1] != '\''; q--)
            ;
        if (q > start)
            end = q - 1;
        if (start < end && item[start] == '<' && item[end - 1] == '>')
            end--;
    }
    if (!has_cmd)
        cmd = SMTPREPLY_CMD_UNKNOWN;

    /* The first reply code at a token boundary, line by line; client lines
     * of a transcript on the way name the command. */
    for (size_t ls = start; ls < end && pos == NPOS;) {
        size_t le = line_end(item, end, ls);
        bool client;
        size_t i = ls + line_prefix(item, le, ls, &client);
        if (client) {
            size_t ve = le;
            while (ve > i && (item[ve - 1] == '\r' || item[ve - 1] == ' '))
                ve--;
            if (ve - i == 1 && item[i] == '.') {
                line_cmd = SMTPREPLY_CMD_DATA_END;
                has_line_cmd = true;
            } else {
                size_t vl = smtpreply_parse_command_verb(item + i, ve - i);
                line_cmd = smtpreply_cmd_from_verb(item + i, vl);
                has_line_cmd = line_cmd != SMTPREPLY_CMD_UNKNOWN;
            }
        } else {
            for (size_t j = i; j < le; j++) {
                if (code_token(item, le, j, i)) {
                    pos = j;
                    break;
                }
            }
        }
        ls = le + 1;
    }
    if (pos == NPOS || !collect(item, end, pos, &k, out)) {
        memset(out, 0, sizeof *out);
        out->cmd = SMTPREPLY_CMD_UNKNOWN;
        if (k.cap)
            k.buf[0] = '\0';
        return false;
    }
    if (has_cmd) {
        out->has_cmd = true;
        out->cmd = cmd;
    } else if (has_line_cmd) {
        out->has_cmd = true;
        out->cmd = line_cmd;
    }
    out->text_len = k.len;
    out->text_cut = k.cut;
    return true;
}
