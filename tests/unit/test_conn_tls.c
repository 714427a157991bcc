/* SPDX-License-Identifier: MIT */
/*
 * test_conn_tls.c - where TLS starts, and decrypted data back in, without
 * any cryptography (the core does none): the session's TLS sink must get
 * each direction's bytes from exactly the byte TLS starts at (STARTTLS:
 * after the client's STARTTLS line and the server's 2xx to it, however
 * the segments split them; implicit TLS: from the first byte), nothing
 * after a refused STARTTLS, and lost bytes as counts.  Decrypted data fed
 * back (smtpreply_session_feed_decrypted, smtpreply_conn_decrypted) must
 * be parsed like plaintext: the events equal those of a session fed the
 * same dialogue in the clear, with tls set on exactly the events read
 * inside TLS.  A toy "TLS" stands in for the decoder: after the two
 * record-header bytes 0x16 0x03, each byte is the plaintext XOR 0x5a.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "smtpreply.h"

/* ---- events as text ---- */
struct rec {
    char s[16384];
    size_t len;
};

static void rec_add(struct rec *r, const char *line, int n)
{
    if (n > 0 && r->len + (size_t)n < sizeof r->s) {
        memcpy(r->s + r->len, line, (size_t)n);
        r->len += (size_t)n;
        r->s[r->len] = 0;
    }
}

static void on_event(void *user, const struct smtpreply_event *ev)
{
    char line[256];
    int n = 0;
    const char *in = ev->tls ? "tls" : "plain";
    switch (ev->type) {
    case SMTPREPLY_EV_COMMAND:
        n = snprintf(line, sizeof line, "C %s %s\n", ev->cmd.verb, in);
        break;
    case SMTPREPLY_EV_REPLY:
        n = snprintf(line, sizeof line, "R %u %s %s %s\n", ev->code,
                     smtpreply_stage_name(ev->stage), ev->has_cmd ? ev->cmd.verb : "-", in);
        break;
    case SMTPREPLY_EV_UNANSWERED:
        n = snprintf(line, sizeof line, "U %s\n", ev->cmd.verb);
        break;
    case SMTPREPLY_EV_ANOMALY:
        n = snprintf(line, sizeof line, "A %s %d\n", smtpreply_anomaly_name(ev->anomaly),
                     (int)ev->dir);
        break;
    case SMTPREPLY_EV_TLS:
        n = snprintf(line, sizeof line, "TLS\n");
        break;
    }
    rec_add(user, line, n);
}

/* ---- what the sink got ---- */
struct sink {
    uint8_t b[2][4096];
    size_t n[2];
    uint64_t missing[2];
    int first_dir; /* direction of the first call, -1 none */
    unsigned calls;
    /* the toy decoder (conn tests): decrypt and hand back at once */
    struct smtpreply_conn *conn;
    size_t done[2]; /* bytes of b[d] already decoded */
};

static void on_tls(void *user, enum smtpreply_dir dir, const uint8_t *data, size_t len,
                   uint64_t missing, int64_t ts, uint64_t tag)
{
    struct sink *k = user;
    int d = dir == SMTPREPLY_DIR_SERVER;
    if (k->calls++ == 0)
        k->first_dir = d;
    k->missing[d] += missing;
    if (len && k->n[d] + len <= sizeof k->b[d]) {
        memcpy(k->b[d] + k->n[d], data, len);
        k->n[d] += len;
    }
    if (k->conn && len) {
        /* Toy TLS: skip the 2-byte header, XOR the rest; the output goes
         * back from inside the hook, as a real decoder's does. */
        uint8_t out[4096];
        size_t m = 0;
        for (size_t i = k->done[d]; i < k->n[d]; i++)
            if (i >= 2)
                out[m++] = k->b[d][i] ^ 0x5a;
        k->done[d] = k->n[d];
        if (m)
            smtpreply_conn_decrypted(k->conn, dir, out, m, ts, tag);
    }
}

static void toy(const char *plain, uint8_t *out, size_t *n)
{
    out[0] = 0x16;
    out[1] = 0x03;
    size_t len = strlen(plain);
    for (size_t i = 0; i < len; i++)
        out[2 + i] = (uint8_t)plain[i] ^ 0x5a;
    *n = len + 2;
}

