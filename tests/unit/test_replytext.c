/* SPDX-License-Identifier: MIT */
/*
 * test_replytext.c - smtpreply_read_reply on what people paste: replies of
 * one or more lines (LF, CRLF), transcript prefixes, Postfix, Exim and
 * Microsoft log and bounce lines, DSN diagnostic codes; the text buffer's
 * bound; inputs that hold no reply.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "smtpreply.h"

struct got {
    bool ok;
    struct smtpreply_pasted p;
    char text[512];
};

static struct got rd(const char *item)
{
    struct got g;
    memset(&g, 0, sizeof g);
    g.ok = smtpreply_read_reply(item, strlen(item), g.text, sizeof g.text, &g.p);
    CHECK_EQ_U(strlen(g.text), g.p.text_len);
    return g;
}

static void expect(const char *item, unsigned code, const char *esc, int cmd, const char *text,
                   unsigned nlines)
{
    struct got g = rd(item);
    char buf[16] = "";
    if (!g.ok || g.p.code != code || strcmp(g.text, text) != 0)
        fprintf(stderr, "  item: %s\n  got %u \"%s\"\n", item, g.p.code, g.text);
    CHECK(g.ok);
    CHECK_EQ_U(g.p.code, code);
    CHECK_EQ_S(g.text, text);
    CHECK_EQ_U(g.p.nlines, nlines);
    CHECK(!g.p.text_cut);
    if (esc) {
        CHECK(g.p.has_esc);
        smtpreply_esc_format(&g.p.esc, buf, sizeof buf);
        CHECK_EQ_S(buf, esc);
    } else {
        CHECK(!g.p.has_esc);
    }
    if (cmd < 0) {
        CHECK(!g.p.has_cmd);
        CHECK_EQ_U(g.p.cmd, SMTPREPLY_CMD_UNKNOWN);
    } else {
        CHECK(g.p.has_cmd);
        CHECK_EQ_U(g.p.cmd, (unsigned)cmd);
    }
}

static void check_replies(void)
{
    expect("550 5.1.1 User unknown", 550, "5.1.1", -1, "5.1.1 User unknown", 1);
    expect("221", 221, NULL, -1, "", 1);
    expect("  550 No such user here  \r\n", 550, NULL, -1, "No such user here", 1);
    /* Multi-line, LF and CRLF; the code and separator go, the rest stays. */
    expect("550-5.7.26 This mail has been blocked\n550-5.7.26 \n550 5.7.26 see the guide", 550,
           "5.7.26", -1, "5.7.26 This mail has been blocked\n5.7.26\n5.7.26 see the guide", 3);
    expect("250-mx.example greets\r\n250-8BITMIME\r\n250 SIZE 1000\r\n", 250, NULL, -1,
           "mx.example greets\n8BITMIME\nSIZE 1000", 3);
    /* The reply ends at its last line; what follows is not part of it. */
    expect("550 first\n550 second", 550, NULL, -1, "first", 1);
    expect("550-first\n451 other code", 550, NULL, -1, "first", 1);
    /* Transcript prefixes; a client line names the command. */
    expect("S: 550 5.1.1 <a@example.org>: User unknown", 550, "5.1.1", -1,
           "5.1.1 <a@example.org>: User unknown", 1);
    expect("C: RCPT TO:<bob@example.org>\nS: 554 5.7.1 <bob@example.org>: Relay access denied",
           554, "5.7.1", SMTPREPLY_CMD_RCPT, "5.7.1 <bob@example.org>: Relay access denied", 1);
    expect("-> MAIL FROM:<a@example.org> SIZE=250\n<-  552 5.3.4 Message size exceeds fixed "
           "limit",
           552, "5.3.4", SMTPREPLY_CMD_MAIL, "5.3.4 Message size exceeds fixed limit", 1);
    expect("C: .\r\nS: 554-5.7.1 first\r\nS: 554 5.7.1 second\r\n", 554, "5.7.1",
           SMTPREPLY_CMD_DATA_END, "5.7.1 first\n5.7.1 second", 2);
    expect("<** 530 5.7.0 Must issue a STARTTLS command first", 530, "5.7.0", -1,
           "5.7.0 Must issue a STARTTLS command first", 1);
    expect("c: DATA\ns: 503 5.5.1 Error: need RCPT command", 503, "5.5.1", SMTPREPLY_CMD_DATA,
           "5.5.1 Error: need RCPT command", 1);
}

