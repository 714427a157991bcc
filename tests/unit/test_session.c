/* SPDX-License-Identifier: MIT */
/*
 * test_session.c - the session engine against dialogues whose expected
 * pairings come from the RFCs (RFC 5321 App. D, RFC 2920 §3.1 example,
 * RFC 3030 §5, RFC 4954 §4/§8) and from the anomaly definitions, fed
 * whole, byte by byte and split at every position (split invariance).
 *
 * A script is a list of segments "C:..." / "S:..." (raw bytes, CRLF
 * written out); each segment is one feed of that direction.  Events are
 * rendered one per line:
 *   C VERB [!anomalies]         command
 *   R CODE STAGE VERB|- [esc] [!anomalies]   reply (VERB of the command it answers)
 *   U VERB                      unanswered at finish
 *   A name c|s                  anomaly on its own
 *   T                           TLS from here on
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "smtpreply.h"

struct log {
    char buf[16384];
    size_t len;
    bool detail; /* add tags, times, nlines, text: for split comparisons */
};

static void logf_(struct log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void logf_(struct log *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->buf + l->len, sizeof l->buf - l->len, fmt, ap);
    va_end(ap);
    if (n > 0 && l->len + (size_t)n < sizeof l->buf)
        l->len += (size_t)n;
}

static void log_anoms(struct log *l, smtpreply_anomaly_set set)
{
    const char *sep = " !";
    for (unsigned a = 0; a < SMTPREPLY_ANOM__COUNT; a++) {
        if (set & ((smtpreply_anomaly_set)1u << a)) {
            logf_(l, "%s%s", sep, smtpreply_anomaly_name((enum smtpreply_anomaly)a));
            sep = ",";
        }
    }
}

static void on_event(void *user, const struct smtpreply_event *ev)
{
    struct log *l = user;
    char esc[16];
    switch (ev->type) {
    case SMTPREPLY_EV_COMMAND:
        logf_(l, "C %s", ev->cmd.verb);
        break;
    case SMTPREPLY_EV_REPLY:
        logf_(l, "R %03u %s %s", ev->code, smtpreply_stage_name(ev->stage),
              ev->has_cmd ? ev->cmd.verb : "-");
        if (ev->has_esc)
            logf_(l, " %s", smtpreply_esc_format(&ev->esc, esc, sizeof esc));
        break;
    case SMTPREPLY_EV_UNANSWERED:
        logf_(l, "U %s", ev->cmd.verb);
        break;
    case SMTPREPLY_EV_ANOMALY:
        logf_(l, "A %s %c", smtpreply_anomaly_name(ev->anomaly),
              ev->dir == SMTPREPLY_DIR_CLIENT ? 'c' : 's');
        break;
    case SMTPREPLY_EV_TLS:
        logf_(l, "T");
        break;
    }
    if (ev->type != SMTPREPLY_EV_ANOMALY)
        log_anoms(l, ev->anomalies);
    if (l->detail) {
        logf_(l, " |ts=%lld tag=%llu ft=%llu", (long long)ev->ts_us, (unsigned long long)ev->tag,
              (unsigned long long)ev->first_tag);
        if (ev->type == SMTPREPLY_EV_REPLY)
            logf_(l, " n=%u rt=%lld seq=%llu text=%.*s", ev->nlines, (long long)ev->rt_us,
                  (unsigned long long)ev->cmd.seq, (int)ev->text_len, ev->text);
        if (ev->type == SMTPREPLY_EV_COMMAND)
            logf_(l, " text=%.*s", (int)ev->text_len, ev->text);
        if (ev->rcpt)
            logf_(l, " rcpt=%.*s", (int)ev->rcpt_len, ev->rcpt);
        if (ev->type == SMTPREPLY_EV_REPLY)
            logf_(l, " full=%.*s%s", (int)ev->full_text_len, ev->full_text,
                  ev->full_text_cut ? "[cut]" : "");
    }
    logf_(l, "\n");
}

/* How to cut each segment: 0 whole, 1 byte by byte, k+2: split at k. */
static void run(const char *const *script, unsigned flags, const struct smtpreply_limits *lim,
                int mode, size_t split, struct log *l, struct smtpreply_session_stats *st)
{
    struct smtpreply_session *s = smtpreply_session_new(lim, NULL, NULL, on_event, l, flags);
    for (size_t i = 0; script[i]; i++) {
        enum smtpreply_dir dir =
            script[i][0] == 'C' ? SMTPREPLY_DIR_CLIENT : SMTPREPLY_DIR_SERVER;
        const uint8_t *p = (const uint8_t *)script[i] + 2;
        size_t n = strlen(script[i] + 2);
        if (script[i][0] == 'G') { /* "G:<c|s><count>": a gap */
            smtpreply_session_gap(s, p[0] == 'c' ? SMTPREPLY_DIR_CLIENT : SMTPREPLY_DIR_SERVER,
                                  strtoull((const char *)p + 1, NULL, 10), (int64_t)i * 1000,
                                  i + 1);
            continue;
        }
        if (mode == 0) {
            smtpreply_session_feed(s, dir, p, n, (int64_t)i * 1000, i + 1);
        } else if (mode == 1) {
            for (size_t k = 0; k < n; k++)
                smtpreply_session_feed(s, dir, p + k, 1, (int64_t)i * 1000, i + 1);
        } else {
            size_t k = split < n ? split : n;
            smtpreply_session_feed(s, dir, p, k, (int64_t)i * 1000, i + 1);
            smtpreply_session_feed(s, dir, p + k, n - k, (int64_t)i * 1000, i + 1);
        }
    }
    smtpreply_session_finish(s, 999999, 9999);
    if (st)
        *st = *smtpreply_session_stats(s);
    smtpreply_session_free(s);
}

static size_t script_max_len(const char *const *script)
{
    size_t m = 0;
    for (size_t i = 0; script[i]; i++)
        if (strlen(script[i]) > m)
            m = strlen(script[i]);
    return m;
}

/* Feeds the script whole and compares with `expect`; then checks that
 * byte-by-byte and every split position give identical detailed logs. */
static void expect_script(const char *name, const char *const *script, unsigned flags,
                          const char *expect)
{
    static struct log whole, other;
    memset(&whole, 0, sizeof whole);
    run(script, flags, NULL, 0, 0, &whole, NULL);
    if (strcmp(whole.buf, expect) != 0) {
        check_failed++;
        fprintf(stderr, "%s: events differ\n--- expected\n%s--- got\n%s---\n", name, expect,
                whole.buf);
    } else {
        check_passed++;
    }
    memset(&whole, 0, sizeof whole);
    whole.detail = true;
    run(script, flags, NULL, 0, 0, &whole, NULL);
    size_t maxlen = script_max_len(script);
    for (size_t mode = 1; mode < maxlen + 2; mode++) {
        memset(&other, 0, sizeof other);
        other.detail = true;
        run(script, flags, NULL, mode == 1 ? 1 : 2, mode - 2, &other, NULL);
        if (strcmp(whole.buf, other.buf) != 0) {
            check_failed++;
            fprintf(stderr, "%s: split mode %zu differs\n--- whole\n%s--- split\n%s---\n", name,
                    mode, whole.buf, other.buf);
            return;
        }
    }
    check_passed++;
}

#define S(...) ((const char *const[]){__VA_ARGS__, NULL})