/* ---- session-level: feed pieces, check the sink ---- */
struct piece {
    bool server;
    const char *text;
    size_t len; /* 0: strlen */
};

static struct smtpreply_session *run(const struct piece *p, size_t np, struct rec *r,
                                     struct sink *k)
{
    memset(k, 0, sizeof *k);
    k->first_dir = -1;
    struct smtpreply_session *s = smtpreply_session_new(NULL, NULL, NULL, on_event, r, 0);
    smtpreply_session_set_tls_sink(s, on_tls, k);
    for (size_t i = 0; i < np; i++)
        smtpreply_session_feed(s, p[i].server ? SMTPREPLY_DIR_SERVER : SMTPREPLY_DIR_CLIENT,
                               (const uint8_t *)p[i].text,
                               p[i].len ? p[i].len : strlen(p[i].text), 0, i + 1);
    return s;
}

#define CH "\x16\x03\x01\x01\x05hello"
#define SH "\x16\x03\x03\x01\x04srvh"

static bool sink_is(const struct sink *k, int d, const char *want)
{
    return k->n[d] == strlen(want) && memcmp(k->b[d], want, k->n[d]) == 0;
}

static void test_starttls_separate_segments(void)
{
    struct piece p[] = {
        {true, "220 mx ESMTP\r\n", 0},
        {false, "EHLO c\r\n", 0},
        {true, "250-mx\r\n250 STARTTLS\r\n", 0},
        {false, "STARTTLS\r\n", 0},
        {true, "220 2.0.0 go ahead\r\n", 0},
        {false, CH, 0},
        {true, SH, 0},
        {false, "\x17\x03\x03\x01\x01x", 0},
    };
    struct rec r = {0};
    struct sink k;
    struct smtpreply_session *s = run(p, sizeof p / sizeof p[0], &r, &k);
    CHECK(sink_is(&k, 0, CH "\x17\x03\x03\x01\x01x"));
    CHECK(sink_is(&k, 1, SH));
    CHECK_EQ_U(k.missing[0] + k.missing[1], 0);
    CHECK(strstr(r.s, "R 220 reply STARTTLS plain\nTLS\n") != NULL);
    const struct smtpreply_session_stats *st = smtpreply_session_stats(s);
    CHECK(st->flags & SMTPREPLY_SESSION_ENCRYPTED);
    CHECK(!(st->flags & SMTPREPLY_SESSION_DECRYPTED));
    CHECK_EQ_U(st->replies, 3);
    smtpreply_session_free(s);
}

static void test_starttls_same_segments(void)
{
    /* The client sends its ClientHello with STARTTLS (before the 220);
     * the server's 220 and its ServerHello share a segment. */
    struct piece p[] = {
        {true, "220 mx ESMTP\r\n", 0},
        {false, "EHLO c\r\nSTARTTLS\r\n" CH, 0},
        {true, "250 mx\r\n220-2.0.0 go\r\n220 ahead\r\n" SH, 0},
    };
    struct rec r = {0};
    struct sink k;
    struct smtpreply_session *s = run(p, sizeof p / sizeof p[0], &r, &k);
    CHECK(sink_is(&k, 0, CH));
    CHECK(sink_is(&k, 1, SH));
    CHECK_EQ_U(k.first_dir, 0); /* the ClientHello before the ServerHello */
    CHECK(strstr(r.s, "R 220 reply STARTTLS plain\n") != NULL);
    CHECK_EQ_U(smtpreply_session_stats(s)->replies, 3);
    smtpreply_session_free(s);

    /* The same, byte by byte. */
    const char *cl = "EHLO c\r\nSTARTTLS\r\n" CH, *sv = "250 mx\r\n220 go\r\n" SH;
    struct rec r2 = {0};
    s = run(p, 1, &r2, &k);
    size_t cn = strlen(cl), sn = strlen(sv);
    for (size_t i = 0, j = 0; i < cn || j < sn;) {
        if (i < cn)
            smtpreply_session_feed(s, SMTPREPLY_DIR_CLIENT, (const uint8_t *)cl + i++, 1, 0, 9);
        if (j < sn && i > 16)
            smtpreply_session_feed(s, SMTPREPLY_DIR_SERVER, (const uint8_t *)sv + j++, 1, 0, 9);
    }
    CHECK(sink_is(&k, 0, CH));
    CHECK(sink_is(&k, 1, SH));
    smtpreply_session_free(s);
}

