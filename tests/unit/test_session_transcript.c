/* SPDX-License-Identifier: MIT */
/* test_session_transcript.c - the dialogue-line reader: RFC "C:/S:" style
 * and every swaks transaction hint of swaks(1) OUTPUT OPTIONS. */
#include <string.h>

#include "check.h"
#include "transcript.h"

static struct smtpreply_tline tl;

static enum smtpreply_tline_kind kind(const char *s)
{
    smtpreply_transcript_parse_line(s, strlen(s), &tl);
    return tl.kind;
}

static bool text_is(const char *want)
{
    return tl.len == strlen(want) && memcmp(tl.text, want, tl.len) == 0;
}

int main(void)
{
    /* RFC style. */
    CHECK_EQ_U(kind("S: 220 foo.com Simple Mail Transfer Service Ready"), SMTPREPLY_TLINE_SERVER);
    CHECK(text_is("220 foo.com Simple Mail Transfer Service Ready"));
    CHECK_EQ_U(tl.format, SMTPREPLY_TFORMAT_RFC);
    CHECK_EQ_U(kind("C: EHLO bar.com\r"), SMTPREPLY_TLINE_CLIENT);
    CHECK(text_is("EHLO bar.com"));
    CHECK_EQ_U(kind("   C:QUIT"), SMTPREPLY_TLINE_CLIENT);
    CHECK(text_is("QUIT"));
    CHECK_EQ_U(kind("C:"), SMTPREPLY_TLINE_CLIENT);
    CHECK(text_is(""));
    CHECK_EQ_U(kind("C:  two spaces keep one"), SMTPREPLY_TLINE_CLIENT);
    CHECK(text_is(" two spaces keep one"));
    CHECK_EQ_U(kind("S: <wait for open connection>"), SMTPREPLY_TLINE_OTHER);
    CHECK_EQ_U(kind("C: <Smith@bar.com>"), SMTPREPLY_TLINE_CLIENT); /* no space: a line */
    CHECK_EQ_U(kind("C & S: <negotiate a TLS session>"), SMTPREPLY_TLINE_OTHER);
    CHECK_EQ_U(kind(""), SMTPREPLY_TLINE_OTHER);
    CHECK_EQ_U(kind("# a comment"), SMTPREPLY_TLINE_OTHER);
    CHECK_EQ_U(kind(" ..."), SMTPREPLY_TLINE_OTHER);

    /* swaks hints. */
    CHECK_EQ_U(kind("<-  220 mx.example.test ESMTP Postfix"), SMTPREPLY_TLINE_SERVER);
    CHECK(text_is("220 mx.example.test ESMTP Postfix"));
    CHECK_EQ_U(tl.format, SMTPREPLY_TFORMAT_SWAKS);
    CHECK_EQ_U(kind(" -> EHLO client.example"), SMTPREPLY_TLINE_CLIENT);
    CHECK(text_is("EHLO client.example"));
    CHECK_EQ_U(kind(" -> Date: Mon, 23 Nov 2026 04:33:49 +0000\r"), SMTPREPLY_TLINE_CLIENT);
    CHECK(text_is("Date: Mon, 23 Nov 2026 04:33:49 +0000"));
    CHECK_EQ_U(kind(" -> "), SMTPREPLY_TLINE_CLIENT);
    CHECK(text_is(""));
    CHECK_EQ_U(kind(" -> ."), SMTPREPLY_TLINE_CLIENT);
    CHECK(text_is("."));
    CHECK_EQ_U(kind("<** 554 5.7.1 Relay access denied"), SMTPREPLY_TLINE_SERVER);
    CHECK(tl.unexpected);
    CHECK(text_is("554 5.7.1 Relay access denied"));
    CHECK_EQ_U(kind("**> RSET"), SMTPREPLY_TLINE_CLIENT);
    CHECK(tl.unexpected);
    CHECK_EQ_U(kind(" ~> EHLO client.example"), SMTPREPLY_TLINE_CLIENT);
    CHECK(tl.tls);
    CHECK_EQ_U(kind("<~  250-mx.example.test"), SMTPREPLY_TLINE_SERVER);
    CHECK(tl.tls);
    CHECK(text_is("250-mx.example.test"));
    CHECK_EQ_U(kind("<~* 554 5.7.1 denied"), SMTPREPLY_TLINE_SERVER);
    CHECK(tl.tls && tl.unexpected);
    CHECK_EQ_U(kind("*~> QUIT"), SMTPREPLY_TLINE_CLIENT);
    CHECK(tl.tls && tl.unexpected);
    CHECK_EQ_U(kind(" -> 11 lines sent"), SMTPREPLY_TLINE_DATA_SUMMARY);
    CHECK_EQ_U(kind(" -> 11 lines sentx"), SMTPREPLY_TLINE_CLIENT);
    CHECK_EQ_U(kind("=== Trying 127.0.0.1:25..."), SMTPREPLY_TLINE_OTHER);
    CHECK_EQ_U(kind("*** No authentication type succeeded"), SMTPREPLY_TLINE_OTHER);
    CHECK_EQ_U(kind("<   0000: 32 32 30 20  66 61 6B 65    220.fake"), SMTPREPLY_TLINE_OTHER);
    CHECK_EQ_U(kind("  > 0000: 45 48 4C 4F  20 6D 65 0D  0A    EHLO.me.."),
               SMTPREPLY_TLINE_OTHER);
    /* Trimmed pastes. */
    CHECK_EQ_U(kind("-> MAIL FROM:<a@b>"), SMTPREPLY_TLINE_CLIENT);
    CHECK(text_is("MAIL FROM:<a@b>"));
    CHECK_EQ_U(kind("<- 250 ok"), SMTPREPLY_TLINE_SERVER);
    CHECK(text_is("250 ok"));
    return CHECK_DONE();
}
