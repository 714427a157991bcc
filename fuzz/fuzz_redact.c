/* SPDX-License-Identifier: MIT */
/*
 * fuzz_redact.c - smtpreply_redact on arbitrary text.
 *
 * Input: byte 0 chooses the output capacity (0: the documented
 * SMTPREPLY_REDACT_CAP, else a small one), the rest is the text.
 *
 * Properties, each checked with abort():
 *  - the text is read within its length (an exactly-sized heap copy) and
 *    the output within its capacity (an exactly-sized heap buffer);
 *  - the output is NUL-terminated at the returned length; with the
 *    documented capacity it is never cut;
 *  - every '@' of the output between a local-part byte and a domain ends
 *    a token (or follows the domain of the address before it, or is
 *    followed by a token): no local part of an address is left;
 *  - a smaller buffer gives a prefix of the full output;
 *  - redacting is deterministic, and text without '@' is copied unchanged.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpreply.h"

static bool alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c >= 0x80;
}

static bool local_byte(unsigned char c)
{
    return alnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL);
}

static bool domain_start(unsigned char c)
{
    return alnum(c) || c == '[';
}

/* A byte of a domain or an address literal ("[IPv6:2001:db8::1]"). */
static bool domain_byte(unsigned char c)
{
    return alnum(c) || c == '-' || c == '.' || c == '_' || c == '[' || c == ':';
}

/* Does "h-" and 8 lower-case hex digits end just before s[at]? */
static bool is_token(const char *s, size_t at)
{
    if (at < 10 || s[at - 10] != 'h' || s[at - 9] != '-')
        return false;
    for (size_t i = at - 8; i < at; i++)
        if (!strchr("0123456789abcdef", s[i]) || s[i] == 0)
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n, cap, full_cap, a, b;
    char *text, *full, *small;
    bool cut_a = true, cut_b = false;

    if (size < 1)
        return 0;
    n = size - 1;
    text = malloc(n ? n : 1);
    full_cap = SMTPREPLY_REDACT_CAP(n);
    full = malloc(full_cap);
    cap = data[0] ? data[0] % 64u : 0;
    small = malloc(cap ? cap : 1);
    if (!text || !full || !small)
        abort();
    memcpy(text, data + 1, n);

    a = smtpreply_redact(text, n, full, full_cap, &cut_a);
    if (cut_a || a >= full_cap || full[a] != '\0')
        abort();
    if (!memchr(text, '@', n) && (a != n || memcmp(full, text, n) != 0))
        abort();
    /* Every '@' of the output between a local-part byte and a domain
     * (or the end) ends a token, unless what stands before it is the
     * domain of an address just before ("a@b@c"). */
    for (size_t i = 1; i < a; i++) {
        size_t k = i;
        if (full[i] != '@' || !local_byte((unsigned char)full[i - 1]) ||
            (i + 1 < a && !domain_start((unsigned char)full[i + 1])))
            continue;
        /* a token ends here, or starts after it ("b@&@d": the first '@'
         * had no domain, "&" was the next local part) */
        if (is_token(full, i) || (i + 11 < a && full[i + 11] == '@' && is_token(full, i + 11)))
            continue;
        while (k > 0 && domain_byte((unsigned char)full[k - 1]))
            k--;
        if (k == 0 || full[k - 1] != '@')
            abort();
    }
    b = smtpreply_redact(text, n, small, cap, &cut_b);
    if (cap == 0) {
        if (b != 0)
            abort();
    } else {
        if (b >= cap || small[b] != '\0' || b > a || memcmp(small, full, b) != 0)
            abort();
        if (!cut_b && (b != a || memcmp(small, full, a) != 0))
            abort();
    }
    {
        char *again = malloc(full_cap);
        if (!again)
            abort();
        if (smtpreply_redact(text, n, again, full_cap, NULL) != a || memcmp(again, full, a) != 0)
            abort();
        free(again);
    }
    free(text);
    free(full);
    free(small);
    return 0;
}