static void test_starttls_refused(void)
{
    struct piece p[] = {
        {true, "220 mx ESMTP\r\n", 0},
        {false, "EHLO c\r\n", 0},
        {true, "250 mx\r\n", 0},
        {false, "STARTTLS\r\n", 0},
        {true, "454 4.7.0 TLS not available\r\n", 0},
        {false, "MAIL FROM:<a@b.example>\r\n", 0},
        {true, "250 2.1.0 ok\r\n", 0},
    };
    struct rec r = {0};
    struct sink k;
    struct smtpreply_session *s = run(p, sizeof p / sizeof p[0], &r, &k);
    CHECK_EQ_U(k.calls, 0);
    CHECK(strstr(r.s, "R 250 reply MAIL plain") != NULL);
    CHECK(!(smtpreply_session_stats(s)->flags & SMTPREPLY_SESSION_ENCRYPTED));
    /* Decrypted data without TLS is ignored. */
    smtpreply_session_feed_decrypted(s, SMTPREPLY_DIR_SERVER, (const uint8_t *)"250 x\r\n", 7, 0,
                                     1);
    CHECK_EQ_U(smtpreply_session_stats(s)->replies, 4);
    smtpreply_session_free(s);
}

static void test_implicit(void)
{
    struct piece p[] = {
        {false, CH, 0},
        {true, SH, 0},
        {false, "\x17\x03\x03\x01\x01y", 0},
    };
    struct rec r = {0};
    struct sink k;
    struct smtpreply_session *s = run(p, sizeof p / sizeof p[0], &r, &k);
    CHECK(sink_is(&k, 0, CH "\x17\x03\x03\x01\x01y"));
    CHECK(sink_is(&k, 1, SH));
    CHECK_EQ_U(k.first_dir, 0);
    CHECK(smtpreply_session_stats(s)->flags & SMTPREPLY_SESSION_ENCRYPTED);
    /* Decrypted: the greeting comes inside TLS. */
    const char *sv = "220 mx ESMTP\r\n250 mx\r\n", *cl = "EHLO c\r\n";
    smtpreply_session_feed_decrypted(s, SMTPREPLY_DIR_SERVER, (const uint8_t *)sv, 14, 0, 7);
    smtpreply_session_feed_decrypted(s, SMTPREPLY_DIR_CLIENT, (const uint8_t *)cl, 8, 0, 8);
    smtpreply_session_feed_decrypted(s, SMTPREPLY_DIR_SERVER, (const uint8_t *)sv + 14, 8, 0, 9);
    smtpreply_session_feed_decrypted(s, SMTPREPLY_DIR_CLIENT, (const uint8_t *)"QUIT", 4, 0, 10);
    smtpreply_session_finish(s, 0, 11);
    CHECK_EQ_S(r.s, "TLS\nR 220 greeting - tls\nC EHLO tls\nR 250 reply EHLO tls\nC QUIT "
                    "tls\nU QUIT\n");
    const struct smtpreply_session_stats *st = smtpreply_session_stats(s);
    CHECK((st->flags & (SMTPREPLY_SESSION_ENCRYPTED | SMTPREPLY_SESSION_DECRYPTED)) ==
          (SMTPREPLY_SESSION_ENCRYPTED | SMTPREPLY_SESSION_DECRYPTED));
    CHECK_EQ_U(st->replies, 2);
    CHECK_EQ_U(st->commands, 2);
    smtpreply_session_free(s);

    /* A plaintext server meets a TLS client: nothing goes to the sink,
     * the greeting counts as today. */
    struct piece q[] = {
        {false, CH, 0},
        {true, "220 mx ESMTP\r\n", 0},
        {false, "more", 0},
    };
    struct rec r2 = {0};
    s = run(q, 3, &r2, &k);
    smtpreply_session_finish(s, 0, 9);
    CHECK_EQ_U(k.calls, 0);
    CHECK(strstr(r2.s, "R 220 greeting - plain") != NULL);
    CHECK(!(smtpreply_session_stats(s)->flags & SMTPREPLY_SESSION_ENCRYPTED));
    smtpreply_session_free(s);

    /* One-sided: the server never spoke; the client's bytes still go. */
    struct rec r3 = {0};
    s = run(p, 1, &r3, &k);
    CHECK_EQ_U(k.calls, 0);
    smtpreply_session_finish(s, 0, 9);
    CHECK(sink_is(&k, 0, CH));
    CHECK(smtpreply_session_stats(s)->flags & SMTPREPLY_SESSION_ENCRYPTED);
    smtpreply_session_free(s);
}