/* RFC 5321 Appendix D.1: a typical SMTP transaction scenario. */
static void test_rfc5321_d1(void)
{
    expect_script("rfc5321-D1",
                  S("S:220 foo.com Simple Mail Transfer Service Ready\r\n", "C:EHLO bar.com\r\n",
                    "S:250-foo.com greets bar.com\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n"
                    "250 HELP\r\n",
                    "C:MAIL FROM:<Smith@bar.com>\r\n", "S:250 OK\r\n",
                    "C:RCPT TO:<Jones@foo.com>\r\n", "S:250 OK\r\n",
                    "C:RCPT TO:<Green@foo.com>\r\n", "S:550 No such user here\r\n",
                    "C:RCPT TO:<Brown@foo.com>\r\n", "S:250 OK\r\n", "C:DATA\r\n",
                    "S:354 Start mail input; end with <CRLF>.<CRLF>\r\n",
                    "C:Blah blah blah...\r\n...etc. etc. etc.\r\n", "C:.\r\n", "S:250 OK\r\n",
                    "C:QUIT\r\n", "S:221 foo.com Service closing transmission channel\r\n"),
                  0,
                  "R 220 greeting -\n"
                  "C EHLO\nR 250 reply EHLO\n"
                  "C MAIL\nR 250 reply MAIL\n"
                  "C RCPT\nR 250 reply RCPT\n"
                  "C RCPT\nR 550 reply RCPT\n"
                  "C RCPT\nR 250 reply RCPT\n"
                  "C DATA\nR 354 data-start DATA\n"
                  "R 250 data-end DATA\n"
                  "C QUIT\nR 221 reply QUIT\n");
}

/* RFC 5321 Appendix D.2 (aborted transaction) and D.3 (relayed mail) and
 * D.4 (verifying and sending). */
static void test_rfc5321_d2_d4(void)
{
    expect_script("rfc5321-D2",
                  S("S:220 foo.com Simple Mail Transfer Service Ready\r\n", "C:EHLO bar.com\r\n",
                    "S:250-foo.com greets bar.com\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n"
                    "250 HELP\r\n",
                    "C:MAIL FROM:<Smith@bar.com>\r\n", "S:250 OK\r\n",
                    "C:RCPT TO:<Jones@foo.com>\r\n", "S:250 OK\r\n",
                    "C:RCPT TO:<Green@foo.com>\r\n", "S:550 No such user here\r\n", "C:RSET\r\n",
                    "S:250 OK\r\n", "C:QUIT\r\n",
                    "S:221 foo.com Service closing transmission channel\r\n"),
                  0,
                  "R 220 greeting -\nC EHLO\nR 250 reply EHLO\nC MAIL\nR 250 reply MAIL\n"
                  "C RCPT\nR 250 reply RCPT\nC RCPT\nR 550 reply RCPT\nC RSET\nR 250 reply RSET\n"
                  "C QUIT\nR 221 reply QUIT\n");
    /* D.4: VRFY, SEND-less verification. */
    expect_script("rfc5321-D4",
                  S("S:220 foo.com Simple Mail Transfer Service Ready\r\n", "C:EHLO bar.com\r\n",
                    "S:250-foo.com greets bar.com\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n"
                    "250-VRFY\r\n250 HELP\r\n",
                    "C:VRFY Crispin\r\n", "S:250 Mark Crispin <Admin.MRC@foo.com>\r\n",
                    "C:MAIL FROM:<EAK@bar.com>\r\n", "S:250 OK\r\n",
                    "C:RCPT TO:<Admin.MRC@foo.com>\r\n", "S:250 OK\r\n", "C:DATA\r\n",
                    "S:354 Start mail input; end with <CRLF>.<CRLF>\r\n",
                    "C:Blah blah blah...\r\n...etc. etc. etc.\r\n.\r\n", "S:250 OK\r\n",
                    "C:QUIT\r\n", "S:221 foo.com Service closing transmission channel\r\n"),
                  0,
                  "R 220 greeting -\nC EHLO\nR 250 reply EHLO\nC VRFY\nR 250 reply VRFY\n"
                  "C MAIL\nR 250 reply MAIL\nC RCPT\nR 250 reply RCPT\nC DATA\n"
                  "R 354 data-start DATA\nR 250 data-end DATA\nC QUIT\nR 221 reply QUIT\n");
}

/* RFC 2920 §3.1's example: the client pipelines MAIL, RCPTs and DATA. */
static void test_rfc2920(void)
{
    expect_script("rfc2920",
                  S("S:220 innosoft.com SMTP service ready\r\n", "C:EHLO dbc.mtview.ca.us\r\n",
                    "S:250-innosoft.com\r\n250 PIPELINING\r\n",
                    "C:MAIL FROM:<mrose@dbc.mtview.ca.us>\r\nRCPT TO:<ned@innosoft.com>\r\n"
                    "RCPT TO:<dan@innosoft.com>\r\nRCPT TO:<kvc@innosoft.com>\r\nDATA\r\n",
                    "S:250 sender <mrose@dbc.mtview.ca.us> OK\r\n"
                    "250 recipient <ned@innosoft.com> OK\r\n"
                    "250 recipient <dan@innosoft.com> OK\r\n"
                    "250 recipient <kvc@innosoft.com> OK\r\n"
                    "354 enter mail, end with line containing only \".\"\r\n",
                    "C: ...\r\n.\r\nQUIT\r\n", "S:250 message sent\r\n221 goodbye\r\n"),
                  0,
                  "R 220 greeting -\nC EHLO\nR 250 reply EHLO\n"
                  "C MAIL\nC RCPT\nC RCPT\nC RCPT\nC DATA\n"
                  "R 250 reply MAIL\nR 250 reply RCPT\nR 250 reply RCPT\nR 250 reply RCPT\n"
                  "R 354 data-start DATA\n"
                  "C QUIT\nR 250 data-end DATA\nR 221 reply QUIT\n");
}

