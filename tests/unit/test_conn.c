/* SPDX-License-Identifier: MIT */
/*
 * test_conn.c - the connection layer end to end: TCP segments in, session
 * events out.  The reference is the session engine fed the same dialogue
 * directly, in order: whatever the segments do (split, reorder, repeat,
 * overlap, ride in a tunnel), the events must be the same.  Also: lost
 * bytes reach the session as gaps with their count, limits bound memory,
 * implicit TLS, RST, and not-SMTP streams are dropped cheaply.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "smtpreply.h"

/* ---- events as text, to compare runs ---- */
struct rec {
    char s[8192];
    size_t len;
};

static void on_event(void *user, const struct smtpreply_event *ev)
{
    struct rec *r = user;
    char line[256];
    int n = 0;
    switch (ev->type) {
    case SMTPREPLY_EV_COMMAND:
        n = snprintf(line, sizeof line, "C %s t%llu\n", ev->cmd.verb,
                     (unsigned long long)ev->tag);
        break;
    case SMTPREPLY_EV_REPLY:
        n = snprintf(line, sizeof line, "R %u %s %s n%u t%llu f%llu\n", ev->code,
                     smtpreply_stage_name(ev->stage), ev->has_cmd ? ev->cmd.verb : "-",
                     ev->nlines, (unsigned long long)ev->tag, (unsigned long long)ev->first_tag);
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
    if (n > 0 && r->len + (size_t)n < sizeof r->s) {
        memcpy(r->s + r->len, line, (size_t)n);
        r->len += (size_t)n;
        r->s[r->len] = 0;
    }
}

/* ---- a counting allocator with a high-water mark ---- */
struct acct {
    size_t live, peak;
};
struct hdr {
    size_t size;
    max_align_t align;
};
static void *acct_realloc(void *ctx, void *p, size_t size)
{
    struct acct *a = ctx;
    struct hdr *h = p ? (struct hdr *)((char *)p - offsetof(struct hdr, align)) : NULL;
    if (size == 0) {
        if (h) {
            a->live -= h->size;
            free(h);
        }
        return NULL;
    }
    size_t old = h ? h->size : 0;
    struct hdr *nh = realloc(h, offsetof(struct hdr, align) + size);
    if (!nh)
        return NULL;
    nh->size = size;
    a->live = a->live - old + size;
    if (a->live > a->peak)
        a->peak = a->live;
    return (char *)nh + offsetof(struct hdr, align);
}

/* ---- a dialogue: (from server?, bytes, tag) ---- */
struct msg {
    bool server;
    const char *text;
};

static const struct msg dialogue[] = {
    {true, "220 mx.example.org ESMTP\r\n"},
    {false, "EHLO client.example\r\n"},
    {true, "250-mx.example.org\r\n250-PIPE"},
    {true, "LINING\r\n250 8BITMIME\r\n"},
    {false, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n"},
    {true, "250 2.1.0 ok\r\n250 2.1.5 ok\r\n"},
    {false, "QUIT\r\n"},
    {true, "221 2.0.0 bye\r\n"},
};
#define NMSG (sizeof dialogue / sizeof dialogue[0])

/* The reference: the session fed directly.  Tags are message index + 10. */
static void reference(struct rec *out, unsigned flags)
{
    struct smtpreply_session *s = smtpreply_session_new(NULL, NULL, NULL, on_event, out, flags);
    for (size_t i = 0; i < NMSG; i++)
        smtpreply_session_feed(s,
                               dialogue[i].server ? SMTPREPLY_DIR_SERVER : SMTPREPLY_DIR_CLIENT,
                               (const uint8_t *)dialogue[i].text, strlen(dialogue[i].text), 0,
                               i + 10);
    smtpreply_session_finish(s, 0, 99);
    smtpreply_session_free(s);
}

struct tcp {
    struct smtpreply_conn *c;
    uint32_t seq[2];   /* next sequence number per endpoint (0 = client A) */
    uint32_t start[2]; /* of the first data byte */
    uint32_t off[NMSG];
};

static void tcp_open(struct tcp *t, struct rec *out, enum smtpreply_port_kind server_kind,
                     bool handshake, uint32_t isn_a, uint32_t isn_b, struct acct *acct)
{
    struct smtpreply_conn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    smtpreply_limits_default(&cfg.limits);
    cfg.port_kind_a = SMTPREPLY_PORT_OTHER;
    cfg.port_kind_b = server_kind;
    t->c = smtpreply_conn_new(&cfg, acct ? acct_realloc : NULL, acct, on_event, out);
    t->seq[0] = isn_a + 1;
    t->seq[1] = isn_b + 1;
    if (handshake) {
        smtpreply_conn_segment(t->c, false, isn_a, SMTPREPLY_TCP_SYN, NULL, 0, 0, 1);
        smtpreply_conn_segment(t->c, true, isn_b, SMTPREPLY_TCP_SYN | SMTPREPLY_TCP_ACK, NULL, 0,
                               0, 2);
    }
    t->start[0] = t->seq[0];
    t->start[1] = t->seq[1];
    for (size_t i = 0; i < NMSG; i++) {
        int e = dialogue[i].server ? 1 : 0;
        t->off[i] = t->seq[e];
        t->seq[e] += (uint32_t)strlen(dialogue[i].text);
    }
}

static void tcp_send(struct tcp *t, size_t i)
{
    smtpreply_conn_segment(t->c, dialogue[i].server, t->off[i], SMTPREPLY_TCP_ACK,
                           (const uint8_t *)dialogue[i].text, strlen(dialogue[i].text), 0,
                           i + 10);
}

static void tcp_close(struct tcp *t)
{
    smtpreply_conn_segment(t->c, false, t->seq[0], SMTPREPLY_TCP_FIN | SMTPREPLY_TCP_ACK, NULL, 0,
                           0, 99);
    smtpreply_conn_segment(t->c, true, t->seq[1], SMTPREPLY_TCP_FIN | SMTPREPLY_TCP_ACK, NULL, 0,
                           0, 99);
}

static void test_in_order_equals_reference(void)
{
    struct rec want = {0}, got = {0};
    reference(&want, 0);
    CHECK(strstr(want.s, "R 250 reply EHLO n3") != NULL); /* the split reply is one */
    struct tcp t;
    tcp_open(&t, &got, SMTPREPLY_PORT_SMTP, true, 100, 5000, NULL);
    for (size_t i = 0; i < NMSG; i++)
        tcp_send(&t, i);
    tcp_close(&t);
    CHECK_EQ_S(got.s, want.s);
    struct smtpreply_conn_stats st;
    smtpreply_conn_stats(t.c, &st);
    CHECK(st.state == SMTPREPLY_CONN_SMTP);
    CHECK(st.server_is_b && st.saw_syn && st.closed && !st.tunnel);
    CHECK_EQ_U(st.segments, 2 + NMSG + 2);
    const struct smtpreply_session *s = smtpreply_conn_session(t.c);
    CHECK(s && (smtpreply_session_stats(s)->flags & SMTPREPLY_SESSION_FINISHED));
    smtpreply_conn_free(t.c);
}

static void test_reordered_repeated_equals_reference(void)
{
    struct rec want = {0}, got = {0};
    reference(&want, 0);
    struct tcp t;
    /* sequence numbers wrap inside the server's stream */
    tcp_open(&t, &got, SMTPREPLY_PORT_SMTP, true, 0xfffffff0u, 0xffffffe0u, NULL);
    tcp_send(&t, 0);
    tcp_send(&t, 0); /* retransmitted greeting */
    tcp_send(&t, 1);
    tcp_send(&t, 3); /* second half of the EHLO reply first */
    tcp_send(&t, 2);
    tcp_send(&t, 3); /* and again */
    tcp_send(&t, 4);
    tcp_send(&t, 5);
    tcp_send(&t, 6);
    /* 221 in two overlapping pieces */
    smtpreply_conn_segment(t.c, true, t.off[7], SMTPREPLY_TCP_ACK, (const uint8_t *)"221 2.0", 7,
                           0, 17);
    smtpreply_conn_segment(t.c, true, t.off[7] + 4, SMTPREPLY_TCP_ACK,
                           (const uint8_t *)dialogue[7].text + 4, strlen(dialogue[7].text) - 4, 0,
                           17);
    tcp_close(&t);
    CHECK_EQ_S(got.s, want.s);
    struct smtpreply_conn_stats st;
    smtpreply_conn_stats(t.c, &st);
    CHECK_EQ_U(st.retransmitted, 2);
    CHECK_EQ_U(st.out_of_order, 1);
    CHECK_EQ_U(st.overlaps, 1);
    CHECK_EQ_U(st.gaps, 0);
    smtpreply_conn_free(t.c);
}

static void test_lost_segment(void)
{
    struct rec got = {0};
    struct tcp t;
    tcp_open(&t, &got, SMTPREPLY_PORT_SMTP, true, 100, 5000, NULL);
    for (size_t i = 0; i < NMSG; i++)
        if (i != 5) /* the 250s to MAIL and RCPT are lost */
            tcp_send(&t, i);
    tcp_close(&t);
    /* both FINs: the hole is a loss */
    smtpreply_conn_finish(t.c, 0, 100);
    smtpreply_conn_finish(t.c, 0, 101); /* idempotent */
    struct smtpreply_conn_stats st;
    smtpreply_conn_stats(t.c, &st);
    CHECK_EQ_U(st.gaps, 1);
    CHECK_EQ_U(st.missing_bytes, strlen(dialogue[5].text));
    const struct smtpreply_session_stats *ss =
        smtpreply_session_stats(smtpreply_conn_session(t.c));
    CHECK(ss->flags & SMTPREPLY_SESSION_GAPS);
    CHECK_EQ_U(ss->missing_bytes[SMTPREPLY_DIR_SERVER], strlen(dialogue[5].text));
    CHECK_EQ_U(ss->missing_bytes[SMTPREPLY_DIR_CLIENT], 0);
    /* resynchronised: the 221 after the gap is still a reply */
    CHECK(strstr(got.s, "A gap 1") != NULL);
    CHECK(strstr(got.s, "R 221") != NULL);
    smtpreply_conn_free(t.c);
}

static void test_lost_client_bytes_patience(void)
{
    /* A lost client segment: the hole is given up before the end of the
     * capture, here at the first server reply that finds no command
     * waiting (the server answers what it read: MAIL and RCPT are behind
     * the hole), so the replies meet MAIL and RCPT. */
    struct rec got = {0};
    struct tcp t;
    tcp_open(&t, &got, SMTPREPLY_PORT_SMTP, true, 100, 5000, NULL);
    tcp_send(&t, 0);
    /* EHLO lost */
    tcp_send(&t, 2);
    tcp_send(&t, 3);
    tcp_send(&t, 4); /* buffered behind the hole */
    tcp_send(&t, 5);
    struct smtpreply_conn_stats st;
    smtpreply_conn_stats(t.c, &st);
    CHECK_EQ_U(st.gaps, 1);
    CHECK(strstr(got.s, "R 250 reply MAIL") != NULL);
    CHECK(strstr(got.s, "R 250 reply RCPT") != NULL);
    tcp_send(&t, 6);
    tcp_send(&t, 7);
    smtpreply_conn_stats(t.c, &st);
    CHECK_EQ_U(st.gaps, 1);
    CHECK_EQ_U(st.missing_bytes, strlen(dialogue[1].text));
    tcp_close(&t);
    smtpreply_conn_stats(t.c, &st);
    CHECK(st.closed);
    CHECK(smtpreply_session_stats(smtpreply_conn_session(t.c))->flags &
          SMTPREPLY_SESSION_FINISHED);
    CHECK(strstr(got.s, "C QUIT") != NULL);
    smtpreply_conn_free(t.c);
}

static void test_midstream(void)
{
    struct rec got = {0};
    struct tcp t;
    tcp_open(&t, &got, SMTPREPLY_PORT_SMTP, false, 100, 5000, NULL);
    for (size_t i = 4; i < NMSG; i++)
        tcp_send(&t, i);
    smtpreply_conn_finish(t.c, 0, 100);
    struct smtpreply_conn_stats st;
    smtpreply_conn_stats(t.c, &st);
    CHECK(st.state == SMTPREPLY_CONN_SMTP && !st.saw_syn && st.server_is_b);
    CHECK(smtpreply_session_stats(smtpreply_conn_session(t.c))->flags &
          SMTPREPLY_SESSION_MIDSTREAM);
    smtpreply_conn_free(t.c);

    /* SYN-less but from the greeting: not midstream, same as the reference */
    struct rec want = {0}, got2 = {0};
    reference(&want, 0);
    tcp_open(&t, &got2, SMTPREPLY_PORT_SMTP, false, 100, 5000, NULL);
    for (size_t i = 0; i < NMSG; i++)
        tcp_send(&t, i);
    smtpreply_conn_finish(t.c, 0, 99);
    CHECK_EQ_S(got2.s, want.s);
    CHECK(!(smtpreply_session_stats(smtpreply_conn_session(t.c))->flags &
            SMTPREPLY_SESSION_MIDSTREAM));
    smtpreply_conn_free(t.c);
}

static void test_content_detection_equals_reference(void)
{
    /* Port 9999: found by content; the replay keeps the arrival order and
     * each chunk's tag. */
    struct rec want = {0}, got = {0};
    reference(&want, 0);
    struct tcp t;
    tcp_open(&t, &got, SMTPREPLY_PORT_OTHER, true, 7, 70000, NULL);
    for (size_t i = 0; i < NMSG; i++)
        tcp_send(&t, i);
    tcp_close(&t);
    CHECK_EQ_S(got.s, want.s);
    smtpreply_conn_free(t.c);
}

static void test_socks5_tunnel(void)
{
    struct rec want = {0}, got = {0};
    reference(&want, 0);
    struct smtpreply_conn *c = smtpreply_conn_new(NULL, NULL, NULL, on_event, &got);
    uint32_t a = 1001, b = 9001;
    smtpreply_conn_segment(c, false, 1000, SMTPREPLY_TCP_SYN, NULL, 0, 0, 1);
    smtpreply_conn_segment(c, true, 9000, SMTPREPLY_TCP_SYN | SMTPREPLY_TCP_ACK, NULL, 0, 0, 2);
    static const uint8_t m1[] = {5, 1, 0}, r1[] = {5, 0};
    static const uint8_t m2[] = {5, 1, 0, 1, 10, 0, 0, 1, 0, 25};
    static const uint8_t r2[] = {5, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    smtpreply_conn_segment(c, false, a, SMTPREPLY_TCP_ACK, m1, sizeof m1, 0, 3);
    a += sizeof m1;
    smtpreply_conn_segment(c, true, b, SMTPREPLY_TCP_ACK, r1, sizeof r1, 0, 4);
    b += sizeof r1;
    smtpreply_conn_segment(c, false, a, SMTPREPLY_TCP_ACK, m2, sizeof m2, 0, 5);
    a += sizeof m2;
    smtpreply_conn_segment(c, true, b, SMTPREPLY_TCP_ACK, r2, sizeof r2, 0, 6);
    b += sizeof r2;
    for (size_t i = 0; i < NMSG; i++) {
        uint32_t *seq = dialogue[i].server ? &b : &a;
        size_t n = strlen(dialogue[i].text);
        smtpreply_conn_segment(c, dialogue[i].server, *seq, SMTPREPLY_TCP_ACK,
                               (const uint8_t *)dialogue[i].text, n, 0, i + 10);
        *seq += (uint32_t)n;
    }
    smtpreply_conn_segment(c, false, a, SMTPREPLY_TCP_FIN | SMTPREPLY_TCP_ACK, NULL, 0, 0, 99);
    smtpreply_conn_segment(c, true, b, SMTPREPLY_TCP_RST, NULL, 0, 0, 99);
    CHECK_EQ_S(got.s, want.s);
    struct smtpreply_conn_stats st;
    smtpreply_conn_stats(c, &st);
    CHECK(st.state == SMTPREPLY_CONN_SMTP && st.tunnel && st.closed);
    smtpreply_conn_free(c);
}

static void test_implicit_tls(void)
{
    struct rec got = {0};
    struct tcp t;
    tcp_open(&t, &got, SMTPREPLY_PORT_IMPLICIT_TLS, true, 100, 5000, NULL);
    static const uint8_t hello[] = {0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0, 0, 1, 0};
    static const uint8_t shello[] = {0x16, 0x03, 0x03, 0x00, 0x05, 0x02, 0, 0, 1, 0};
    smtpreply_conn_segment(t.c, false, 101, SMTPREPLY_TCP_ACK, hello, sizeof hello, 0, 3);
    struct smtpreply_conn_stats st;
    smtpreply_conn_stats(t.c, &st);
    CHECK(st.state == SMTPREPLY_CONN_UNDECIDED);
    smtpreply_conn_segment(t.c, true, 5001, SMTPREPLY_TCP_ACK, shello, sizeof shello, 0, 4);
    smtpreply_conn_stats(t.c, &st);
    CHECK(st.state == SMTPREPLY_CONN_SMTP && st.implicit_tls);
    CHECK(smtpreply_session_stats(smtpreply_conn_session(t.c))->flags &
          SMTPREPLY_SESSION_ENCRYPTED);
    smtpreply_conn_free(t.c);

    /* plaintext on 465: counted like any SMTP */
    struct rec want = {0}, got2 = {0};
    reference(&want, 0);
    tcp_open(&t, &got2, SMTPREPLY_PORT_IMPLICIT_TLS, true, 100, 5000, NULL);
    for (size_t i = 0; i < NMSG; i++)
        tcp_send(&t, i);
    tcp_close(&t);
    CHECK_EQ_S(got2.s, want.s);
    smtpreply_conn_stats(t.c, &st);
    CHECK(!st.implicit_tls);
    smtpreply_conn_free(t.c);
}

static void test_not_smtp_is_cheap(void)
{
    struct acct acct = {0, 0};
    struct rec got = {0};
    struct tcp t;
    tcp_open(&t, &got, SMTPREPLY_PORT_OTHER, true, 100, 5000, &acct);
    size_t base = acct.live;
    static const char get[] = "GET /index.html HTTP/1.1\r\nHost: www\r\n\r\n";
    smtpreply_conn_segment(t.c, false, 101, SMTPREPLY_TCP_ACK, (const uint8_t *)get,
                           sizeof get - 1, 0, 3);
    struct smtpreply_conn_stats st;
    smtpreply_conn_stats(t.c, &st);
    CHECK(st.state == SMTPREPLY_CONN_NOT_SMTP);
    CHECK_EQ_U(acct.live, base);
    CHECK_EQ_U(st.bytes_allocated, acct.live);
    /* later segments (even out of order) cost nothing */
    for (uint32_t i = 0; i < 100; i++)
        smtpreply_conn_segment(t.c, true, 5001 + 1000 * (100 - i), SMTPREPLY_TCP_ACK,
                               (const uint8_t *)get, sizeof get - 1, 0, 4 + i);
    CHECK_EQ_U(acct.live, base);
    smtpreply_conn_stats(t.c, &st);
    CHECK_EQ_U(st.segments, 2 + 1 + 100);
    CHECK(got.len == 0);
    smtpreply_conn_free(t.c);
    CHECK_EQ_U(acct.live, 0);
}

static void test_memory_bounds(void)
{
    struct acct acct = {0, 0};
    struct rec got = {0};
    struct tcp t;

    /* a fresh connection is small */
    tcp_open(&t, &got, SMTPREPLY_PORT_OTHER, true, 100, 5000, &acct);
    struct smtpreply_conn_stats st;
    smtpreply_conn_stats(t.c, &st);
    CHECK(st.bytes_allocated < 1024);
    CHECK_EQ_U(st.bytes_allocated, acct.live);
    size_t base = acct.live;

    /* undecided: a "greeting" that never ends its line, one byte at a
     * time, holds at most max_detect bytes (plus the chunk log) */
    uint32_t seq = 5001;
    smtpreply_conn_segment(t.c, true, seq, SMTPREPLY_TCP_ACK, (const uint8_t *)"220 ", 4, 0, 3);
    seq += 4;
    for (int i = 0; i < 20000; i++, seq++)
        smtpreply_conn_segment(t.c, true, seq, SMTPREPLY_TCP_ACK, (const uint8_t *)"x", 1, 0, 4);
    smtpreply_conn_stats(t.c, &st);
    CHECK(st.state == SMTPREPLY_CONN_NOT_SMTP);
    CHECK(acct.peak <= base + 4096 + 64 * 32);
    CHECK_EQ_U(acct.live, base);
    smtpreply_conn_free(t.c);
    CHECK_EQ_U(acct.live, 0);

    /* an SMTP session whose client never sends CRLF: bounded by max_line */
    struct acct acct2 = {0, 0};
    struct rec got2 = {0};
    tcp_open(&t, &got2, SMTPREPLY_PORT_SMTP, true, 100, 5000, &acct2);
    tcp_send(&t, 0);
    char junk[1000];
    memset(junk, 'z', sizeof junk);
    seq = t.off[1];
    for (int i = 0; i < 1000; i++, seq += sizeof junk)
        smtpreply_conn_segment(t.c, false, seq, SMTPREPLY_TCP_ACK, (const uint8_t *)junk,
                               sizeof junk, 0, 5);
    smtpreply_conn_stats(t.c, &st);
    CHECK_EQ_U(st.bytes_allocated, acct2.live);
    CHECK(acct2.peak < 16384);
    /* and out-of-order data is capped by max_reasm */
    for (int i = 0; i < 1000; i++)
        smtpreply_conn_segment(t.c, false, seq + 1 + (uint32_t)(i * 2000), SMTPREPLY_TCP_ACK,
                               (const uint8_t *)junk, sizeof junk, 0, 6);
    smtpreply_conn_stats(t.c, &st);
    CHECK(st.reasm_overflow > 0);
    CHECK(acct2.peak < 16384 + 262144);
    CHECK_EQ_U(st.bytes_allocated, acct2.live);
    smtpreply_conn_finish(t.c, 0, 7);
    smtpreply_conn_free(t.c);
    CHECK_EQ_U(acct2.live, 0);
    printf("fresh conn %zu bytes; peak with a CRLF-less client %zu bytes\n", base, acct2.peak);
}

static void test_rst(void)
{
    struct rec got = {0};
    struct tcp t;
    tcp_open(&t, &got, SMTPREPLY_PORT_SMTP, true, 100, 5000, NULL);
    tcp_send(&t, 0);
    tcp_send(&t, 1);
    smtpreply_conn_segment(t.c, true, t.off[2], SMTPREPLY_TCP_RST, NULL, 0, 0, 50);
    CHECK(strstr(got.s, "U EHLO") != NULL); /* finished at once: EHLO unanswered */
    size_t before = got.len;
    tcp_send(&t, 2); /* after the RST: ignored */
    CHECK_EQ_U(got.len, before);
    smtpreply_conn_free(t.c);
}

int main(void)
{
    test_in_order_equals_reference();
    test_reordered_repeated_equals_reference();
    test_lost_segment();
    test_lost_client_bytes_patience();
    test_midstream();
    test_content_detection_equals_reference();
    test_socks5_tunnel();
    test_implicit_tls();
    test_not_smtp_is_cheap();
    test_memory_bounds();
    test_rst();
    return CHECK_DONE();
}