static void test_gaps_and_no_sink(void)
{
    struct piece p[] = {
        {true, "220 mx ESMTP\r\n", 0},
        {false, "STARTTLS\r\n", 0},
        {true, "220 go\r\n", 0},
        {false, CH, 0},
    };
    struct rec r = {0};
    struct sink k;
    struct smtpreply_session *s = run(p, sizeof p / sizeof p[0], &r, &k);
    smtpreply_session_gap(s, SMTPREPLY_DIR_SERVER, 1000, 0, 9);
    smtpreply_session_feed(s, SMTPREPLY_DIR_SERVER, (const uint8_t *)"\x17\x03", 2, 0, 10);
    CHECK_EQ_U(k.missing[1], 1000);
    CHECK(sink_is(&k, 1, "\x17\x03"));
    /* A gap inside TLS is not the session's (the raw count is the
     * connection's); a gap in the decrypted stream is. */
    CHECK(!(smtpreply_session_stats(s)->flags & SMTPREPLY_SESSION_GAPS));
    smtpreply_session_feed_decrypted(s, SMTPREPLY_DIR_CLIENT, (const uint8_t *)"EHLO c\r\n", 8, 0,
                                     11);
    smtpreply_session_gap_decrypted(s, SMTPREPLY_DIR_SERVER, 1000, 0, 12);
    smtpreply_session_feed_decrypted(s, SMTPREPLY_DIR_SERVER,
                                     (const uint8_t *)"xx\r\n221 bye\r\n", 13, 0, 13);
    const struct smtpreply_session_stats *st = smtpreply_session_stats(s);
    CHECK(st->flags & SMTPREPLY_SESSION_GAPS);
    CHECK_EQ_U(st->missing_bytes[1], 1000);
    CHECK(strstr(r.s, "A gap 1\nR 221 unsolicited - tls\n") != NULL);
    smtpreply_session_free(s);

    /* Without a sink nothing changes from before: TLS stops the session. */
    struct rec r2 = {0};
    s = smtpreply_session_new(NULL, NULL, NULL, on_event, &r2, 0);
    for (size_t i = 0; i < 4; i++)
        smtpreply_session_feed(s, p[i].server, (const uint8_t *)p[i].text, strlen(p[i].text), 0,
                               i);
    smtpreply_session_finish(s, 0, 9);
    CHECK_EQ_S(r2.s,
               "R 220 greeting - plain\nC STARTTLS plain\nR 220 reply STARTTLS plain\nTLS\n");
    smtpreply_session_free(s);
}

/* ---- conn-level: segments in, the toy decoder's output back ---- */

struct seg {
    bool server;
    const char *plain; /* NULL: raw below */
    const char *raw;
    bool toy; /* plain goes through the toy cipher */
    bool lost;
};