/* RFC 3030 §5: BDAT chunks, pipelined, with content that looks like commands. */
static void test_rfc3030(void)
{
    expect_script(
        "rfc3030-5.1",
        S("S:220 cnri.reston.va.us SMTP service ready\r\n", "C:EHLO ymir.claremont.edu\r\n",
          "S:250-cnri.reston.va.us says hello\r\n250 CHUNKING\r\n",
          "C:MAIL FROM:<Sam@Random.com>\r\n", "S:250 <Sam@Random.com>... Sender ok\r\n",
          "C:RCPT TO:<Susan@Random.com>\r\n", "S:250 <Susan@random.com>... Recipient ok\r\n",
          "C:BDAT 86 LAST\r\n",
          "C:To: Susan@random.com\r\nFrom: Sam@random.com\r\nSubject: This is a bodyless "
          "test message\r\n",
          "S:250 Message OK, 86 octets received\r\n", "C:QUIT\r\n", "S:221 goodbye\r\n"),
        0,
        "R 220 greeting -\nC EHLO\nR 250 reply EHLO\nC MAIL\nR 250 reply MAIL\n"
        "C RCPT\nR 250 reply RCPT\nC BDAT\nR 250 bdat BDAT\nC QUIT\nR 221 reply QUIT\n");
    /* §5.2 pipelined: three chunks, the second holds "QUIT" and a lone dot. */
    expect_script("rfc3030-5.2",
                  S("S:220 cnri.reston.va.us SMTP service ready\r\n",
                    "C:EHLO ymir.claremont.edu\r\n",
                    "S:250-cnri.reston.va.us says hello\r\n250-PIPELINING\r\n250-BINARYMIME\r\n"
                    "250 CHUNKING\r\n",
                    "C:MAIL FROM:<ned@ymir.claremont.edu> BODY=BINARYMIME\r\n"
                    "RCPT TO:<gvaudre@cnri.reston.va.us>\r\nRCPT "
                    "TO:<jstewart@cnri.reston.va.us>\r\n"
                    "BDAT 10\r\nQUIT\r\n.\r\nX"
                    "BDAT 12\r\nRSET\r\nDATA\r\n"
                    "BDAT 0 LAST\r\n",
                    "S:250 <ned@ymir.claremont.edu>... Sender and BINARYMIME ok\r\n"
                    "250 <gvaudre@cnri.reston.va.us>... Recipient ok\r\n"
                    "550 <jstewart@cnri.reston.va.us>... User unknown\r\n"
                    "250 10 octets received\r\n250 12 octets received\r\n"
                    "250 Message OK, 22 octets received\r\n",
                    "C:QUIT\r\n", "S:221 goodbye\r\n"),
                  0,
                  "R 220 greeting -\nC EHLO\nR 250 reply EHLO\n"
                  "C MAIL\nC RCPT\nC RCPT\nC BDAT\nC BDAT\nC BDAT\n"
                  "R 250 reply MAIL\nR 250 reply RCPT\nR 550 reply RCPT\nR 250 bdat BDAT\n"
                  "R 250 bdat BDAT\nR 250 bdat BDAT\nC QUIT\nR 221 reply QUIT\n");
    /* A bad size is a command without a chunk, flagged. */
    expect_script("bdat-bad-size",
                  S("S:220 x\r\n", "C:BDAT xyz\r\n", "S:501 5.5.4 bad size\r\n", "C:QUIT\r\n",
                    "S:221 bye\r\n"),
                  0,
                  "R 220 greeting -\nC BDAT !bdat-bad-size\nR 501 bdat BDAT 5.5.4\nC QUIT\n"
                  "R 221 reply QUIT\n");
    /* RFC 3030 §2: only LAST may follow the size; 1-19 digits, at most
     * 2^63-1.  None of these takes the pipelined line after it. */
    expect_script("bdat-bad-tail",
                  S("S:220 x\r\n", "C:BDAT 5 X\r\nMAIL FROM:<a>\r\n"
                                   "BDAT 15555555557777777777 LAST\r\nRSET\r\n"
                                   "BDAT 9223372036854775808\r\nHELP\r\n"
                                   "BDAT 9223372036854775807 LAST junk\r\nQUIT\r\n"),
                  0,
                  "R 220 greeting -\nC BDAT !bdat-bad-size\nC MAIL\nC BDAT !bdat-bad-size\n"
                  "C RSET\nC BDAT !bdat-bad-size\nC HELP\nC BDAT !bdat-bad-size\nC QUIT\n"
                  "U BDAT !command-unanswered\nU MAIL !command-unanswered\n"
                  "U BDAT !command-unanswered\nU RSET !command-unanswered\n"
                  "U BDAT !command-unanswered\nU HELP !command-unanswered\n"
                  "U BDAT !command-unanswered\nU QUIT !command-unanswered\n");
    /* The largest size is a size: the line after it is chunk data. */
    expect_script("bdat-max-size",
                  S("S:220 x\r\n", "C:BDAT 9223372036854775807  last\r\nQUIT\r\n"), 0,
                  "R 220 greeting -\nC BDAT\nU BDAT !command-unanswered\n");
    /* A valid BDAT refused before any chunk octet, then a command: no
     * chunk was sent.  Refused before its chunk but followed by data: the
     * data is the chunk.  Refused after the chunk began: nothing changes. */
    expect_script("bdat-refused-early",
                  S("S:220 x\r\n", "C:BDAT 100 LAST\r\n", "S:503 5.5.1 need MAIL\r\n",
                    "C:QUIT\r\n", "S:221 bye\r\n"),
                  0,
                  "R 220 greeting -\nC BDAT\nR 503 bdat BDAT 5.5.1\nC QUIT\nR 221 reply QUIT\n");
    expect_script("bdat-refused-data-follows",
                  S("S:220 x\r\n", "C:BDAT 11\r\n", "S:452 full\r\n", "C:QUITTER x\r\n",
                    "C:QUIT\r\n", "S:221 bye\r\n"),
                  0, "R 220 greeting -\nC BDAT\nR 452 bdat BDAT\nC QUIT\nR 221 reply QUIT\n");
    expect_script("bdat-refused-late",
                  S("S:220 x\r\n", "C:BDAT 6\r\nQU", "S:554 no\r\n", "C:IT\r\nRSET\r\n",
                    "S:250 ok\r\n"),
                  0, "R 220 greeting -\nC BDAT\nR 554 bdat BDAT\nC RSET\nR 250 reply RSET\n");
}

/* RFC 4954 §4 and §8 examples. */
static void test_rfc4954(void)
{
    /* §8: GSSAPI with challenges, then PLAIN with an initial response. */
    expect_script("rfc4954-8",
                  S("S:220 smtp.example.com ESMTP server ready\r\n", "C:EHLO jgm.example.com\r\n",
                    "S:250-smtp.example.com\r\n250 AUTH GSSAPI DIGEST-MD5\r\n",
                    "C:AUTH GSSAPI\r\n", "S:334 \r\n",
                    "C:YIIB+wYJKoZIhvcSAQICAQBuggHqMIIB5qADAgEFoQMCAQ6iBw\r\n",
                    "S:334 YGgGCSqGSIb3EgECAgIAb1kwV6ADAgEFoQMCAQ+iSzBJoAMC\r\n", "C:\r\n",
                    "S:334 YDMGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3KkTzBeBiVHe\r\n",
                    "C:YDMGCSqGSIb3EgECAgIBAAD/////3LQBHXTpFfZgrejpLlLImP\r\n",
                    "S:235 2.7.0 Authentication successful\r\n"),
                  0,
                  "R 220 greeting -\nC EHLO\nR 250 reply EHLO\nC AUTH\n"
                  "R 334 auth-challenge AUTH\n" /* "334 " is RFC 4954's empty challenge */
                  "R 334 auth-challenge AUTH\nR 334 auth-challenge AUTH\n"
                  "R 235 auth-final AUTH 2.7.0\n");
    expect_script("rfc4954-plain-ir",
                  S("S:220 smtp.example.com ESMTP server ready\r\n", "C:EHLO jgm.example.com\r\n",
                    "S:250-smtp.example.com\r\n250 AUTH GSSAPI DIGEST-MD5 PLAIN\r\n",
                    "C:AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=\r\n",
                    "S:235 2.7.0 Authentication successful\r\n", "C:QUIT\r\n", "S:221 bye\r\n"),
                  0,
                  "R 220 greeting -\nC EHLO\nR 250 reply EHLO\nC AUTH\n"
                  "R 235 auth-final AUTH 2.7.0\nC QUIT\nR 221 reply QUIT\n");
    /* "*" cancels: 501 expected; a 235 after "*" is flagged. */
    expect_script("auth-cancel",
                  S("S:220 x\r\n", "C:AUTH LOGIN\r\n", "S:334 VXNlcm5hbWU6\r\n", "C:*\r\n",
                    "S:501 5.0.0 Authentication aborted\r\n", "C:AUTH LOGIN\r\n",
                    "S:334 VXNlcm5hbWU6\r\n", "C:*\r\n", "S:235 ok\r\n", "C:QUIT\r\n",
                    "S:221 bye\r\n"),
                  0,
                  "R 220 greeting -\nC AUTH\nR 334 auth-challenge AUTH\n"
                  "R 501 auth-final AUTH 5.0.0\nC AUTH\nR 334 auth-challenge AUTH\n"
                  "R 235 auth-final AUTH !code-unexpected-for-command\nC QUIT\nR 221 reply "
                  "QUIT\n");
    /* A SASL response that looks like a command is not one. */
    expect_script("auth-login-quit-lookalike",
                  S("S:220 x\r\n", "C:AUTH LOGIN\r\n", "S:334 VXNlcm5hbWU6\r\n", "C:QUIT\r\n",
                    "S:334 UGFzc3dvcmQ6\r\n", "C:DATA\r\n", "S:535 5.7.8 bad\r\n", "C:QUIT\r\n",
                    "S:221 bye\r\n"),
                  0,
                  "R 220 greeting -\nC AUTH\nR 334 auth-challenge AUTH\n"
                  "R 334 auth-challenge AUTH\nR 535 auth-final AUTH 5.7.8\n"
                  "C QUIT\nR 221 reply QUIT\n");
}

