/* SPDX-License-Identifier: MIT */
/*
 * detect.c - deciding whether a TCP stream is SMTP from its first bytes,
 * through SOCKS5 and HTTP CONNECT tunnels, and noticing implicit TLS.
 * Pure functions: no state, no allocation (detect.h).
 */
#include <string.h>

#include "detect.h"

/* A line longer than this at the start of a stream is not a greeting or a
 * HELO: RFC 5321 §4.5.3.1 allows 512 octets; be lenient, not unbounded. */
#define DETECT_LINE_MAX 1000u
/* An HTTP CONNECT request or response head longer than this is not one
 * worth waiting for. */
#define DETECT_HTTP_HEAD_MAX 4096u

#define NEED(k)                                      \
    do {                                             \
        if (n < (size_t)(k))                         \
            return ended ? DETECT_NO : DETECT_MAYBE; \
    } while (0)

static uint8_t upper(uint8_t c)
{
    return (c >= 'a' && c <= 'z') ? (uint8_t)(c - 32) : c;
}

/* Text from `from` to the first LF: printable (UTF-8 allowed), TAB, CR
 * only right before LF. */
static enum detect_match line_rest(const uint8_t *p, size_t n, size_t from, bool ended)
{
    for (size_t i = from; i < n; i++) {
        uint8_t c = p[i];
        if (c == '\n')
            return DETECT_YES;
        if (i >= DETECT_LINE_MAX)
            return DETECT_NO;
        if (c == '\r') {
            if (i + 1 < n && p[i + 1] != '\n')
                return DETECT_NO;
            continue;
        }
        if (c < 0x20 && c != '\t')
            return DETECT_NO;
        if (c == 0x7f)
            return DETECT_NO;
    }
    return ended ? DETECT_NO : DETECT_MAYBE;
}

/* Does p[0..n) start like `word` (case-insensitive)?  YES: whole word. */
static enum detect_match prefix_ci(const uint8_t *p, size_t n, const char *word)
{
    size_t wl = strlen(word);
    for (size_t i = 0; i < wl; i++) {
        if (i >= n)
            return DETECT_MAYBE;
        if (upper(p[i]) != (uint8_t)word[i])
            return DETECT_NO;
    }
    return DETECT_YES;
}

enum detect_match detect_greeting(const uint8_t *p, size_t n, bool ended)
{
    /* Which codes greet is the knowledge base's (smtpreply_code_is_greeting);
     * with fewer than three digits so far, any greeting code that starts
     * with them keeps the answer open. */
    unsigned code = 0;
    size_t k;
    for (k = 0; k < 3 && k < n; k++) {
        if (p[k] < '0' || p[k] > '9')
            return DETECT_NO;
        code = code * 10 + (unsigned)(p[k] - '0');
    }
    unsigned span = k == 3 ? 1 : k == 2 ? 10 : k == 1 ? 100 : 1000;
    bool any = false;
    for (unsigned c = code * span; c < (code + 1) * span && !any; c++)
        any = smtpreply_code_is_greeting(c);
    if (!any)
        return DETECT_NO;
    NEED(4);
    uint8_t sep = p[3];
    if (sep == ' ' || sep == '-')
        return line_rest(p, n, 4, ended);
    if (sep == '\r' || sep == '\n')
        return line_rest(p, n, 3, ended);
    return DETECT_NO;
}

enum detect_match detect_helo(const uint8_t *p, size_t n, bool ended)
{
    enum detect_match h = prefix_ci(p, n, "HELO"), e = prefix_ci(p, n, "EHLO");
    if (h == DETECT_NO && e == DETECT_NO)
        return DETECT_NO;
    NEED(5);
    uint8_t sep = p[4];
    if (sep != ' ' && sep != '\r' && sep != '\n')
        return DETECT_NO;
    return line_rest(p, n, 4, ended);
}

