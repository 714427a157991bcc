/* SPDX-License-Identifier: MIT */
/*
 * test_conn.c - the connection layer: TCP reassembly (in order, out of
 * order, retransmission, overlap, sequence wrap, lost segments, caps) and
 * SMTP detection (ports, content, tunnels, TLS), checked through the
 * replies the session reports.  The expected reply codes come from the
 * dialogue each test builds, not from running the code.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "smtpreply.h"

struct seen {
    unsigned codes[64];
    const char *verbs[64];
    size_t n;
    unsigned commands;
    unsigned gaps;
    unsigned tls;
};

static void on_event(void *user, const struct smtpreply_event *ev)
{
    struct seen *s = user;
    if (ev->type == SMTPREPLY_EV_REPLY && s->n < 64) {
        s->codes[s->n++] = ev->code;
    } else if (ev->type == SMTPREPLY_EV_COMMAND) {
        s->commands++;
    } else if (ev->type == SMTPREPLY_EV_ANOMALY && ev->anomaly == SMTPREPLY_ANOM_GAP) {
        s->gaps++;
    } else if (ev->type == SMTPREPLY_EV_TLS) {
        s->tls++;
    }
}

static const char SERVER[] =
    "220 mx.example.org ESMTP\r\n"
    "250-mx.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
    "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n250 2.0.0 queued\r\n221 2.0.0 Bye\r\n";
static const char CLIENT[] = "EHLO c.example\r\n"
                             "MAIL FROM:<a@c.example>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
                             "Subject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n";
static const unsigned WANT[] = {220, 250, 250, 250, 354, 250, 221};
#define NWANT (sizeof WANT / sizeof WANT[0])

/* A segment plan: which bytes of which side, in which order. */
struct seg {
    bool from_server;
    size_t off, len;
};

static struct smtpreply_conn *new_conn(struct seen *s, enum smtpreply_port_kind server_port,
                                       uint32_t max_reasm)
{
    struct smtpreply_conn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    smtpreply_limits_default(&cfg.limits);
    if (max_reasm)
        cfg.limits.max_reasm = max_reasm;
    cfg.port_kind_b = server_port; /* B = the server, A = the client */
    memset(s, 0, sizeof *s);
    return smtpreply_conn_new(&cfg, NULL, NULL, on_event, s);
}

static const uint32_t CISN = 1000, SISN = 0xfffffff0u; /* the server's wraps */

static void handshake(struct smtpreply_conn *c)
{
    smtpreply_conn_segment(c, false, CISN, SMTPREPLY_TCP_SYN, NULL, 0, 0, 1);
    smtpreply_conn_segment(c, true, SISN, SMTPREPLY_TCP_SYN | SMTPREPLY_TCP_ACK, NULL, 0, 0, 2);
}

static void send(struct smtpreply_conn *c, const struct seg *g, uint64_t tag)
{
    const char *buf = g->from_server ? SERVER : CLIENT;
    uint32_t isn = g->from_server ? SISN : CISN;
    smtpreply_conn_segment(c, g->from_server, isn + 1 + (uint32_t)g->off, SMTPREPLY_TCP_ACK,
                           (const uint8_t *)buf + g->off, g->len, (int64_t)tag, tag);
}

static bool same_codes(const struct seen *s)
{
    if (s->n != NWANT)
        return false;
    for (size_t i = 0; i < NWANT; i++) {
        if (s->codes[i] != WANT[i])
            return false;
    }
    return true;
}

/* Sends the dialogue line by line, alternating as a real exchange does,
 * each side's bytes cut into pieces of `piece` bytes. */