static void test_starttls(void)
{
    expect_script("starttls-tls",
                  S("S:220 mx ESMTP\r\n", "C:EHLO c\r\n", "S:250-mx\r\n250 STARTTLS\r\n",
                    "C:STARTTLS\r\n", "S:220 2.0.0 Ready to start TLS\r\n",
                    "C:\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03QUIT\r\n",
                    "S:\x16\x03\x03\x00\x7a\x02\r\n250 fake\r\n", "C:QUIT\r\n"),
                  0,
                  "R 220 greeting -\nC EHLO\nR 250 reply EHLO\nC STARTTLS\n"
                  "R 220 reply STARTTLS 2.0.0\nT\n");
    /* The server's record may come first in the capture order. */
    expect_script("starttls-server-first",
                  S("S:220 mx ESMTP\r\n", "C:STARTTLS\r\n", "S:220 Ready\r\n\x16\x03\x03\x00\x7a",
                    "C:\x16\x03\x01"),
                  0, "R 220 greeting -\nC STARTTLS\nR 220 reply STARTTLS\nT\n");
    /* A decrypted capture: plain SMTP after 220 is parsed on. */
    expect_script("starttls-decrypted",
                  S("S:220 mx ESMTP\r\n", "C:STARTTLS\r\n", "S:220 Ready\r\n", "C:EHLO c\r\n",
                    "S:250 mx\r\n", "C:QUIT\r\n", "S:221 bye\r\n"),
                  0,
                  "R 220 greeting -\nC STARTTLS\nR 220 reply STARTTLS\nC EHLO\nR 250 reply EHLO\n"
                  "C QUIT\nR 221 reply QUIT\n");
    expect_script("starttls-refused",
                  S("S:220 mx ESMTP\r\n", "C:STARTTLS\r\n",
                    "S:454 4.7.0 TLS not available due to temporary reason\r\n", "C:QUIT\r\n",
                    "S:221 bye\r\n"),
                  0,
                  "R 220 greeting -\nC STARTTLS\nR 454 reply STARTTLS 4.7.0\nC QUIT\n"
                  "R 221 reply QUIT\n");
    /* Implicit TLS (port 465): the first bytes are a TLS record. */
    expect_script("implicit-tls", S("C:\x16\x03\x01\x00\x05hello", "S:\x16\x03\x03"), 0, "T\n");
}

static void test_data(void)
{
    /* Dot-stuffing: "..x" is data, "." alone ends; a refused DATA has no body. */
    expect_script("data-dots",
                  S("S:220 x\r\n", "C:MAIL FROM:<a@b>\r\n", "S:250 ok\r\n", "C:RCPT TO:<c@d>\r\n",
                    "S:250 ok\r\n", "C:DATA\r\n", "S:354 go\r\n",
                    "C:..\r\n.QUIT\r\n. \r\nRSET\r\n.\r\n", "S:250 queued\r\n", "C:DATA\r\n",
                    "S:503 5.5.1 no recipients\r\n", "C:QUIT\r\n", "S:221 bye\r\n"),
                  0,
                  "R 220 greeting -\nC MAIL\nR 250 reply MAIL\nC RCPT\nR 250 reply RCPT\n"
                  "C DATA\nR 354 data-start DATA\nR 250 data-end DATA\nC DATA\n"
                  "R 503 data-start DATA 5.5.1\nC QUIT\nR 221 reply QUIT\n");
    /* Body sent before 354: held, then read as body. */
    expect_script("data-before-354",
                  S("S:220 x\r\n", "C:DATA\r\nSubject: hi\r\n\r\nbody\r\n.\r\n", "S:354 go\r\n",
                    "S:250 ok\r\n", "C:QUIT\r\n", "S:221 bye\r\n"),
                  0,
                  "R 220 greeting -\nC DATA\nR 354 data-start DATA !client-data-before-354\n"
                  "R 250 data-end DATA\nC QUIT\nR 221 reply QUIT\n");
    /* Refused DATA with pipelined commands behind it: they are commands. */
    expect_script("data-refused-pipelined",
                  S("S:220 x\r\n", "C:DATA\r\nQUIT\r\n", "S:554 5.5.1 no valid recipients\r\n",
                    "S:221 bye\r\n"),
                  0,
                  "R 220 greeting -\nC DATA\nR 554 data-start DATA 5.5.1\n"
                  "C QUIT !pipelining-command-not-last\nR 221 reply QUIT\n");
    /* Text line over 1000 octets (not counting a stuffed dot), bare LF in body. */
    static char body[2200];
    memset(body, 0, sizeof body);
    strcpy(body, "C:.");
    memset(body + 3, 'a', 998); /* ".aaa" 999 + CRLF = 1001, minus the dot: 1000: fine */
    strcat(body, "\r\n");
    size_t at = strlen(body);
    memset(body + at, 'b', 999); /* 999 + CRLF = 1001: too long */
    strcat(body, "\r\nbare\n.\r\n");
    expect_script("data-long-lines",
                  S("S:220 x\r\n", "C:DATA\r\n", "S:354 go\r\n", body, "S:250 ok\r\n"), 0,
                  "R 220 greeting -\nC DATA\nR 354 data-start DATA\nA text-line-too-long c\n"
                  "A bare-lf c\nR 250 data-end DATA\n");
}

static void test_replies(void)
{
    expect_script("reply-forms",
                  S("S:220-first\r\n220-second\r\n220 third\r\n", "C:EHLO x\r\n",
                    "S:250-a\r\n251 b\r\n", "C:NOOP\r\n", "S:250\r\n", "C:NOOP\r\n", "S:250 \r\n",
                    "C:NOOP\r\n", "S:472 nope\r\n", "C:NOOP\r\n", "S:600 odd\r\n",
                    "C:RCPT TO:<a@b>\r\n", "S:550 4.1.1 no\r\n", "C:RCPT TO:<a@b>\r\n",
                    "S:550-5.1.1 no\r\n550 5.1.2 no\r\n", "C:DATA\r\n", "S:354 2.0.0 go\r\n"),
                  0,
                  "R 220 greeting -\nC EHLO\nR 251 reply EHLO !code-unexpected-for-command,"
                  "multiline-code-mismatch\n"
                  "C NOOP\nR 250 reply NOOP !reply-without-text\n"
                  "C NOOP\nR 250 reply NOOP !reply-without-text\n"
                  "C NOOP\nR 472 reply NOOP !invalid-code\n"
                  "C NOOP\nR 600 reply NOOP !invalid-code\n"
                  "C RCPT\nR 550 reply RCPT 4.1.1 !enhanced-class-mismatch\n"
                  "C RCPT\nR 550 reply RCPT 5.1.1 !enhanced-code-inconsistent\n"
                  "C DATA\nR 354 data-start DATA 2.0.0 !enhanced-code-on-3xx\n");
    expect_script("not-a-reply",
                  S("S:220 x\r\n", "C:NOOP\r\n", "S:hello\r\n250-a\r\nfoo\r\n250 b\r\n"), 0,
                  "R 220 greeting -\nC NOOP\nA malformed-reply-line s\n"
                  "R 250 reply NOOP !malformed-reply-line\n");
    expect_script("greeting-odd", S("S:250 hi\r\n", "C:QUIT\r\n", "S:221 bye\r\n"), 0,
                  "R 250 greeting - !greeting-code-unexpected\nC QUIT\nR 221 reply QUIT\n");
    expect_script("bare-lf-and-unsolicited",
                  S("S:220 x\n", "C:NOOP\n", "S:250 ok\r\n", "S:250 extra\r\n",
                    "S:421 4.4.2 closing\r\n"),
                  0,
                  "R 220 greeting - !bare-lf\nC NOOP !bare-lf\nR 250 reply NOOP\n"
                  "R 250 unsolicited - !reply-without-command\nR 421 unsolicited - 4.4.2\n");
    expect_script("unanswered",
                  S("S:220 x\r\n", "C:MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n", "S:250 ok\r\n",
                    "C:QUIT"),
                  0,
                  "R 220 greeting -\nC MAIL\nC RCPT\nR 250 reply MAIL\nC QUIT\n"
                  "U RCPT !command-unanswered\nU QUIT !command-unanswered\n");
    /* A last reply line without CRLF still counts. */
    expect_script("final-no-crlf", S("S:220 x\r\n", "C:QUIT\r\n", "S:221 bye"), 0,
                  "R 220 greeting -\nC QUIT\nR 221 reply QUIT\n");
    /* Response time and tags. */
    struct log l;
    memset(&l, 0, sizeof l);
    l.detail = true;
    run(S("S:220 x\r\n", "C:NOOP\r\n", "S:250 ok\r\n"), 0, NULL, 0, 0, &l, NULL);
    CHECK(strstr(l.buf, "R 250 reply NOOP |ts=2000 tag=3 ft=3 n=1 rt=1000 seq=1 text=ok") !=
          NULL);
}