static void check_logs(void)
{
    /* Postfix: the command from "(in reply to ...)", which is not text. */
    expect("Dec  5 10:00:00 mx postfix/smtp[1234]: 4F2A81C0: to=<nobody@example.com>, "
           "relay=mx.example.com[192.0.2.10]:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn=5.1.1, "
           "status=bounced (host mx.example.com[192.0.2.10] said: 550 5.1.1 "
           "<nobody@example.com>: "
           "Recipient address rejected: User unknown in local recipient table (in reply to RCPT "
           "TO "
           "command))",
           550, "5.1.1", SMTPREPLY_CMD_RCPT,
           "5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local "
           "recipient table",
           1);
    expect("host mx.example.com[192.0.2.10] said: 552 5.3.4 Message size exceeds fixed limit "
           "(In Reply To End Of DATA Command)",
           552, "5.3.4", SMTPREPLY_CMD_DATA_END, "5.3.4 Message size exceeds fixed limit", 1);
    expect("host mx[192.0.2.1] said: 553 5.7.1 <x@example.org>: Sender address rejected: not "
           "owned by user alice (in reply to MAIL FROM command)",
           553, "5.7.1", SMTPREPLY_CMD_MAIL,
           "5.7.1 <x@example.org>: Sender address rejected: not owned by user alice", 1);
    expect("host mx[192.0.2.1] said: 554 5.5.1 Error: no valid recipients (in reply to DATA "
           "command)",
           554, "5.5.1", SMTPREPLY_CMD_DATA, "5.5.1 Error: no valid recipients", 1);
    /* Postfix writes a multi-line reply on one line: split back. */
    expect("host gmail-smtp-in.l.google.com[192.0.2.26] said: 550-5.7.26 This mail has been "
           "blocked because the sender is unauthenticated. 550-5.7.26 Gmail requires all senders "
           "to authenticate with either SPF or DKIM. 550 5.7.26 - gsmtp (in reply to end of DATA "
           "command)",
           550, "5.7.26", SMTPREPLY_CMD_DATA_END,
           "5.7.26 This mail has been blocked because the sender is unauthenticated.\n5.7.26 "
           "Gmail requires all senders to authenticate with either SPF or DKIM.\n5.7.26 - gsmtp",
           3);
    expect("host mx.example.com[192.0.2.10] refused to talk to me: 554 5.7.1 Service "
           "unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
           554, "5.7.1", SMTPREPLY_CMD_CONNECT,
           "5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
           1);
    /* Exim: the log line (also "pipelined"), its bounce form. */
    expect("2024-01-15 10:00:00 1rPQ2x-0001Ab-CD ** nobody@example.org R=dnslookup "
           "T=remote_smtp H=mx.example.org [192.0.2.20]: SMTP error from remote mail server "
           "after "
           "RCPT TO:<nobody@example.org>: 550 5.1.1 <nobody@example.org>: Recipient address "
           "rejected: User unknown",
           550, "5.1.1", SMTPREPLY_CMD_RCPT,
           "5.1.1 <nobody@example.org>: Recipient address rejected: User unknown", 1);
    expect("2020-04-28 22:08:03 1m1x23-2011cZ-MN H=mta7.am0.yahoodns.net [192.0.2.106]: SMTP "
           "error from remote mail server after pipelined MAIL FROM:<sender@example.com> "
           "SIZE=1758: 421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to "
           "unexpected volume or user complaints - 4.16.55.1; see "
           "https://postmaster.yahooinc.com/error-codes",
           421, "4.7.0", SMTPREPLY_CMD_MAIL,
           "4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume "
           "or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
           1);
    expect("  SMTP error from remote mail server after end of data:\n"
           "  host mx.example.net [192.0.2.30]: 550-5.7.1 Rejected\n"
           "  550 5.7.1 see the policy\n",
           550, "5.7.1", SMTPREPLY_CMD_DATA_END, "5.7.1 Rejected\n5.7.1 see the policy", 2);
    expect("SMTP error from remote mail server after initial connection: 554 No SMTP service "
           "here",
           554, NULL, SMTPREPLY_CMD_CONNECT, "No SMTP service here", 1);
    expect("  host mx.example.net [192.0.2.30]: 550 Unrouteable address", 550, NULL, -1,
           "Unrouteable address", 1);
    /* Microsoft. */
    expect("Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not "
           "found by SMTP address lookup'",
           550, "5.1.10", -1,
           "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
           1);
    expect("remote server returned '<mx.example #5.0.0 smtp;550 5.1.1 User unknown>'", 550,
           "5.1.1", -1, "5.1.1 User unknown", 1);
    /* A DSN's Diagnostic-Code. */
    expect("Diagnostic-Code: smtp; 550 5.2.2 Mailbox full", 550, "5.2.2", -1,
           "5.2.2 Mailbox full", 1);
}

