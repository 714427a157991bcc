/* SPDX-License-Identifier: MIT */
/* test_line.c - reply-line and command-verb parsing (RFC 5321 §4.2, §4.1). */
#include <string.h>

#include "check.h"
#include "smtpreply.h"

static bool parse(const char *s, struct smtpreply_line *l)
{
    return smtpreply_parse_reply_line(s, strlen(s), l);
}

int main(void)
{
    struct smtpreply_line l;

    CHECK(parse("250 OK", &l));
    CHECK_EQ_U(l.code, 250);
    CHECK_EQ_U(l.sep, ' ');
    CHECK_EQ_U(l.text_len, 2);
    CHECK(memcmp(l.text, "OK", 2) == 0);
    CHECK(!l.has_esc);

    CHECK(parse("250-8BITMIME", &l));
    CHECK_EQ_U(l.sep, '-');
    CHECK_EQ_U(l.text_len, 8);

    /* §4.2.1: "250-234 Text beginning with numbers" is a continuation. */
    CHECK(parse("250-234 Text beginning with numbers", &l));
    CHECK_EQ_U(l.code, 250);
    CHECK_EQ_U(l.sep, '-');

    /* §4.2: a code alone, with or without the space. */
    CHECK(parse("250", &l));
    CHECK_EQ_U(l.sep, 0);
    CHECK_EQ_U(l.text_len, 0);
    CHECK(parse("250 ", &l));
    CHECK_EQ_U(l.sep, ' ');
    CHECK_EQ_U(l.text_len, 0);

    /* Not replies. */
    CHECK(!parse("", &l));
    CHECK(!parse("25", &l));
    CHECK(!parse("25x ok", &l));
    CHECK(!parse("2500 ok", &l));
    CHECK(!parse("250\tok", &l));
    CHECK(!parse("hello", &l));
    CHECK(!parse(" 250 ok", &l));

    /* Any three digits parse; validity is the engine's call. */
    CHECK(parse("600 odd", &l));
    CHECK_EQ_U(l.code, 600);
    CHECK(parse("000", &l));
    CHECK_EQ_U(l.code, 0);

    /* Enhanced codes at the start of the text (RFC 2034 §4, RFC 3463). */
    CHECK(parse("550 5.1.1 <x@y>: Recipient address rejected", &l));
    CHECK(l.has_esc);
    CHECK_EQ_U(l.esc.cls, 5);
    CHECK_EQ_U(l.esc.subject, 1);
    CHECK_EQ_U(l.esc.detail, 1);
    CHECK(parse("250-2.1.0 ok", &l));
    CHECK(l.has_esc);
    CHECK(parse("550 5.7.1", &l));
    CHECK(l.has_esc);
    CHECK(parse("550 5.01.1 leading zero", &l));
    CHECK(!l.has_esc);
    CHECK(parse("550 5.1.1000 too long", &l));
    CHECK(!l.has_esc);
    CHECK(parse("550 6.1.1 class 6", &l));
    CHECK(!l.has_esc);
    CHECK(parse("250 2.1.0Ok", &l));
    CHECK(!l.has_esc);
    CHECK(parse("250 10240000", &l));
    CHECK(!l.has_esc);

    /* The input need not be NUL-terminated: parse a prefix of a buffer. */
    const char buf[] = "221 2.0.0 Bye\r\nGARBAGE";
    CHECK(smtpreply_parse_reply_line(buf, 13, &l));
    CHECK_EQ_U(l.text_len, 9);

    /* Command verbs. */
    CHECK_EQ_U(smtpreply_parse_command_verb("MAIL FROM:<a@b>", 15), 4);
    CHECK_EQ_U(smtpreply_parse_command_verb("quit", 4), 4);
    CHECK_EQ_U(smtpreply_parse_command_verb("X-EXPS GSSAPI", 13), 6);
    CHECK_EQ_U(smtpreply_parse_command_verb("", 0), 0);
    CHECK_EQ_U(smtpreply_parse_command_verb(" NOOP", 5), 0);
    CHECK_EQ_U(smtpreply_parse_command_verb("RCPT TO:<x>", 4), 4);
    CHECK_EQ_U(smtpreply_parse_command_verb("EHLO", 2), 2);
    return CHECK_DONE();
}