static void test_midstream_and_gaps(void)
{
    expect_script("midstream",
                  S("C:ld\r\nRCPT TO:<a@b>\r\n", "S:lo\r\n250 ok\r\n250 ok\r\n", "C:QUIT\r\n",
                    "S:221 bye\r\n"),
                  SMTPREPLY_SESSION_MIDSTREAM,
                  "C RCPT\nR 250 reply RCPT\nR 250 unsolicited - !reply-without-command\n"
                  "C QUIT\nR 221 reply QUIT\n");
    /* Replies to commands sent before the capture started are not flagged. */
    expect_script("midstream-early-replies",
                  S("S:250 2.1.5 ok\r\n", "C:xt\r\n.\r\nQUIT\r\n", "S:250 queued\r\n221 bye\r\n"),
                  SMTPREPLY_SESSION_MIDSTREAM,
                  "R 250 unsolicited - 2.1.5\nC QUIT\nR 250 reply QUIT "
                  "!code-unexpected-for-command\n"
                  "R 221 unsolicited - !reply-without-command\n");
    expect_script("midstream-220", S("S:220 hi\r\n", "C:EHLO x\r\n", "S:250 ok\r\n"),
                  SMTPREPLY_SESSION_MIDSTREAM, "R 220 greeting -\nC EHLO\nR 250 reply EHLO\n");
    expect_script("gap-client",
                  S("S:220 x\r\n", "C:MAIL FR", "G:c100", "C:OM:<a>\r\nRCPT TO:<b>\r\n",
                    "S:250 ok\r\n"),
                  0, "R 220 greeting -\nA gap c\nC RCPT\nR 250 reply RCPT\n");
    expect_script("gap-server",
                  S("S:220 x\r\n", "C:MAIL FROM:<a>\r\nRCPT TO:<b>\r\n", "S:25", "G:s10",
                    "S:0 ok\r\n250 ok\r\n", "C:QUIT\r\n", "S:221 bye\r\n"),
                  0,
                  "R 220 greeting -\nC MAIL\nC RCPT\nA gap s\nR 250 unsolicited -\n"
                  "C QUIT\nR 221 reply QUIT\n");
    /* A reply line cut by a gap counts once its code and separator came;
     * shorter, or a "250-" line, it is lost with the reply. */
    expect_script("gap-server-cut-line",
                  S("S:220 x\r\n", "C:MAIL FROM:<a>\r\nRCPT TO:<b>\r\n", "S:250 2.1.0 O", "G:s4",
                    "S:250 ok\r\n", "C:QUIT\r\n", "S:221 by", "G:s3"),
                  0,
                  "R 220 greeting -\nC MAIL\nC RCPT\nR 250 reply MAIL 2.1.0\nA gap s\n"
                  "R 250 unsolicited -\nC QUIT\nR 221 reply QUIT\nA gap s\n");
    expect_script("gap-server-cut-short",
                  S("S:220 x\r\n", "C:NOOP\r\n", "S:250", "G:s4", "C:NOOP\r\n",
                    "S:250-a\r\n250-b", "G:s4", "C:QUIT\r\n", "S:221 bye\r\n"),
                  0,
                  "R 220 greeting -\nC NOOP\nA gap s\nC NOOP\nA gap s\nC QUIT\n"
                  "R 221 reply QUIT\n");
    expect_script("gap-body",
                  S("S:220 x\r\n", "C:DATA\r\n", "S:354 go\r\n", "C:some body\r\n", "G:c5000",
                    "C:more\r\nQUIT\r\n", "S:221 bye\r\n"),
                  0,
                  "R 220 greeting -\nC DATA\nR 354 data-start DATA\nA gap c\nC QUIT\n"
                  "R 221 reply QUIT\n");
    /* The final dot was lost: the server's reply shows the body ended. */
    expect_script("gap-body-reply",
                  S("S:220 x\r\n", "C:DATA\r\n", "S:354 go\r\n", "C:some body\r\n", "G:c5000",
                    "C:tail of a line\r\n", "S:250 2.0.0 queued\r\n", "C:QUIT\r\n",
                    "S:221 bye\r\n"),
                  0,
                  "R 220 greeting -\nC DATA\nR 354 data-start DATA\nA gap c\n"
                  "R 250 data-end DATA 2.0.0\nC QUIT\nR 221 reply QUIT\n");
    /* A reply with nothing waiting while the client has sent part of a
     * line: the server took the line as a command.  A 421 may come unasked
     * (a timeout): the part stays a line, a command only at the end. */
    expect_script("reply-to-partial-line",
                  S("S:220 x\r\n", "C:NOOP\r\nJUNK", "S:250 ok\r\n", "S:500 what\r\n"), 0,
                  "R 220 greeting -\nC NOOP\nR 250 reply NOOP\nC JUNK\nR 500 reply JUNK\n");
    expect_script("421-with-partial-line", S("S:220 x\r\n", "C:QUI", "S:421 4.4.2 timeout\r\n"),
                  0,
                  "R 220 greeting -\nR 421 unsolicited - 4.4.2\nC QUI\nU QUI "
                  "!command-unanswered\n");
    /* Server bytes lost while AUTH waits: a 334 after the gap can only
     * answer AUTH, so the pairing holds; a 250 could answer anything, so
     * the commands that waited at the gap are dropped (their replies may
     * be lost) and it answers MAIL, sent after the gap. */
    expect_script("gap-server-334",
                  S("S:220 x\r\n", "C:AUTH LOGIN\r\n", "G:s40", "S:334 VXNlcm5hbWU6\r\n",
                    "C:dXNlcg==\r\n", "S:235 ok\r\n"),
                  0,
                  "R 220 greeting -\nC AUTH\nA gap s\nR 334 auth-challenge AUTH\n"
                  "R 235 auth-final AUTH\n");
    expect_script("gap-server-250",
                  S("S:220 x\r\n", "C:EHLO x\r\n", "G:s40", "C:MAIL FROM:<a>\r\n", "S:250 ok\r\n",
                    "S:250 ok\r\n"),
                  0,
                  "R 220 greeting -\nC EHLO\nA gap s\nC MAIL\nR 250 reply MAIL\n"
                  "R 250 unsolicited - !reply-without-command\n");
    /* A client gap swallowed DATA: the server's 354 starts the body, so
     * its lines are not commands; the next reply answers its end. */
    expect_script("gap-lost-data",
                  S("S:220 x\r\n", "C:MAIL FROM:<a>\r\n", "S:250 ok\r\n", "G:c30", "S:354 go\r\n",
                    "C:some text\r\nmore text\r\n", "S:250 queued\r\n", "C:QUIT\r\n",
                    "S:221 bye\r\n"),
                  0,
                  "R 220 greeting -\nC MAIL\nR 250 reply MAIL\nA gap c\nR 354 unsolicited -\n"
                  "R 250 data-end DATA\nC QUIT\nR 221 reply QUIT\n");
    expect_script("gap-bdat",
                  S("S:220 x\r\n", "C:BDAT 100 LAST\r\n0123456789", "G:c50",
                    "C:0123456789"
                    "012345678901234567890123456789QUIT\r\n",
                    "S:250 ok\r\n", "S:221 bye\r\n"),
                  0,
                  "R 220 greeting -\nC BDAT\nA gap c\nC QUIT\nR 250 bdat BDAT\n"
                  "R 221 reply QUIT\n");
}

