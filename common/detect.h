/* SPDX-License-Identifier: MIT */
/*
 * detect.h - is this TCP stream SMTP?  Pure functions over the first bytes
 * of each direction (internal to the connection layer; the rules are in
 * docs/tcp-and-detection.md and docs/contracts.md, "Which streams are
 * SMTP").
 *
 * Every matcher answers NO, MAYBE (a prefix of a match: more bytes could
 * decide) or YES.  `ended` says no more bytes will come for that side (its
 * stream closed or its detection buffer is full): with ended set, a
 * matcher never answers MAYBE.
 */
#ifndef SMTPREPLY_DETECT_H
#define SMTPREPLY_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtpreply.h"

enum detect_match { DETECT_NO, DETECT_MAYBE, DETECT_YES };

/* A greeting-like first server line: 220, 421, 521 or 554, then SP, '-'
 * or the line end, printable text, and LF within the bytes. */
enum detect_match detect_greeting(const uint8_t *p, size_t n, bool ended);
/* HELO or EHLO (any case), then SP or the line end, printable, LF. */
enum detect_match detect_helo(const uint8_t *p, size_t n, bool ended);
/* A first client line a real SMTP client sends after a greeting (HELO,
 * EHLO, QUIT, NOOP, RSET, ...): tells an SMTP greeting from an FTP one. */
enum detect_match detect_smtp_client_line(const uint8_t *p, size_t n, bool ended);
/* A TLS record header: 0x16 (handshake) then 0x03 (major version). */
enum detect_match detect_tls(const uint8_t *p, size_t n, bool ended);
/* SOCKS5 (RFC 1928, RFC 1929) handshakes; YES sets *hs to its length. */
enum detect_match detect_socks5_client(const uint8_t *p, size_t n, bool ended, size_t *hs);
enum detect_match detect_socks5_server(const uint8_t *p, size_t n, bool ended, size_t *hs);
/* HTTP CONNECT (RFC 9110 §9.3.6): request, and a 2xx response; YES sets
 * *hs to the length through the blank line. */
enum detect_match detect_connect_request(const uint8_t *p, size_t n, bool ended, size_t *hs);
enum detect_match detect_connect_response(const uint8_t *p, size_t n, bool ended, size_t *hs);

struct detect_input {
    const uint8_t *buf[2]; /* first bytes of endpoint A (0) and B (1) */
    size_t len[2];
    bool ended[2];
    int server;                    /* 0 or 1 when known (SYN, port), -1 otherwise */
    enum smtpreply_port_kind kind; /* the strongest of the two ports' kinds */
    bool saw_syn;
};

struct detect_result {
    enum smtpreply_conn_state state; /* UNDECIDED: wait for more bytes */
    int server;                      /* endpoint that is the server (SMTP) */
    size_t skip[2];                  /* proxy handshake bytes not fed to the session */
    bool tunnel;
    bool midstream;
    bool implicit_tls;
};

/* Decides from the bytes so far.  With both sides ended the answer is
 * final (never UNDECIDED). */
void detect_decide(const struct detect_input *in, struct detect_result *out);

#endif
