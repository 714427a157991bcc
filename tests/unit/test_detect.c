/* SPDX-License-Identifier: MIT */
/*
 * test_detect.c - is-this-SMTP from the first bytes: greetings and HELO by
 * RFC 5321, SOCKS5 by RFC 1928/1929, HTTP CONNECT by RFC 9110, TLS records
 * (RFC 8446 §5.1), and what must not pass: HTTP, FTP, TLS on other ports,
 * garbage.  The SOCKS5 bytes are those of arkime-socks5-smtp-503.pcap and
 * the CONNECT exchange that of zeek-connect-with-smtp.pcap.
 */
#include <string.h>

#include "check.h"
#include "detect.h"

#define S(x) (const uint8_t *)(x), sizeof(x) - 1

static void test_matchers(void)
{
    size_t hs = 0;
    CHECK(detect_greeting(S("220 mx.example.org ESMTP\r\n"), false) == DETECT_YES);
    CHECK(detect_greeting(S("220-mx multi\r\n"), false) == DETECT_YES);
    CHECK(detect_greeting(S("220\r\n"), false) == DETECT_YES);
    CHECK(detect_greeting(S("554 no service\n"), false) == DETECT_YES);
    CHECK(detect_greeting(S("421 busy\r\n"), false) == DETECT_YES);
    CHECK(detect_greeting(S("521 no mail here\r\n"), false) == DETECT_YES);
    CHECK(detect_greeting(S("22"), false) == DETECT_MAYBE);
    CHECK(detect_greeting(S("22"), true) == DETECT_NO);
    CHECK(detect_greeting(S("220 no line end yet"), false) == DETECT_MAYBE);
    CHECK(detect_greeting(S("220 no line end ever"), true) == DETECT_NO);
    CHECK(detect_greeting(S("250 ok\r\n"), false) == DETECT_NO);
    CHECK(detect_greeting(S("2200 x\r\n"), false) == DETECT_NO);
    CHECK(detect_greeting(S("220 bin\x01ary\r\n"), false) == DETECT_NO);
    CHECK(detect_greeting(S("220 a\rb\r\n"), false) == DETECT_NO);
    CHECK(detect_greeting(S("HTTP/1.1 220 x\r\n"), false) == DETECT_NO);

    CHECK(detect_helo(S("EHLO client.example\r\n"), false) == DETECT_YES);
    CHECK(detect_helo(S("helo x\n"), false) == DETECT_YES);
    CHECK(detect_helo(S("EHL"), false) == DETECT_MAYBE);
    CHECK(detect_helo(S("EHLOX\r\n"), false) == DETECT_NO);
    CHECK(detect_helo(S("MAIL FROM:<a@b>\r\n"), false) == DETECT_NO);

    CHECK(detect_smtp_client_line(S("QUIT\r\n"), false) == DETECT_YES);
    CHECK(detect_smtp_client_line(S("starttls\r\n"), false) == DETECT_YES);
    CHECK(detect_smtp_client_line(S("USER anonymous\r\n"), false) == DETECT_NO);
    CHECK(detect_smtp_client_line(S("STA"), false) == DETECT_MAYBE);

    CHECK(detect_tls(S("\x16\x03\x01\x02\x00"), false) == DETECT_YES);
    CHECK(detect_tls(S("\x16"), false) == DETECT_MAYBE);
    CHECK(detect_tls(S("\x16"), true) == DETECT_NO);
    CHECK(detect_tls(S("220 "), false) == DETECT_NO);

    /* RFC 1928 with the RFC 1929 sub-negotiation, domain-name address */
    static const char sc[] = "\x05\x02\x00\x02"
                             "\x01\x03"
                             "bob"
                             "\x02"
                             "pw"
                             "\x05\x01\x00\x03\x0b"
                             "example.org"
                             "\x00\x19";
    CHECK(detect_socks5_client(S(sc), false, &hs) == DETECT_YES);
    CHECK_EQ_U(hs, sizeof sc - 1);
    CHECK(detect_socks5_client((const uint8_t *)sc, 10, false, &hs) == DETECT_MAYBE);
    CHECK(detect_socks5_client((const uint8_t *)sc, 10, true, &hs) == DETECT_NO);
    CHECK(detect_socks5_client(S("\x05\x00"), false, &hs) == DETECT_NO);         /* no methods */
    CHECK(detect_socks5_client(S("\x04\x01\x00\x19"), false, &hs) == DETECT_NO); /* SOCKS4 */
    static const char ss[] = "\x05\x02"
                             "\x01\x00"
                             "\x05\x00\x00\x01\x0a\x00\x00\x01\x04\x38";
    CHECK(detect_socks5_server(S(ss), false, &hs) == DETECT_YES);
    CHECK_EQ_U(hs, sizeof ss - 1);
    CHECK(detect_socks5_server(S("\x05\xff"), false, &hs) == DETECT_NO);         /* refused */
    CHECK(detect_socks5_server(S("\x05\x00\x05\x05"), false, &hs) == DETECT_NO); /* REP=5 */

    static const char cr[] = "CONNECT mailin03.sul.t-online.de:25 HTTP/1.0\r\n\r\n";
    CHECK(detect_connect_request(S(cr), false, &hs) == DETECT_YES);
    CHECK_EQ_U(hs, sizeof cr - 1);
    CHECK(detect_connect_request(S("CONNECT a:25 HTTP/1.0\r\n"), false, &hs) == DETECT_MAYBE);
    CHECK(detect_connect_request(S("GET / HTTP/1.1\r\n\r\n"), false, &hs) == DETECT_NO);
    static const char cresp[] = "HTTP/1.0 200 Connection established\r\nProxy-agent: x\r\n\r\n";
    CHECK(detect_connect_response(S(cresp), false, &hs) == DETECT_YES);
    CHECK_EQ_U(hs, sizeof cresp - 1);
    CHECK(detect_connect_response(S("HTTP/1.1 407 Proxy Auth\r\n\r\n"), false, &hs) == DETECT_NO);
}