static size_t plan_dialogue(struct seg *plan, size_t piece)
{
    /* Offsets of the reply / command groups in SERVER / CLIENT. */
    static const size_t s_ends[] = {26, 26 + 54, 0}; /* greeting, EHLO reply */
    size_t n = 0, so = 0, co = 0;
    size_t slen = strlen(SERVER), clen = strlen(CLIENT);
    (void)s_ends;
    /* greeting */
    size_t g = strstr(SERVER, "\r\n") - SERVER + 2;
    for (size_t o = so; o < g; o += piece)
        plan[n++] = (struct seg){true, o, (o + piece < g ? piece : g - o)};
    so = g;
    /* EHLO */
    size_t e = strstr(CLIENT, "\r\n") - CLIENT + 2;
    for (size_t o = co; o < e; o += piece)
        plan[n++] = (struct seg){false, o, (o + piece < e ? piece : e - o)};
    co = e;
    /* EHLO reply */
    size_t er = strstr(SERVER, "8BITMIME\r\n") - SERVER + 10;
    for (size_t o = so; o < er; o += piece)
        plan[n++] = (struct seg){true, o, (o + piece < er ? piece : er - o)};
    so = er;
    /* MAIL RCPT DATA pipelined */
    size_t d = strstr(CLIENT, "DATA\r\n") - CLIENT + 6;
    for (size_t o = co; o < d; o += piece)
        plan[n++] = (struct seg){false, o, (o + piece < d ? piece : d - o)};
    co = d;
    size_t r354 = strstr(SERVER, "354 go ahead\r\n") - SERVER + 14;
    for (size_t o = so; o < r354; o += piece)
        plan[n++] = (struct seg){true, o, (o + piece < r354 ? piece : r354 - o)};
    so = r354;
    size_t dot = strstr(CLIENT, "\r\n.\r\n") - CLIENT + 5;
    for (size_t o = co; o < dot; o += piece)
        plan[n++] = (struct seg){false, o, (o + piece < dot ? piece : dot - o)};
    co = dot;
    size_t q = strstr(SERVER, "queued\r\n") - SERVER + 8;
    for (size_t o = so; o < q; o += piece)
        plan[n++] = (struct seg){true, o, (o + piece < q ? piece : q - o)};
    so = q;
    for (size_t o = co; o < clen; o += piece)
        plan[n++] = (struct seg){false, o, (o + piece < clen ? piece : clen - o)};
    for (size_t o = so; o < slen; o += piece)
        plan[n++] = (struct seg){true, o, (o + piece < slen ? piece : slen - o)};
    return n;
}

static void test_in_order_any_piece_size(void)
{
    struct seg plan[512];
    for (size_t piece = 1; piece <= 64; piece *= 2) {
        struct seen s;
        struct smtpreply_conn *c = new_conn(&s, SMTPREPLY_PORT_SMTP, 0);
        size_t n = plan_dialogue(plan, piece);
        handshake(c);
        for (size_t i = 0; i < n; i++)
            send(c, &plan[i], 10 + i);
        smtpreply_conn_finish(c, 999, 999);
        CHECK(same_codes(&s));
        CHECK_EQ_U(s.gaps, 0);
        struct smtpreply_conn_stats st;
        smtpreply_conn_stats(c, &st);
        CHECK(st.state == SMTPREPLY_CONN_SMTP && st.server_is_b && st.saw_syn);
        smtpreply_conn_free(c);
    }
}

/* Swaps neighbours of the same side: each swapped pair arrives out of
 * order, and the reassembler must put it back. */
static void test_out_of_order(void)
{
    struct seg plan[512];
    struct seen s;
    struct smtpreply_conn *c = new_conn(&s, SMTPREPLY_PORT_SMTP, 0);
    size_t n = plan_dialogue(plan, 7);
    for (size_t i = 0; i + 1 < n; i += 2) {
        if (plan[i].from_server == plan[i + 1].from_server) {
            struct seg t = plan[i];
            plan[i] = plan[i + 1];
            plan[i + 1] = t;
        }
    }
    handshake(c);
    for (size_t i = 0; i < n; i++)
        send(c, &plan[i], 10 + i);
    smtpreply_conn_finish(c, 999, 999);
    struct smtpreply_conn_stats st;
    smtpreply_conn_stats(c, &st);
    CHECK(same_codes(&s));
    CHECK(st.out_of_order > 0);
    CHECK_EQ_U(st.gaps, 0);
    smtpreply_conn_free(c);
}

/* Every segment twice, and every other one also overlapping its
 * neighbour: nothing may be counted twice. */
static void test_retransmission_and_overlap(void)
{
    struct seg plan[512];
    struct seen s;
    struct smtpreply_conn *c = new_conn(&s, SMTPREPLY_PORT_SMTP, 0);
    size_t n = plan_dialogue(plan, 9);
    handshake(c);
    for (size_t i = 0; i < n; i++) {
        send(c, &plan[i], 10 + i);
        send(c, &plan[i], 10 + i); /* retransmission */
        if (plan[i].off >= 3) {
            /* overlap: 3 old bytes and the segment again */
            struct seg o = {plan[i].from_server, plan[i].off - 3, plan[i].len + 3};
            send(c, &o, 10 + i);
        }
    }
    smtpreply_conn_finish(c, 999, 999);
    struct smtpreply_conn_stats st;
    smtpreply_conn_stats(c, &st);
    CHECK(same_codes(&s));
    CHECK(st.retransmitted > 0);
    CHECK_EQ_U(st.gaps, 0);
    smtpreply_conn_free(c);
}

/* The server's sequence numbers cross 2^32 in mid-dialogue (SISN is near
 * the top): in-order delivery must be unaffected. */
