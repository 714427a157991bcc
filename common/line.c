/* SPDX-License-Identifier: MIT */
/*
 * line.c - stateless parsing of one reply line or one command line.
 *
 * Lines are passed without their CRLF.  Nothing here allocates or needs
 * a NUL terminator: server bytes are untrusted.
 */
#include "smtpreply.h"

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static bool is_verb_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '-';
}

/* Three dot-separated runs of digits, then end, SP or HT: the shape of an
 * enhanced status code whatever its values.  Four runs ("192.0.2.1") are
 * an address, not a code. */
static bool esc_shaped(const uint8_t *p, size_t len)
{
    size_t i = 0;
    for (int part = 0; part < 3; part++) {
        size_t start = i;
        while (i < len && is_digit(p[i]))
            i++;
        if (i == start)
            return false;
        if (part < 2) {
            if (i >= len || p[i] != '.')
                return false;
            i++;
        }
    }
    return i == len || p[i] == ' ' || p[i] == '\t';
}

/* RFC 5321 §4.2: Reply-line = *( Reply-code "-" [ textstring ] CRLF )
 *                             Reply-code [ SP textstring ] CRLF
 * A code alone (with or without the SP) is accepted, as §4.2 asks of
 * clients.  Any three digits count here; whether the code is valid
 * (2-5, 0-5, 0-9) is the engine's judgement, not the parser's. */
bool smtpreply_parse_reply_line(const char *line, size_t len, struct smtpreply_line *out)
{
    const uint8_t *p = (const uint8_t *)line;
    if (len < 3 || !is_digit(p[0]) || !is_digit(p[1]) || !is_digit(p[2]))
        return false;
    if (len > 3 && p[3] != ' ' && p[3] != '-')
        return false;
    out->code =
        (unsigned)(p[0] - '0') * 100u + (unsigned)(p[1] - '0') * 10u + (unsigned)(p[2] - '0');
    out->sep = len > 3 ? (char)p[3] : 0;
    out->text = len > 4 ? line + 4 : line + len;
    out->text_len = len > 4 ? len - 4 : 0;
    out->has_esc = false;
    out->esc.cls = 0;
    out->esc.subject = 0;
    out->esc.detail = 0;
    if (out->text_len > 0 && smtpreply_esc_parse(out->text, out->text_len, &out->esc) > 0)
        out->has_esc = true;
    out->bad_esc = !out->has_esc && esc_shaped((const uint8_t *)out->text, out->text_len);
    return true;
}

size_t smtpreply_parse_command_verb(const char *line, size_t len)
{
    const uint8_t *p = (const uint8_t *)line;
    size_t n = 0;
    while (n < len && is_verb_char(p[n]))
        n++;
    return n;
}
