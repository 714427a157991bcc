/* SPDX-License-Identifier: MIT */
/*
 * redact.c - hides who wrote to whom: the local part of every mail address
 * in a text becomes a short stable hash, the domain stays.
 *
 * No I/O, no allocation; the input need not be NUL-terminated and is read
 * within its length only.  One forward pass, linear in the input.
 */
#include <string.h>

#include "smtpreply.h"

/* atext of RFC 5322 §3.2.3 plus '.', and the UTF-8 bytes RFC 6531 §3.3
 * allows in an internationalised local part. */
static bool is_local(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80)
        return true;
    return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL;
}

/* A byte a domain or an address literal may start with (RFC 5321 §4.1.2,
 * RFC 6531 §3.3). */
static bool is_domain_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c >= 0x80 || c == '[';
}

static bool is_domain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c >= 0x80 || c == '-' || c == '.' || c == '_';
}

/* End of a quoted string starting at s[i] == '"' (RFC 5321 §4.1.2
 * Quoted-string, backslash escapes), bounded by the line: the index after
 * the closing quote, or 0 when it is not closed on this line. */
static size_t quoted_end(const char *s, size_t len, size_t i)
{
    for (size_t k = i + 1; k < len; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c == '\r' || c == '\n')
            return 0;
        if (c == '\\') {
            k++;
            continue;
        }
        if (c == '"')
            return k + 1;
    }
    return 0;
}

/* Does an address's '@' at s[at] have a domain after it (or end the text,
 * so that an address cut at the '@' is hidden too)? */
static bool domain_follows(const char *s, size_t len, size_t at)
{
    return at + 1 >= len || is_domain_start((unsigned char)s[at + 1]);
}

/* Index after the domain that starts at s[i]. */
static size_t domain_end(const char *s, size_t len, size_t i)
{
    if (i < len && s[i] == '[') {
        size_t k = i + 1;
        while (k < len && (is_domain((unsigned char)s[k]) || s[k] == ':'))
            k++;
        return k < len && s[k] == ']' ? k + 1 : k;
    }
    while (i < len && is_domain((unsigned char)s[i]))
        i++;
    return i;
}

void smtpreply_redact_token(const char *local, size_t len, char out[SMTPREPLY_REDACT_TOKEN])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a 64 offset basis */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)local[i];
        h *= 0x100000001b3u; /* FNV-1a 64 prime */
    }
    out[0] = 'h';
    out[1] = '-';
    for (int i = 0; i < 8; i++)
        out[2 + i] = hex[(h >> (60 - 4 * i)) & 0xfu];
    out[10] = '\0';
}

struct sink {
    char *out;
    size_t cap, n;
    bool cut;
};

/* Appends all of s[0..n) or, once anything fails to fit, nothing more. */
static void put(struct sink *k, const char *s, size_t n, bool whole)
{
    if (k->cut)
        return;
    if (k->cap == 0 || n > k->cap - 1 - k->n) {
        if (!whole && k->cap > 0) {
            size_t room = k->cap - 1 - k->n;
            memcpy(k->out + k->n, s, room);
            k->n += room;
        }
        k->cut = true;
        return;
    }
    memcpy(k->out + k->n, s, n);
    k->n += n;
}

size_t smtpreply_redact(const char *text, size_t len, char *out, size_t cap, bool *cut)
{
    struct sink k = {out, cap, 0, false};
    char tok[SMTPREPLY_REDACT_TOKEN];
    size_t i = 0;

    if (!text)
        len = 0;
    while (i < len && !k.cut) {
        unsigned char c = (unsigned char)text[i];
        size_t end = i;
        if (c == '"') {
            end = quoted_end(text, len, i);
            /* Not a quoted local part: go on inside it, since the quotes
             * may hold an address ("bob@example.org" unknown). */
            if (end == 0 || end >= len || text[end] != '@' || !domain_follows(text, len, end)) {
                put(&k, text + i, 1, false);
                i++;
                continue;
            }
        } else if (is_local(c)) {
            while (end < len && is_local((unsigned char)text[end]))
                end++;
        } else {
            put(&k, text + i, 1, false);
            i++;
            continue;
        }
        if (end < len && text[end] == '@' && domain_follows(text, len, end)) {
            size_t dend = domain_end(text, len, end + 1);
            smtpreply_redact_token(text + i, end - i, tok);
            put(&k, tok, SMTPREPLY_REDACT_TOKEN - 1, true);
            put(&k, text + end, dend - end, false);
            i = dend;
        } else {
            put(&k, text + i, end - i, false);
            i = end;
        }
    }
    if (cap > 0)
        out[k.n] = '\0';
    if (cut)
        *cut = k.cut;
    return k.n;
}