enum detect_match detect_smtp_client_line(const uint8_t *p, size_t n, bool ended)
{
    /* What a client may say first after a greeting (RFC 5321 §4.1.1; LHLO
     * is LMTP's, RFC 2033; STARTTLS and AUTH right away are misbehaving
     * but SMTP). */
    static const char *const verbs[] = {"HELO", "EHLO",     "LHLO", "QUIT", "NOOP", "RSET",
                                        "HELP", "STARTTLS", "AUTH", "MAIL", "VRFY", "EXPN"};
    size_t vl = 0;
    while (vl < n && vl < 9 && ((p[vl] >= 'A' && p[vl] <= 'Z') || (p[vl] >= 'a' && p[vl] <= 'z')))
        vl++;
    bool maybe = false;
    for (size_t k = 0; k < sizeof verbs / sizeof verbs[0]; k++) {
        size_t wl = strlen(verbs[k]);
        enum detect_match m = prefix_ci(p, vl, verbs[k]);
        if (m == DETECT_MAYBE && vl == n)
            maybe = true;
        if (m == DETECT_YES && vl == wl) {
            if (vl == n)
                return ended ? DETECT_NO : DETECT_MAYBE;
            uint8_t sep = p[vl];
            if (sep != ' ' && sep != '\r' && sep != '\n')
                return DETECT_NO;
            return line_rest(p, n, vl, ended);
        }
    }
    return (maybe && !ended) ? DETECT_MAYBE : DETECT_NO;
}

enum detect_match detect_tls(const uint8_t *p, size_t n, bool ended)
{
    NEED(1);
    if (p[0] != 0x16)
        return DETECT_NO;
    NEED(2);
    return p[1] == 0x03 ? DETECT_YES : DETECT_NO;
}

/* SOCKS5 address of type atyp at p[i]: its length through the port. */
static enum detect_match socks_addr(const uint8_t *p, size_t n, bool ended, size_t i, size_t *end)
{
    NEED(i + 1);
    size_t alen;
    switch (p[i]) {
    case 0x01:
        alen = 4;
        break; /* IPv4 */
    case 0x04:
        alen = 16;
        break; /* IPv6 */
    case 0x03: /* domain name: length byte then name */
        NEED(i + 2);
        if (p[i + 1] == 0)
            return DETECT_NO;
        alen = 1u + p[i + 1];
        break;
    default:
        return DETECT_NO;
    }
    NEED(i + 1 + alen + 2);
    *end = i + 1 + alen + 2;
    return DETECT_YES;
}

enum detect_match detect_socks5_client(const uint8_t *p, size_t n, bool ended, size_t *hs)
{
    /* RFC 1928 §3: VER=5 NMETHODS METHODS... */
    NEED(1);
    if (p[0] != 0x05)
        return DETECT_NO;
    NEED(2);
    if (p[1] == 0)
        return DETECT_NO;
    size_t i = 2u + p[1];
    NEED(i + 1);
    if (p[i] == 0x01) {
        /* RFC 1929 §2: VER=1 ULEN UNAME PLEN PASSWD */
        NEED(i + 2);
        i += 2u + p[i + 1];
        NEED(i + 1);
        i += 1u + p[i];
        NEED(i + 1);
    }
    /* RFC 1928 §4: VER=5 CMD=1 (CONNECT) RSV=0 ATYP DST.ADDR DST.PORT */
    if (p[i] != 0x05)
        return DETECT_NO;
    NEED(i + 2);
    if (p[i + 1] != 0x01)
        return DETECT_NO;
    NEED(i + 3);
    if (p[i + 2] != 0x00)
        return DETECT_NO;
    return socks_addr(p, n, ended, i + 3, hs);
}

enum detect_match detect_socks5_server(const uint8_t *p, size_t n, bool ended, size_t *hs)
{
    /* RFC 1928 §3: VER=5 METHOD (0: none, 2: username/password) */
    NEED(1);
    if (p[0] != 0x05)
        return DETECT_NO;
    NEED(2);
    size_t i = 2;
    if (p[1] == 0x02) {
        /* RFC 1929 §2: VER=1 STATUS=0 */
        NEED(3);
        if (p[2] != 0x01)
            return DETECT_NO;
        NEED(4);
        if (p[3] != 0x00)
            return DETECT_NO;
        i = 4;
    } else if (p[1] != 0x00) {
        return DETECT_NO;
    }
    /* RFC 1928 §6: VER=5 REP=0 (succeeded) RSV=0 ATYP BND.ADDR BND.PORT */
    NEED(i + 1);
    if (p[i] != 0x05)
        return DETECT_NO;
    NEED(i + 2);
    if (p[i + 1] != 0x00)
        return DETECT_NO;
    NEED(i + 3);
    if (p[i + 2] != 0x00)
        return DETECT_NO;
    return socks_addr(p, n, ended, i + 3, hs);
}