static void test_limits(void)
{
    struct smtpreply_limits lim;
    smtpreply_limits_default(&lim);
    lim.max_pending = 3;
    lim.max_line = 16;
    lim.max_reply_lines = 2;
    struct log l;
    struct smtpreply_session_stats st;
    memset(&l, 0, sizeof l);
    run(S("S:220 x\r\n", "C:NOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\n",
          "S:250-a\r\n250-b\r\n250-c\r\n250 d\r\n",
          "S:250 this reply line is longer than sixteen\r\n"),
        0, &lim, 0, 0, &l, &st);
    CHECK_EQ_S(l.buf, "R 220 greeting -\nC NOOP\n"
                      "C NOOP !pipelining-command-not-last\nC NOOP !pipelining-command-not-last\n"
                      "C NOOP !pending-queue-overflow,pipelining-command-not-last\n"
                      "C NOOP !pending-queue-overflow,pipelining-command-not-last\n"
                      "R 250 reply NOOP !reply-too-many-lines\n"
                      "R 250 reply NOOP !line-over-limit\n"
                      "U NOOP !command-unanswered\n");
    CHECK_EQ_U(st.pending_overflow, 2);
    CHECK_EQ_U(st.unanswered, 1);
    CHECK_EQ_U(st.commands, 5);
    CHECK_EQ_U(st.replies, 3);
    CHECK(st.lines_cut >= 1);
    CHECK_EQ_U(st.anomalies[SMTPREPLY_ANOM_PENDING_OVERFLOW], 2);

    /* A caller's "no limit" max_held (UINT32_MAX) must not wrap the held
     * buffer's cap (it did once: the growth loop never ended). */
    smtpreply_limits_default(&lim);
    lim.max_held = UINT32_MAX;
    {
        static char big[2048];
        memset(big, 'x', sizeof big - 3);
        memcpy(big + sizeof big - 3, "\r\n", 3);
        memset(&l, 0, sizeof l);
        struct smtpreply_session *hs = smtpreply_session_new(&lim, NULL, NULL, on_event, &l, 0);
        smtpreply_session_feed(hs, SMTPREPLY_DIR_SERVER, (const uint8_t *)"220 x\r\n", 7, 0, 1);
        smtpreply_session_feed(hs, SMTPREPLY_DIR_CLIENT, (const uint8_t *)"DATA\r\n", 6, 1, 2);
        for (int k = 0; k < 64; k++)
            smtpreply_session_feed(hs, SMTPREPLY_DIR_CLIENT, (const uint8_t *)big, sizeof big - 1,
                                   2 + k, 3 + (uint64_t)k);
        CHECK(smtpreply_session_stats(hs)->bytes_allocated > 64 * 2000);
        smtpreply_session_free(hs);
    }

    /* Held bytes over max_held after DATA: the body is assumed. */
    smtpreply_limits_default(&lim);
    lim.max_held = 8;
    memset(&l, 0, sizeof l);
    run(S("S:220 x\r\n", "C:DATA\r\nline one of the body\r\nQUIT\r\n.\r\n", "S:354 go\r\n",
          "S:250 ok\r\n"),
        0, &lim, 0, 0, &l, &st);
    CHECK_EQ_S(l.buf, "R 220 greeting -\nC DATA\nA held-data-overflow c\n"
                      "A client-data-before-354 c\nR 354 data-start DATA\nR 250 data-end DATA\n");
    CHECK_EQ_U(st.held_overflow, 1);

    /* Command line over 512 octets; reply line over 512. */
    static char longcmd[700], longrep[700];
    strcpy(longcmd, "C:NOOP ");
    memset(longcmd + 7, 'x', 520);
    strcat(longcmd, "\r\n");
    strcpy(longrep, "S:250 ");
    memset(longrep + 6, 'y', 520);
    strcat(longrep, "\r\n");
    memset(&l, 0, sizeof l);
    run(S("S:220 x\r\n", longcmd, longrep), 0, NULL, 0, 0, &l, NULL);
    CHECK_EQ_S(l.buf, "R 220 greeting -\nC NOOP !command-line-too-long\n"
                      "R 250 reply NOOP !reply-line-too-long\n");
}

/* An allocator that fails after a budget: the engine must degrade, not crash. */
static size_t alloc_budget;
static void *failing_realloc(void *ctx, void *p, size_t size)
{
    (void)ctx;
    if (size == 0) {
        free(p);
        return NULL;
    }
    if (alloc_budget == 0)
        return NULL;
    alloc_budget--;
    return realloc(p, size);
}

static void test_alloc_failure(void)
{
    const char *const *script =
        S("S:220 x\r\n", "C:EHLO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nbody\r\n.\r\n",
          "S:250-x\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n", "C:AUTH LOGIN\r\n",
          "S:334 x\r\n", "C:abc\r\n", "S:235 ok\r\n", "C:QUIT\r\n", "S:221 bye\r\n");
    for (size_t budget = 0; budget < 12; budget++) {
        struct log l;
        memset(&l, 0, sizeof l);
        alloc_budget = budget;
        struct smtpreply_session *s =
            smtpreply_session_new(NULL, failing_realloc, NULL, on_event, &l, 0);
        if (!s) {
            CHECK(budget == 0);
            continue;
        }
        for (size_t i = 0; script[i]; i++)
            smtpreply_session_feed(s,
                                   script[i][0] == 'C' ? SMTPREPLY_DIR_CLIENT
                                                       : SMTPREPLY_DIR_SERVER,
                                   (const uint8_t *)script[i] + 2, strlen(script[i] + 2), 0, 0);
        smtpreply_session_finish(s, 0, 0);
        smtpreply_session_free(s);
        check_passed++;
    }
}