/* The dialogue in the clear, for the reference, and in segments. */
static const struct seg starttls_dialogue[] = {
    {true, "220 mx ESMTP\r\n", NULL, false, false},
    {false, "EHLO c\r\n", NULL, false, false},
    {true, "250-mx\r\n250 STARTTLS\r\n", NULL, false, false},
    {false, "STARTTLS\r\n", NULL, false, false},
    {true, "220 2.0.0 go\r\n", NULL, false, false},
    {false, "EHLO c\r\nMAIL FROM:<a@b.example>\r\n", NULL, true, false},
    {true, "250 mx\r\n250 2.1.0 ok\r\n", NULL, true, false},
    {false, "RCPT TO:<x@y.example>\r\n", NULL, true, false},
    {true, "550 5.1.1 no such user\r\n", NULL, true, false},
    {false, "QUIT\r\n", NULL, true, false},
    {true, "221 2.0.0 bye\r\n", NULL, true, false},
};
#define NSEG (sizeof starttls_dialogue / sizeof starttls_dialogue[0])

static struct smtpreply_conn *conn_run(const struct seg *d, size_t nd, struct rec *r,
                                       struct sink *k, bool hook, size_t lose)
{
    memset(k, 0, sizeof *k);
    k->first_dir = -1;
    struct smtpreply_conn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    smtpreply_limits_default(&cfg.limits);
    cfg.port_kind_b = SMTPREPLY_PORT_SMTP;
    if (hook) {
        cfg.tls_bytes = on_tls;
        cfg.tls_user = k;
    }
    struct smtpreply_conn *c = smtpreply_conn_new(&cfg, NULL, NULL, on_event, r);
    k->conn = c;
    uint32_t seq[2] = {1001, 5001};
    smtpreply_conn_segment(c, false, 1000, SMTPREPLY_TCP_SYN, NULL, 0, 0, 0);
    smtpreply_conn_segment(c, true, 5000, SMTPREPLY_TCP_SYN | SMTPREPLY_TCP_ACK, NULL, 0, 0, 0);
    bool started[2] = {false, false};
    for (size_t i = 0; i < nd; i++) {
        int e = d[i].server;
        uint8_t buf[512];
        size_t n;
        if (d[i].toy) {
            /* The first protected bytes of a direction carry the header. */
            toy(d[i].plain, buf, &n);
            if (started[e]) {
                memmove(buf, buf + 2, n - 2);
                n -= 2;
            }
            started[e] = true;
        } else {
            n = strlen(d[i].plain);
            memcpy(buf, d[i].plain, n);
        }
        if (i != lose)
            smtpreply_conn_segment(c, e, seq[e], SMTPREPLY_TCP_ACK, buf, n, 0, i + 10);
        seq[e] += (uint32_t)n;
    }
    smtpreply_conn_segment(c, false, seq[0], SMTPREPLY_TCP_FIN | SMTPREPLY_TCP_ACK, NULL, 0, 0,
                           98);
    smtpreply_conn_segment(c, true, seq[1], SMTPREPLY_TCP_FIN | SMTPREPLY_TCP_ACK, NULL, 0, 0,
                           99);
    smtpreply_conn_finish(c, 0, 100);
    return c;
}