/* An HTTP head from `from`: printable lines up to an empty line. */
static enum detect_match http_head_end(const uint8_t *p, size_t n, bool ended, size_t from,
                                       size_t *hs)
{
    for (size_t i = from; i < n; i++) {
        if (i >= DETECT_HTTP_HEAD_MAX)
            return DETECT_NO;
        uint8_t c = p[i];
        if (c == '\n') {
            if (i + 1 < n && p[i + 1] == '\n') {
                *hs = i + 2;
                return DETECT_YES;
            }
            if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n') {
                *hs = i + 3;
                return DETECT_YES;
            }
            continue;
        }
        if (c == '\r' || c == '\t')
            continue;
        if (c < 0x20 || c == 0x7f)
            return DETECT_NO;
    }
    return ended ? DETECT_NO : DETECT_MAYBE;
}

enum detect_match detect_connect_request(const uint8_t *p, size_t n, bool ended, size_t *hs)
{
    /* Methods are case-sensitive (RFC 9110 §9.1). */
    static const char m[] = "CONNECT ";
    for (size_t i = 0; i < sizeof m - 1; i++) {
        NEED(i + 1);
        if (p[i] != (uint8_t)m[i])
            return DETECT_NO;
    }
    return http_head_end(p, n, ended, sizeof m - 1, hs);
}

enum detect_match detect_connect_response(const uint8_t *p, size_t n, bool ended, size_t *hs)
{
    static const char v[] = "HTTP/1.";
    for (size_t i = 0; i < sizeof v - 1; i++) {
        NEED(i + 1);
        if (p[i] != (uint8_t)v[i])
            return DETECT_NO;
    }
    NEED(8);
    if (p[7] < '0' || p[7] > '9')
        return DETECT_NO;
    NEED(9);
    if (p[8] != ' ')
        return DETECT_NO;
    /* A 2xx status opens the tunnel (RFC 9110 §9.3.6). */
    NEED(10);
    if (p[9] != '2')
        return DETECT_NO;
    for (size_t i = 10; i < 12; i++) {
        NEED(i + 1);
        if (p[i] < '0' || p[i] > '9')
            return DETECT_NO;
    }
    return http_head_end(p, n, ended, 12, hs);
}

/* ---------------------------------------------------------------------- */

static enum detect_match best(enum detect_match a, enum detect_match b)
{
    return a > b ? a : b;
}

/* The start of an SMTP dialogue, server bytes s and client bytes c. */
static enum detect_match smtp_start(const uint8_t *s, size_t sn, bool s_end, const uint8_t *c,
                                    size_t cn, bool c_end)
{
    /* A server that has not spoken (or never will: one-sided capture)
     * leaves the decision to the client's HELO. */
    enum detect_match g = sn == 0 ? DETECT_MAYBE : detect_greeting(s, sn, s_end);
    if (g == DETECT_YES) {
        /* An FTP server greets with 220 too: if the client has spoken,
         * its first line must be SMTP. */
        if (cn == 0)
            return c_end ? DETECT_YES : DETECT_MAYBE;
        return detect_smtp_client_line(c, cn, c_end);
    }
    if (g == DETECT_NO)
        return DETECT_NO;
    enum detect_match h = detect_helo(c, cn, c_end);
    if (h == DETECT_NO && cn == 0)
        return DETECT_MAYBE; /* the server may still greet */
    return h;
}

struct hyp {
    size_t skip_s, skip_c;
    bool tunnel;
};

/* Is endpoint srv the server of an SMTP dialogue, maybe behind a proxy? */
static enum detect_match hypothesis(const struct detect_input *in, int srv, struct hyp *h)
{
    int cli = 1 - srv;
    const uint8_t *s = in->buf[srv], *c = in->buf[cli];
    size_t sn = in->len[srv], cn = in->len[cli];
    bool se = in->ended[srv], ce = in->ended[cli];
    memset(h, 0, sizeof *h);

    enum detect_match direct = smtp_start(s, sn, se, c, cn, ce);
    if (direct == DETECT_YES)
        return DETECT_YES;