struct sides {
    const char *a;
    size_t alen;
    const char *b;
    size_t blen;
};

static void run(const uint8_t *a, size_t alen, bool aend, const uint8_t *b, size_t blen,
                bool bend, int server, enum smtpreply_port_kind kind, bool syn,
                struct detect_result *res)
{
    struct detect_input in = {{a, b}, {alen, blen}, {aend, bend}, server, kind, syn};
    detect_decide(&in, res);
}

#define NONE (const uint8_t *)"", 0

static void test_decide_other_port(void)
{
    struct detect_result r;
    /* greeting on port 9999, server B known from the SYN */
    run(NONE, false, S("220 mx ESMTP ready\r\n"), false, 1, SMTPREPLY_PORT_OTHER, true, &r);
    CHECK(r.state == SMTPREPLY_CONN_UNDECIDED); /* waits for the client's first line */
    run(S("EHLO me\r\n"), false, S("220 mx ESMTP ready\r\n"), false, 1, SMTPREPLY_PORT_OTHER,
        true, &r);
    CHECK(r.state == SMTPREPLY_CONN_SMTP);
    CHECK_EQ_U(r.server, 1);
    CHECK(!r.tunnel && !r.midstream);
    /* the greeting alone when the client never speaks */
    run(NONE, true, S("220 mx ESMTP ready\r\n"), true, 1, SMTPREPLY_PORT_OTHER, true, &r);
    CHECK(r.state == SMTPREPLY_CONN_SMTP);
    /* an FTP server greets with 220 too */
    run(S("USER anonymous\r\n"), false, S("220 ProFTPD ready\r\n"), false, 1,
        SMTPREPLY_PORT_OTHER, true, &r);
    CHECK(r.state == SMTPREPLY_CONN_NOT_SMTP);
    /* roles unknown (no SYN): the greeting side is the server */
    run(S("220 mx ready\r\n"), false, S("HELO c\r\n"), false, -1, SMTPREPLY_PORT_OTHER, false,
        &r);
    CHECK(r.state == SMTPREPLY_CONN_SMTP);
    CHECK_EQ_U(r.server, 0);
    /* EHLO only: a one-sided capture of the client */
    run(S("EHLO me\r\nMAIL FROM:<a@b>\r\n"), false, NONE, true, 1, SMTPREPLY_PORT_OTHER, true,
        &r);
    CHECK(r.state == SMTPREPLY_CONN_SMTP);
    run(S("EHLO me\r\n"), false, NONE, false, -1, SMTPREPLY_PORT_OTHER, false, &r);
    CHECK(r.state == SMTPREPLY_CONN_SMTP);
    CHECK_EQ_U(r.server, 1);
    /* HTTP on port 80 */
    run(S("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false, NONE, false, 1, SMTPREPLY_PORT_OTHER, true,
        &r);
    CHECK(r.state == SMTPREPLY_CONN_NOT_SMTP);
    run(S("GET / HTTP/1.1\r\n\r\n"), false, S("HTTP/1.1 220 odd\r\n\r\n"), false, -1,
        SMTPREPLY_PORT_OTHER, false, &r);
    CHECK(r.state == SMTPREPLY_CONN_NOT_SMTP);
    /* TLS on a port that is not SMTP's */
    run(S("\x16\x03\x01\x00\xa5\x01"), false, NONE, false, 1, SMTPREPLY_PORT_OTHER, true, &r);
    CHECK(r.state == SMTPREPLY_CONN_NOT_SMTP);
    /* garbage */
    run(S("\x00\x17\xfe\x99garbage"), false, S("\x7f\x45\x4c\x46"), false, -1,
        SMTPREPLY_PORT_OTHER, false, &r);
    CHECK(r.state == SMTPREPLY_CONN_NOT_SMTP);
    /* a greeting that never ends its line within the detection window */
    run(NONE, true, S("220 xxxxxxxxxxxxxxxxxxxxxxxxxxxx"), true, 1, SMTPREPLY_PORT_OTHER, true,
        &r);
    CHECK(r.state == SMTPREPLY_CONN_NOT_SMTP);
    /* undecided until both sides end: then final */
    run(S("EH"), false, NONE, false, 1, SMTPREPLY_PORT_OTHER, true, &r);
    CHECK(r.state == SMTPREPLY_CONN_UNDECIDED);
    run(S("EH"), true, NONE, true, 1, SMTPREPLY_PORT_OTHER, true, &r);
    CHECK(r.state == SMTPREPLY_CONN_NOT_SMTP);
}

static void test_decide_tunnels(void)
{
    struct detect_result r;
    /* SOCKS5 as in arkime-socks5-smtp-503.pcap: no auth, IPv4 target */
    static const char cli[] = "\x05\x01\x00"
                              "\x05\x01\x00\x01\xc0\xa8\x01\x02\x00\x19"
                              "EHLO me\r\n";
    static const char srv[] = "\x05\x00"
                              "\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                              "220 exim ready\r\n";
    run(S(cli), false, S(srv), false, 1, SMTPREPLY_PORT_OTHER, true, &r);
    CHECK(r.state == SMTPREPLY_CONN_SMTP);
    CHECK(r.tunnel);
    CHECK_EQ_U(r.skip[0], 13);
    CHECK_EQ_U(r.skip[1], 12);
    /* the proxy has answered but the greeting is not there yet */
    run((const uint8_t *)cli, 13, false, (const uint8_t *)srv, 12, false, 1, SMTPREPLY_PORT_OTHER,
        true, &r);
    CHECK(r.state == SMTPREPLY_CONN_UNDECIDED);
    /* proxy refuses: no tunnel, not SMTP */
    run((const uint8_t *)cli, 13, false, S("\x05\x00\x05\x02\x00\x01"), false, 1,
        SMTPREPLY_PORT_OTHER, true, &r);
    CHECK(r.state == SMTPREPLY_CONN_NOT_SMTP);

    static const char ccli[] = "CONNECT mailin03.sul.t-online.de:25 HTTP/1.0\r\n\r\n"
                               "HELO x\r\n";
    static const char csrv[] = "HTTP/1.0 200 Connection established\r\n\r\n"
                               "220 mailin03.sul.t-online.de T-Online ESMTP receiver ready\r\n";
    run(S(ccli), false, S(csrv), false, 1, SMTPREPLY_PORT_OTHER, true, &r);
    CHECK(r.state == SMTPREPLY_CONN_SMTP);
    CHECK(r.tunnel);
    CHECK_EQ_U(r.skip[0], 48);
    CHECK_EQ_U(r.skip[1], 39);
    /* an HTTP CONNECT to a web server is not SMTP */
    run(S("CONNECT www:443 HTTP/1.1\r\n\r\n\x16\x03\x01"), false,
        S("HTTP/1.1 200 OK\r\n\r\n\x16\x03\x03"), false, 1, SMTPREPLY_PORT_OTHER, true, &r);
    CHECK(r.state == SMTPREPLY_CONN_NOT_SMTP);
}

static void test_decide_smtp_ports(void)
{
    struct detect_result r;
    /* port 25 with the handshake: SMTP at the first byte */
    run(NONE, false, S("2"), false, 1, SMTPREPLY_PORT_SMTP, true, &r);
    CHECK(r.state == SMTPREPLY_CONN_SMTP);
    CHECK(!r.midstream);
    /* without it: a greeting says the start was seen, anything else is
     * midstream */
    run(NONE, false, S("220 mx\r\n"), false, 1, SMTPREPLY_PORT_SMTP, false, &r);
    CHECK(r.state == SMTPREPLY_CONN_SMTP && !r.midstream);
    run(NONE, false, S("250 2.1.5 ok\r\n"), false, 1, SMTPREPLY_PORT_SMTP, false, &r);
    CHECK(r.state == SMTPREPLY_CONN_SMTP && r.midstream);
    run(S("RCPT TO:<a@b>\r\n"), false, NONE, false, 1, SMTPREPLY_PORT_SMTP, false, &r);
    CHECK(r.state == SMTPREPLY_CONN_UNDECIDED); /* waits for the server */
    run(S("RCPT TO:<a@b>\r\n"), false, NONE, true, 1, SMTPREPLY_PORT_SMTP, false, &r);
    CHECK(r.state == SMTPREPLY_CONN_SMTP && r.midstream);
    /* port 465: the server's TLS record makes it encrypted */
    run(S("\x16\x03\x01\x02\x00\x01"), false, S("\x16\x03\x03\x00\x7a\x02"), false, 1,
        SMTPREPLY_PORT_IMPLICIT_TLS, true, &r);
    CHECK(r.state == SMTPREPLY_CONN_SMTP && r.implicit_tls);
    /* a client ClientHello waits for the server (ndpi-smtps.pcapng) */
    run(S("\x16\x03\x01\x02\x00\x01"), false, NONE, false, 1, SMTPREPLY_PORT_IMPLICIT_TLS, true,
        &r);
    CHECK(r.state == SMTPREPLY_CONN_UNDECIDED);
    run(S("\x16\x03\x01\x02\x00\x01"), false, S("220-gator4223 ESMTP Exim\r\n"), false, 1,
        SMTPREPLY_PORT_IMPLICIT_TLS, true, &r);
    CHECK(r.state == SMTPREPLY_CONN_SMTP && !r.implicit_tls);
    /* ... and with no server reply at all it was TLS */
    run(S("\x16\x03\x01\x02\x00\x01"), true, NONE, true, 1, SMTPREPLY_PORT_IMPLICIT_TLS, true,
        &r);
    CHECK(r.state == SMTPREPLY_CONN_SMTP && r.implicit_tls);
    /* roles from content when both ports look alike */
    run(S("220 mx\r\n"), false, NONE, false, -1, SMTPREPLY_PORT_SMTP, true, &r);
    CHECK(r.state == SMTPREPLY_CONN_SMTP);
    CHECK_EQ_U(r.server, 0);
}

int main(void)
{
    test_matchers();
    test_decide_other_port();
    test_decide_tunnels();
    test_decide_smtp_ports();
    return CHECK_DONE();
}