static void test_sequence_wrap(void)
{
    struct seg plan[512];
    struct seen s;
    struct smtpreply_conn *c = new_conn(&s, SMTPREPLY_PORT_SMTP, 0);
    size_t n = plan_dialogue(plan, 5);
    handshake(c);
    for (size_t i = 0; i < n; i++)
        send(c, &plan[i], 10 + i);
    smtpreply_conn_finish(c, 999, 999);
    CHECK(same_codes(&s));
    smtpreply_conn_free(c);
}

/* A lost server segment (the 250 2.1.0 line): a gap is reported with the
 * right byte count, the session resynchronises and the later replies
 * still count. */
static void test_lost_segment(void)
{
    struct seen s;
    struct smtpreply_conn *c = new_conn(&s, SMTPREPLY_PORT_SMTP, 0);
    size_t slen = strlen(SERVER), clen = strlen(CLIENT);
    size_t lost_off = strstr(SERVER, "250 2.1.0") - SERVER;
    size_t lost_len = strlen("250 2.1.0 Ok\r\n");
    handshake(c);
    struct seg a = {false, 0, clen};
    send(c, &a, 10);
    struct seg b = {true, 0, lost_off};
    send(c, &b, 11);
    struct seg d = {true, lost_off + lost_len, slen - lost_off - lost_len};
    send(c, &d, 12);
    smtpreply_conn_finish(c, 999, 999);
    struct smtpreply_conn_stats st;
    smtpreply_conn_stats(c, &st);
    CHECK_EQ_U(st.gaps, 1);
    CHECK_EQ_U(st.missing_bytes, lost_len);
    CHECK_EQ_U(s.gaps, 1);
    /* Seen: 220, the EHLO reply, then after the gap 250 354 250 221. */
    CHECK_EQ_U(s.n, NWANT - 1);
    CHECK(s.n >= 2 && s.codes[0] == 220 && s.codes[s.n - 1] == 221);
    const struct smtpreply_session *ss = smtpreply_conn_session(c);
    CHECK(ss && (smtpreply_session_stats(ss)->flags & SMTPREPLY_SESSION_GAPS));
    smtpreply_conn_free(c);
}

/* max_reasm: a hole that never fills gives up as soon as the waiting
 * bytes pass the cap, not at the end. */
static void test_reasm_cap(void)
{
    struct seen s;
    struct smtpreply_conn *c = new_conn(&s, SMTPREPLY_PORT_SMTP, 64);
    handshake(c);
    /* skip the first 10 server bytes, then send the rest in pieces */
    size_t slen = strlen(SERVER);
    for (size_t o = 10; o < slen; o += 16) {
        struct seg g = {true, o, o + 16 < slen ? 16 : slen - o};
        send(c, &g, 10 + o);
    }
    struct smtpreply_conn_stats st;
    smtpreply_conn_stats(c, &st);
    CHECK_EQ_U(st.gaps, 1);
    CHECK_EQ_U(st.missing_bytes, 10);
    CHECK(st.reasm_overflow > 0);
    CHECK(st.bytes_allocated < 64 * 1024);
    smtpreply_conn_free(c);
}

/* Detection by content on a port nobody calls SMTP, and its refusals. */
static void feed_simple(struct smtpreply_conn *c, const char *client, const char *server)
{
    smtpreply_conn_segment(c, false, 1, SMTPREPLY_TCP_SYN, NULL, 0, 0, 1);
    smtpreply_conn_segment(c, true, 100, SMTPREPLY_TCP_SYN | SMTPREPLY_TCP_ACK, NULL, 0, 0, 2);
    if (server[0])
        smtpreply_conn_segment(c, true, 101, SMTPREPLY_TCP_ACK, (const uint8_t *)server,
                               strlen(server), 1, 3);
    if (client[0])
        smtpreply_conn_segment(c, false, 2, SMTPREPLY_TCP_ACK, (const uint8_t *)client,
                               strlen(client), 2, 4);
    smtpreply_conn_finish(c, 3, 5);
}