    enum detect_match result = direct;
    for (int kind = 0; kind < 2; kind++) {
        size_t hc = 0, hs = 0;
        enum detect_match mc = kind == 0 ? detect_socks5_client(c, cn, ce, &hc)
                                         : detect_connect_request(c, cn, ce, &hc);
        if (mc != DETECT_YES) {
            result = best(result, mc);
            continue;
        }
        enum detect_match ms;
        if (sn == 0 && se)
            ms = DETECT_YES; /* one-sided capture: only the client's half */
        else
            ms = kind == 0 ? detect_socks5_server(s, sn, se, &hs)
                           : detect_connect_response(s, sn, se, &hs);
        if (ms != DETECT_YES) {
            result = best(result, ms);
            continue;
        }
        /* A side with no bytes yet may be NULL: no arithmetic on it. */
        enum detect_match inner =
            smtp_start(s ? s + hs : s, sn - hs, se, c ? c + hc : c, cn - hc, ce);
        if (inner == DETECT_YES) {
            h->skip_s = hs;
            h->skip_c = hc;
            h->tunnel = true;
            return DETECT_YES;
        }
        result = best(result, inner);
    }
    return result;
}

/* A port says SMTP (or implicit TLS): only roles, TLS and midstream to settle. */
static void decide_smtp_port(const struct detect_input *in, struct detect_result *out)
{
    int srv = in->server;
    if (srv < 0) {
        for (int x = 0; x < 2 && srv < 0; x++) {
            if (detect_greeting(in->buf[x], in->len[x], in->ended[x]) == DETECT_YES)
                srv = x;
            else if (detect_helo(in->buf[x], in->len[x], in->ended[x]) == DETECT_YES)
                srv = 1 - x;
        }
        if (srv < 0) {
            if (!(in->ended[0] && in->ended[1]))
                return;
            srv = 1; /* nothing tells: A sent the first segment, like a client */
        }
    }
    int cli = 1 - srv;
    out->server = srv;
    const uint8_t *s = in->buf[srv], *c = in->buf[cli];
    size_t sn = in->len[srv], cn = in->len[cli];
    bool se = in->ended[srv], ce = in->ended[cli];

    enum detect_match ts = detect_tls(s, sn, se), tc = detect_tls(c, cn, ce);
    if (ts == DETECT_YES) {
        /* The server answers in TLS: implicit TLS (port 465 style). */
        out->implicit_tls = true;
        out->state = SMTPREPLY_CONN_SMTP;
        return;
    }
    if (ts == DETECT_MAYBE) {
        /* The server has said nothing yet (or one 0x16 byte).  A client
         * that opens with TLS may still meet a plaintext greeting (port
         * 465 servers that do not speak TLS): wait for the server. */
        if (sn > 0 || tc != DETECT_NO || !in->saw_syn)
            return;
        out->state = SMTPREPLY_CONN_SMTP;
        return;
    }
    if (sn == 0) {
        /* The server never spoke (one-sided capture). */
        out->implicit_tls = tc == DETECT_YES;
        out->midstream = !in->saw_syn && detect_helo(c, cn, true) != DETECT_YES;
        out->state = SMTPREPLY_CONN_SMTP;
        return;
    }
    if (!in->saw_syn) {
        /* Without the handshake, a greeting says the start was seen. */
        enum detect_match g = detect_greeting(s, sn, se);
        if (g == DETECT_MAYBE)
            return;
        out->midstream = g != DETECT_YES;
    }
    out->state = SMTPREPLY_CONN_SMTP;
}

void detect_decide(const struct detect_input *in, struct detect_result *out)
{
    memset(out, 0, sizeof *out);
    out->state = SMTPREPLY_CONN_UNDECIDED;
    out->server = in->server;
    if (in->kind != SMTPREPLY_PORT_OTHER) {
        decide_smtp_port(in, out);
        return;
    }
    enum detect_match overall = DETECT_NO;
    for (int srv = 0; srv < 2; srv++) {
        if (in->server >= 0 && srv != in->server)
            continue;
        struct hyp h;
        enum detect_match m = hypothesis(in, srv, &h);
        if (m == DETECT_YES) {
            out->state = SMTPREPLY_CONN_SMTP;
            out->server = srv;
            out->skip[srv] = h.skip_s;
            out->skip[1 - srv] = h.skip_c;
            out->tunnel = h.tunnel;
            return;
        }
        overall = best(overall, m);
    }
    if (overall == DETECT_NO || (in->ended[0] && in->ended[1]))
        out->state = SMTPREPLY_CONN_NOT_SMTP;
}