static void check_bounds(void)
{
    struct smtpreply_pasted p;
    char small[8];
    const char *item = "550-5.1.1 a long first line\n550 5.1.1 and more";
    memset(small, 'Z', sizeof small);
    CHECK(smtpreply_read_reply(item, strlen(item), small, sizeof small, &p));
    CHECK(p.text_cut);
    CHECK_EQ_U(p.text_len, sizeof small - 1);
    CHECK_EQ_S(small, "5.1.1 a");
    CHECK_EQ_U(p.nlines, 2);
    /* No buffer at all: still reads the code. */
    CHECK(smtpreply_read_reply(item, strlen(item), NULL, 0, &p));
    CHECK_EQ_U(p.code, 550);
    CHECK_EQ_U(p.text_len, 0);
    /* Length, not NUL, ends the input. */
    CHECK(smtpreply_read_reply("550 5.1.1 x451 y", 11, small, sizeof small, &p));
    CHECK_EQ_S(small, "5.1.1 x");
    /* Nothing to read. */
    {
        static const char *const none[] = {
            "",
            "hello",
            "55 short",
            "5500 four digits",
            "dsn=5.1.1, status=bounced",
            "relay=mx[192.0.2.1]:25",
            "C: RCPT TO:<a@b>",
            "2024-01-15 10:00:00 nothing",
        };
        for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
            memset(small, 'Z', sizeof small);
            CHECK(!smtpreply_read_reply(none[i], strlen(none[i]), small, sizeof small, &p));
            CHECK_EQ_U(p.code, 0);
            CHECK(!p.has_cmd);
            CHECK_EQ_S(small, "");
        }
        CHECK(!smtpreply_read_reply(NULL, 10, small, sizeof small, &p));
    }
    /* A huge input: linear, bounded, never past the buffer. */
    {
        size_t n = 1u << 20;
        char *big = malloc(n);
        char out[64];
        if (big) {
            for (size_t i = 0; i < n; i++)
                big[i] = (i % 11 == 0) ? '\n' : (char)('0' + i % 7);
            memcpy(big, "550-", 4);
            CHECK(smtpreply_read_reply(big, n, out, sizeof out, &p));
            CHECK(p.text_len < sizeof out);
            free(big);
        }
    }
}

int main(void)
{
    check_replies();
    check_logs();
    check_bounds();
    return CHECK_DONE();
}