static void test_memory(void)
{
    struct smtpreply_session *s = smtpreply_session_new(NULL, NULL, NULL, NULL, NULL, 0);
    const struct smtpreply_session_stats *st = smtpreply_session_stats(s);
    CHECK(st->bytes_allocated < 1024);
    /* Growth stays under the caps whatever the client sends. */
    static uint8_t junk[200000];
    memset(junk, 'A', sizeof junk);
    smtpreply_session_feed(s, SMTPREPLY_DIR_CLIENT, junk, sizeof junk, 0, 0);
    for (int i = 0; i < 3000; i++)
        smtpreply_session_feed(s, SMTPREPLY_DIR_CLIENT, (const uint8_t *)"\r\nNOOP", 6, 0, 0);
    struct smtpreply_limits lim;
    smtpreply_limits_default(&lim);
    size_t bound =
        1024 + 2 * (size_t)lim.max_line + (size_t)lim.max_held + (size_t)lim.max_pending * 64;
    CHECK(st->bytes_allocated <= bound);
    CHECK_EQ_U(st->pending_overflow, 3000 - 1000);
    smtpreply_session_free(s);
    CHECK_EQ_S(smtpreply_stage_name(SMTPREPLY_STAGE_DATA_END), "data-end");
    CHECK_EQ_S(smtpreply_stage_name(SMTPREPLY_STAGE_AUTH_CHALLENGE), "auth-challenge");
}

/* The first reply, the greeting and what an excerpt implies. */
static void test_greeting_rules(void)
{
    /* A client speaks, the server's first line is no greeting code: it is
     * the answer, and the missing greeting is flagged (RFC 5321 §3.1). */
    expect_script("no-greeting",
                  S("C:EHLO x\r\n", "S:250 ok\r\n", "C:RSET\r\nSTARTTLS\r\n", "S:250 ok\r\n",
                    "S:454 not now\r\n"),
                  0,
                  "C EHLO\nR 250 reply EHLO !greeting-missing\nC RSET\nC STARTTLS\n"
                  "R 250 reply RSET\nR 454 reply STARTTLS\n");
    /* An eager client: the 220 is still the greeting. */
    expect_script("eager-client", S("C:EHLO x\r\n", "S:220 hi\r\n", "S:250 ok\r\n"), 0,
                  "C EHLO\nR 220 greeting -\nR 250 reply EHLO\n");
    /* An excerpt (the caller says the greeting is not in the record). */
    expect_script("excerpt",
                  S("C:MAIL FROM:<a@b>\r\n", "S:250 2.1.0 ok\r\n", "C:QUIT\r\n", "S:221 bye\r\n"),
                  SMTPREPLY_SESSION_NO_GREETING,
                  "C MAIL\nR 250 reply MAIL 2.1.0\nC QUIT\nR 221 reply QUIT\n");
    expect_script("excerpt-eager", S("C:EHLO x\r\n", "S:220 hi\r\n", "S:250 ok\r\n"),
                  SMTPREPLY_SESSION_NO_GREETING, "C EHLO\nR 220 greeting -\nR 250 reply EHLO\n");
    expect_script("excerpt-starttls", S("C:STARTTLS\r\n", "S:220 go ahead\r\n"),
                  SMTPREPLY_SESSION_NO_GREETING, "C STARTTLS\nR 220 reply STARTTLS\n");
    /* RFC 7504 §3: after a 521 greeting, 521 to every command but QUIT. */
    expect_script("521",
                  S("S:521 nope\r\n", "C:EHLO x\r\n", "S:521 nope\r\n", "C:QUIT\r\n",
                    "S:221 bye\r\n"),
                  0, "R 521 greeting -\nC EHLO\nR 521 reply EHLO\nC QUIT\nR 221 reply QUIT\n");
}

static void test_lines_and_codes(void)
{
    /* Blanks before the verb (servers split on them); "334 " is RFC 4954's
     * empty challenge, a bare "250" has no text; enhanced-code look-alikes
     * that break RFC 3463 are flagged, an IPv4 address is not one. */
    expect_script("lines",
                  S("S:220 x\r\n", "C:  NOOP\r\n", "S:250\r\n", "C:AUTH PLAIN\r\n", "S:334 \r\n",
                    "C:AGEAYg==\r\n", "S:235 ok\r\n", "C:RCPT TO:<a@b>\r\n",
                    "S:550 5.01.1 bad\r\n", "C:RCPT TO:<a@b>\r\n", "S:550 6.1.1 bad\r\n",
                    "C:RCPT TO:<a@b>\r\n", "S:554 192.0.2.1 listed\r\n"),
                  0,
                  "R 220 greeting -\nC NOOP\nR 250 reply NOOP !reply-without-text\nC AUTH\n"
                  "R 334 auth-challenge AUTH\nR 235 auth-final AUTH\nC RCPT\n"
                  "R 550 reply RCPT !enhanced-code-malformed\nC RCPT\n"
                  "R 550 reply RCPT !enhanced-code-malformed\nC RCPT\nR 554 reply RCPT\n");
    /* RFC 4954 §4: AUTH without an initial response must end the group. */
    expect_script("auth-not-last",
                  S("S:220 x\r\n", "C:AUTH LOGIN\r\nNOOP\r\n", "S:504 no\r\n", "S:250 ok\r\n"), 0,
                  "R 220 greeting -\nC AUTH\nR 504 auth-final AUTH\n"
                  "C NOOP !pipelining-command-not-last\nR 250 reply NOOP\n");
    expect_script("auth-ir-pipelined",
                  S("S:220 x\r\n", "C:AUTH PLAIN AGEAYg==\r\nNOOP\r\n", "S:235 ok\r\n",
                    "S:250 ok\r\n"),
                  0,
                  "R 220 greeting -\nC AUTH\nR 235 auth-final AUTH\nC NOOP\nR 250 reply NOOP\n");
}

/* Commands held behind STARTTLS (or AUTH, DATA) keep the tag of the chunk
 * each came in, so a reply points at the right frame or line. */
static void test_held_tags(void)
{
    static struct log l;
    memset(&l, 0, sizeof l);
    l.detail = true;
    run(S("S:220 x\r\n", "C:STARTTLS\r\n", "C:MAIL FROM:<a@b>\r\n", "C:RCPT TO:<c@d>\r\n",
          "S:454 no\r\n", "S:250 ok\r\n", "S:250 ok\r\n"),
        0, NULL, 0, 0, &l, NULL);
    CHECK(strstr(l.buf, "C MAIL !pipelining-command-not-last |ts=2000 tag=3 ") != NULL);
    CHECK(strstr(l.buf, "C RCPT |ts=3000 tag=4 ") != NULL);
    /* More chunks than the held records: the later ones share the last. */
    char chunks[40][24];
    const char *script[45];
    size_t n = 0;
    script[n++] = "S:220 x\r\n";
    script[n++] = "C:STARTTLS\r\n";
    for (int i = 0; i < 40; i++) {
        snprintf(chunks[i], sizeof chunks[i], "C:RCPT TO:<%d@b>\r\n", i);
        script[n++] = chunks[i];
    }
    script[n++] = "S:454 no\r\n";
    script[n] = NULL;
    memset(&l, 0, sizeof l);
    l.detail = true;
    run(script, 0, NULL, 0, 0, &l, NULL);
    CHECK(strstr(l.buf, "C RCPT !pipelining-command-not-last |ts=2000 tag=3 ") != NULL);
    CHECK(strstr(l.buf, "C RCPT |ts=16000 tag=17 ft=17 text=RCPT TO:<14@b>") != NULL);
    CHECK(strstr(l.buf, "C RCPT |ts=41000 tag=42 ft=42 text=RCPT TO:<15@b>") != NULL);
    CHECK(strstr(l.buf, "C RCPT |ts=41000 tag=42 ft=42 text=RCPT TO:<39@b>") != NULL);
}

/* Each reply as "code stage <rcpt>" (rcpt "-" when NULL). */
static void on_rcpt(void *user, const struct smtpreply_event *ev)
{
    struct log *l = user;
    if (ev->type == SMTPREPLY_EV_REPLY)
        logf_(l, "%03u %s %.*s\n", ev->code, smtpreply_stage_name(ev->stage),
              ev->rcpt ? (int)ev->rcpt_len : 1, ev->rcpt ? ev->rcpt : "-");
}