static void test_detection(void)
{
    struct seen s;
    struct smtpreply_conn_stats st;
    struct smtpreply_conn *c;

    c = new_conn(&s, SMTPREPLY_PORT_OTHER, 0);
    feed_simple(c, "EHLO x\r\nQUIT\r\n", "220 mx ready\r\n250 hi\r\n221 bye\r\n");
    smtpreply_conn_stats(c, &st);
    CHECK(st.state == SMTPREPLY_CONN_SMTP);
    CHECK_EQ_U(s.n, 3);
    smtpreply_conn_free(c);

    c = new_conn(&s, SMTPREPLY_PORT_OTHER, 0);
    feed_simple(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n");
    smtpreply_conn_stats(c, &st);
    CHECK(st.state == SMTPREPLY_CONN_NOT_SMTP);
    CHECK_EQ_U(s.n, 0);
    smtpreply_conn_free(c);

    /* An HTTP server's "220" status-like body is not a greeting. */
    c = new_conn(&s, SMTPREPLY_PORT_OTHER, 0);
    feed_simple(c, "", "220OK\r\n");
    smtpreply_conn_stats(c, &st);
    CHECK(st.state == SMTPREPLY_CONN_NOT_SMTP);
    smtpreply_conn_free(c);

    /* HTTP CONNECT tunnel. */
    c = new_conn(&s, SMTPREPLY_PORT_OTHER, 0);
    smtpreply_conn_segment(c, false, 1, SMTPREPLY_TCP_SYN, NULL, 0, 0, 1);
    smtpreply_conn_segment(c, true, 100, SMTPREPLY_TCP_SYN | SMTPREPLY_TCP_ACK, NULL, 0, 0, 2);
    const char *req = "CONNECT mx.example.org:25 HTTP/1.0\r\n\r\n";
    const char *rsp = "HTTP/1.0 200 Connection established\r\n\r\n220 mx ESMTP\r\n";
    smtpreply_conn_segment(c, false, 2, SMTPREPLY_TCP_ACK, (const uint8_t *)req, strlen(req), 1,
                           3);
    smtpreply_conn_segment(c, true, 101, SMTPREPLY_TCP_ACK, (const uint8_t *)rsp, strlen(rsp), 2,
                           4);
    const char *helo = "HELO c\r\n";
    smtpreply_conn_segment(c, false, 2 + (uint32_t)strlen(req), SMTPREPLY_TCP_ACK,
                           (const uint8_t *)helo, strlen(helo), 3, 5);
    const char *ok = "250 hello\r\n";
    smtpreply_conn_segment(c, true, 101 + (uint32_t)strlen(rsp), SMTPREPLY_TCP_ACK,
                           (const uint8_t *)ok, strlen(ok), 4, 6);
    smtpreply_conn_finish(c, 5, 7);
    smtpreply_conn_stats(c, &st);
    CHECK(st.state == SMTPREPLY_CONN_SMTP && st.tunnel && st.server_is_b);
    CHECK_EQ_U(s.n, 2);
    CHECK(s.n == 2 && s.codes[0] == 220 && s.codes[1] == 250);
    smtpreply_conn_free(c);

    /* Port 465: TLS from the server is encrypted; plaintext is counted. */
    c = new_conn(&s, SMTPREPLY_PORT_IMPLICIT_TLS, 0);
    feed_simple(c, "\x16\x03\x01\x02\x00\x01", "\x16\x03\x03\x00\x5a\x02");
    CHECK_EQ_U(s.tls, 1);
    CHECK_EQ_U(s.n, 0);
    smtpreply_conn_free(c);
    c = new_conn(&s, SMTPREPLY_PORT_IMPLICIT_TLS, 0);
    feed_simple(c, "\x16\x03\x01\x02\x00\x01", "220-mx plaintext\r\n220 really\r\n");
    CHECK_EQ_U(s.tls, 0);
    CHECK(s.n == 1 && s.codes[0] == 220);
    smtpreply_conn_free(c);
}

/* Undecided streams keep at most max_detect bytes per side. */
static void test_detect_bound(void)
{
    struct seen s;
    struct smtpreply_conn *c = new_conn(&s, SMTPREPLY_PORT_OTHER, 0);
    uint8_t junk[1000];
    memset(junk, 0x05, sizeof junk); /* looks like SOCKS5 forever */
    smtpreply_conn_segment(c, false, 1, SMTPREPLY_TCP_SYN, NULL, 0, 0, 1);
    for (uint32_t i = 0; i < 100; i++)
        smtpreply_conn_segment(c, false, 2 + i * 1000, SMTPREPLY_TCP_ACK, junk, sizeof junk, i,
                               i);
    struct smtpreply_conn_stats st;
    smtpreply_conn_stats(c, &st);
    CHECK(st.state == SMTPREPLY_CONN_NOT_SMTP);
    CHECK(st.bytes_allocated < 8192);
    smtpreply_conn_free(c);
}

int main(void)
{
    test_in_order_any_piece_size();
    test_out_of_order();
    test_retransmission_and_overlap();
    test_sequence_wrap();
    test_lost_segment();
    test_reasm_cap();
    test_detection();
    test_detect_bound();
    return CHECK_DONE();
}