/* got without the TLS event and with "tls" read as "plain". */
static void as_plain(const char *in, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = in; *p && n + 8 < size;) {
        if (strncmp(p, "TLS\n", 4) == 0) {
            p += 4;
        } else if (strncmp(p, " tls\n", 5) == 0) {
            memcpy(out + n, " plain\n", 7);
            n += 7;
            p += 5;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = 0;
}

static void test_conn_decrypted(void)
{
    /* Reference: the same dialogue in the clear, fed to a session (its
     * probe after the STARTTLS 220 sees plaintext and goes on). */
    struct rec want = {0}, got = {0};
    struct smtpreply_session *s = smtpreply_session_new(NULL, NULL, NULL, on_event, &want, 0);
    for (size_t i = 0; i < NSEG; i++) {
        const struct seg *g = &starttls_dialogue[i];
        smtpreply_session_feed(s, g->server, (const uint8_t *)g->plain, strlen(g->plain), 0,
                               i + 10);
    }
    smtpreply_session_finish(s, 0, 100);
    smtpreply_session_free(s);
    struct sink k;
    struct smtpreply_conn *c = conn_run(starttls_dialogue, NSEG, &got, &k, true, (size_t)-1);
    CHECK(strstr(got.s, "R 220 reply STARTTLS plain\nTLS\nC EHLO tls\nC MAIL tls\nR 250 reply "
                        "EHLO tls\nR 250 reply MAIL tls\nC RCPT tls\nR 550 reply RCPT tls\nC "
                        "QUIT tls\nR 221 reply QUIT tls\n") != NULL);
    char plain[sizeof got.s];
    as_plain(got.s, plain, sizeof plain);
    CHECK_EQ_S(plain, want.s);
    const struct smtpreply_session_stats *st = smtpreply_session_stats(smtpreply_conn_session(c));
    CHECK_EQ_U(st->replies, 7);
    CHECK(st->flags & SMTPREPLY_SESSION_DECRYPTED);
    CHECK(!(st->flags & SMTPREPLY_SESSION_GAPS));
    CHECK_EQ_U(st->unanswered, 0);
    smtpreply_conn_free(c);

    /* A lost server segment inside TLS: the decrypted stream gets a gap,
     * replies before it stay, the session resynchronises. */
    struct rec got3 = {0};
    c = conn_run(starttls_dialogue, NSEG, &got3, &k, true, 8);
    st = smtpreply_session_stats(smtpreply_conn_session(c));
    CHECK(st->flags & SMTPREPLY_SESSION_GAPS);
    CHECK(strstr(got3.s, "R 250 reply MAIL tls\n") != NULL);
    CHECK(strstr(got3.s, "R 550") == NULL);
    CHECK(strstr(got3.s, "A gap 1\n") != NULL);
    CHECK(strstr(got3.s, "A gap 1\nR 221 unsolicited - tls\n") != NULL);
    CHECK_EQ_U(st->replies, 6); /* 220 250 220 250 250, and 221 after the gap */
    smtpreply_conn_free(c);
}

static void test_conn_decrypted_outside_hook(void)
{
    /* Plugin style: no hook; after the segments of the STARTTLS exchange,
     * decrypted data comes from the caller between segments. */
    struct rec got = {0};
    struct smtpreply_conn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    smtpreply_limits_default(&cfg.limits);
    cfg.port_kind_b = SMTPREPLY_PORT_SMTP;
    struct smtpreply_conn *c = smtpreply_conn_new(&cfg, NULL, NULL, on_event, &got);
    uint32_t seq[2] = {1001, 5001};
    smtpreply_conn_segment(c, false, 1000, SMTPREPLY_TCP_SYN, NULL, 0, 0, 0);
    smtpreply_conn_segment(c, true, 5000, SMTPREPLY_TCP_SYN | SMTPREPLY_TCP_ACK, NULL, 0, 0, 0);
    for (size_t i = 0; i < NSEG; i++) {
        const struct seg *g = &starttls_dialogue[i];
        int e = g->server;
        uint8_t buf[512];
        size_t n;
        if (g->toy) {
            toy(g->plain, buf, &n);
        } else {
            n = strlen(g->plain);
            memcpy(buf, g->plain, n);
        }
        smtpreply_conn_segment(c, e, seq[e], SMTPREPLY_TCP_ACK, buf, n, 0, i + 10);
        seq[e] += (uint32_t)n;
        if (g->toy)
            smtpreply_conn_decrypted(c, e ? SMTPREPLY_DIR_SERVER : SMTPREPLY_DIR_CLIENT,
                                     (const uint8_t *)g->plain, strlen(g->plain), 0, i + 10);
    }
    smtpreply_conn_finish(c, 0, 100);
    const struct smtpreply_session_stats *st = smtpreply_session_stats(smtpreply_conn_session(c));
    CHECK_EQ_U(st->replies, 7);
    CHECK(strstr(got.s, "R 550 reply RCPT tls\n") != NULL);
    /* After finish, nothing more is taken. */
    smtpreply_conn_decrypted(c, SMTPREPLY_DIR_SERVER, (const uint8_t *)"250 x\r\n", 7, 0, 200);
    CHECK_EQ_U(st->replies, 7);
    smtpreply_conn_free(c);
}

int main(void)
{
    test_starttls_separate_segments();
    test_starttls_same_segments();
    test_starttls_refused();
    test_implicit();
    test_gaps_and_no_sink();
    test_conn_decrypted();
    test_conn_decrypted_outside_hook();
    return CHECK_DONE();
}