/* Runs a script (each segment one feed) with fn as the event callback and
 * compares what fn logged with expect. */
static void expect_log(const char *name, smtpreply_event_fn fn, const char *const *script,
                       const char *expect)
{
    static struct log l;
    l.len = 0;
    l.buf[0] = 0;
    struct smtpreply_session *s = smtpreply_session_new(NULL, NULL, NULL, fn, &l, 0);
    for (size_t i = 0; script[i]; i++)
        smtpreply_session_feed(s,
                               script[i][0] == 'C' ? SMTPREPLY_DIR_CLIENT : SMTPREPLY_DIR_SERVER,
                               (const uint8_t *)script[i] + 2, strlen(script[i] + 2), (int64_t)i,
                               i + 1);
    smtpreply_session_finish(s, 0, 0);
    smtpreply_session_free(s);
    if (strcmp(l.buf, expect) != 0)
        printf("%s: expected\n%s--- got\n%s---\n", name, expect, l.buf);
    CHECK(strcmp(l.buf, expect) == 0);
}

/* RCPT replies carry the address; PRDR (draft-hall-prdr-00 §3): 353, one
 * reply per accepted recipient in RCPT order, then the final reply. */
static void test_rcpt_prdr(void)
{
    expect_log("rcpt-pipelined", on_rcpt,
               S("S:220 x\r\n",
                 "C:MAIL FROM:<a@x>\r\nRCPT TO:<b@y> NOTIFY=NEVER\r\n"
                 "rcpt to: c@z\r\nRCPT TO:<>\r\n",
                 "S:250 ok\r\n250 ok\r\n550 no\r\n250 ok\r\n"),
               "220 greeting -\n250 reply -\n250 reply b@y\n550 reply c@z\n250 reply \n");
    expect_log("prdr", on_rcpt,
               S("S:220 x\r\n", "C:EHLO c\r\n", "S:250-x\r\n250-PRDR\r\n250 HELP\r\n",
                 "C:MAIL FROM:<a@x> PRDR\r\n", "S:250 ok\r\n", "C:RCPT TO:<b@y>\r\n",
                 "S:250 ok\r\n", "C:RCPT TO:<n@y>\r\n", "S:550 no\r\n", "C:RCPT TO:<c@y>\r\n",
                 "S:250 ok\r\n", "C:DATA\r\n", "S:354 go\r\n", "C:hi\r\n.\r\n",
                 "S:353 PRDR content analysis beginning\r\n",
                 "S:250 ok for b\r\n550 5.7.1 refused for c\r\n", "S:250 accepted for some\r\n",
                 "C:QUIT\r\n", "S:221 bye\r\n"),
               "220 greeting -\n250 reply -\n250 reply -\n250 reply b@y\n550 reply n@y\n"
               "250 reply c@y\n354 data-start -\n353 prdr-start -\n250 prdr-rcpt b@y\n"
               "550 prdr-rcpt c@y\n250 data-end -\n221 reply -\n");
    /* Without PRDR on MAIL (or in EHLO), 353 is just the end of data's
     * reply, and the next reply answers nothing. */
    expect_log("prdr-not-asked", on_rcpt,
               S("S:220 x\r\n", "C:EHLO c\r\n", "S:250-x\r\n250 PRDR\r\n",
                 "C:MAIL FROM:<a@x>\r\n", "S:250 ok\r\n", "C:RCPT TO:<b@y>\r\n", "S:250 ok\r\n",
                 "C:DATA\r\n", "S:354 go\r\n", "C:.\r\n", "S:353 x\r\n", "S:250 ok\r\n"),
               "220 greeting -\n250 reply -\n250 reply -\n250 reply b@y\n"
               "354 data-start -\n353 data-end -\n250 unsolicited -\n");
    /* The message refused whole: no 353, the final reply at once. */
    expect_log("prdr-refused", on_rcpt,
               S("S:220 x\r\n", "C:EHLO c\r\n", "S:250 PRDR\r\n",
                 "C:MAIL FROM:<a@x> prdr SIZE=10\r\n", "S:250 ok\r\n", "C:RCPT TO:<b@y>\r\n",
                 "S:250 ok\r\n", "C:DATA\r\n", "S:354 go\r\n", "C:.\r\n", "S:554 no\r\n",
                 "C:QUIT\r\n", "S:221 bye\r\n"),
               "220 greeting -\n250 reply -\n250 reply -\n250 reply b@y\n"
               "354 data-start -\n554 data-end -\n221 reply -\n");
}

static void on_full(void *user, const struct smtpreply_event *ev)
{
    struct log *l = user;
    if (ev->type == SMTPREPLY_EV_REPLY)
        logf_(l, "%03u [%.*s]%s\n", ev->code, (int)ev->full_text_len, ev->full_text,
              ev->full_text_cut ? " cut" : "");
}

static size_t big_len;
static bool big_cut, big_head;
static void on_big(void *user, const struct smtpreply_event *ev)
{
    (void)user;
    if (ev->type != SMTPREPLY_EV_REPLY)
        return;
    big_len = ev->full_text_len;
    big_cut = ev->full_text_cut;
    big_head = ev->full_text_len > 58 &&
               strncmp(ev->full_text,
                       "00000000000000000000000000000000000000000000000000000000\n0", 58) == 0;
}

/* A reply event carries every line's text, not only the last line's:
 * Gmail's multi-line 550-5.7.26 keeps its first lines (the SPF/DKIM
 * result), a bare code has empty text, and a reply past 16 KiB is cut. */
static void test_full_text(void)
{
    expect_log("gmail-multiline", on_full,
               S("S:220 mx.google.com ESMTP\r\n", "C:RCPT TO:<b@gmail.com>\r\n",
                 "S:550-5.7.26 This mail is unauthenticated, which poses a security\r\n"
                 "550-5.7.26 risk to the sender and Gmail users.\r\n"
                 "550 5.7.26  https://support.google.com/mail/answer/81126\r\n",
                 "C:QUIT\r\n", "S:221\r\n"),
               "220 [mx.google.com ESMTP]\n"
               "550 [5.7.26 This mail is unauthenticated, which poses a security\n"
               "5.7.26 risk to the sender and Gmail users.\n"
               "5.7.26  https://support.google.com/mail/answer/81126]\n"
               "221 []\n");
    /* 300 continuation lines of 60 bytes: 18,300 bytes of text, cut at 16 KiB. */
    static char big[300 * 66 + 64];
    size_t n = 0;
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "250-%056d\r\n", i);
    snprintf(big + n, sizeof big - n, "250 end\r\n");
    struct smtpreply_session *s = smtpreply_session_new(NULL, NULL, NULL, on_big, NULL, 0);
    smtpreply_session_feed(s, SMTPREPLY_DIR_SERVER, (const uint8_t *)big, strlen(big), 0, 1);
    smtpreply_session_finish(s, 0, 0);
    smtpreply_session_free(s);
    CHECK(big_len == 16384 && big_cut);
    CHECK(big_head);
}

int main(void)
{
    test_rfc5321_d1();
    test_rfc5321_d2_d4();
    test_rfc2920();
    test_rfc3030();
    test_rfc4954();
    test_greeting_rules();
    test_lines_and_codes();
    test_held_tags();
    test_starttls();
    test_data();
    test_replies();
    test_midstream_and_gaps();
    test_limits();
    test_rcpt_prdr();
    test_full_text();
    test_alloc_failure();
    test_memory();
    return CHECK_DONE();
}
