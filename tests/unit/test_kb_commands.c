/* SPDX-License-Identifier: MIT */
/* test_kb_commands.c - commands.def and smtpreply_cmd_expects against the
 * RFC 5321 §4.3.2 table and the extension RFCs. */
#include <string.h>

#include "check.h"
#include "smtpreply.h"

static enum smtpreply_cmd cmd(const char *verb)
{
    return smtpreply_cmd_from_verb(verb, strlen(verb));
}

int main(void)
{
    /* Verb lookup: case-insensitive, exact length, pseudo-commands never
     * match a client line. */
    CHECK_EQ_U(cmd("RCPT"), SMTPREPLY_CMD_RCPT);
    CHECK_EQ_U(cmd("rcpt"), SMTPREPLY_CMD_RCPT);
    CHECK_EQ_U(cmd("StartTLS"), SMTPREPLY_CMD_STARTTLS);
    CHECK_EQ_U(smtpreply_cmd_from_verb("DATAX", 4), SMTPREPLY_CMD_DATA);
    CHECK_EQ_U(cmd("DAT"), SMTPREPLY_CMD_UNKNOWN);
    CHECK_EQ_U(cmd("DATAX"), SMTPREPLY_CMD_UNKNOWN);
    CHECK_EQ_U(cmd("CONNECT"), SMTPREPLY_CMD_UNKNOWN);
    CHECK_EQ_U(cmd("DATA-END"), SMTPREPLY_CMD_UNKNOWN);
    CHECK_EQ_U(cmd(""), SMTPREPLY_CMD_UNKNOWN);
    CHECK_EQ_U(smtpreply_cmd_from_verb(NULL, 0), SMTPREPLY_CMD_UNKNOWN);
    CHECK_EQ_S(smtpreply_cmd_verb(SMTPREPLY_CMD_DATA_END), "DATA-END");
    CHECK_EQ_S(smtpreply_cmd_verb(SMTPREPLY_CMD_UNKNOWN), "");
    CHECK_EQ_S(smtpreply_cmd_verb(SMTPREPLY_CMD__COUNT), "");
    CHECK(strstr(smtpreply_cmd_rfc(SMTPREPLY_CMD_AUTH), "RFC 4954") != NULL);

    /* Every verb round-trips and every real command names an RFC. */
    for (unsigned c = 0; c < SMTPREPLY_CMD_UNKNOWN; c++) {
        const char *v = smtpreply_cmd_verb((enum smtpreply_cmd)c);
        CHECK(strncmp(smtpreply_cmd_rfc((enum smtpreply_cmd)c), "RFC ", 4) == 0);
        if (c != SMTPREPLY_CMD_CONNECT && c != SMTPREPLY_CMD_DATA_END)
            CHECK_EQ_U(cmd(v), c);
    }

    /* RFC 5321 §4.3.2, success and error columns. */
    static const struct {
        const char *verb;
        unsigned code;
    } yes[] = {
        {"EHLO", 250},
        {"HELO", 250},
        {"HELO", 504},
        {"EHLO", 550},
        {"EHLO", 502},
        {"MAIL", 250},
        {"MAIL", 552},
        {"MAIL", 451},
        {"MAIL", 452},
        {"MAIL", 550},
        {"MAIL", 553},
        {"MAIL", 503},
        {"MAIL", 455},
        {"MAIL", 555},
        {"RCPT", 250},
        {"RCPT", 251},
        {"RCPT", 550},
        {"RCPT", 551},
        {"RCPT", 552},
        {"RCPT", 553},
        {"RCPT", 450},
        {"RCPT", 451},
        {"RCPT", 452},
        {"RCPT", 503},
        {"RCPT", 455},
        {"RCPT", 555},
        {"RCPT", 556},
        {"DATA", 354},
        {"DATA", 503},
        {"DATA", 554},
        {"RSET", 250},
        {"VRFY", 250},
        {"VRFY", 251},
        {"VRFY", 252},
        {"VRFY", 502},
        {"VRFY", 504},
        {"EXPN", 252},
        {"EXPN", 502},
        {"HELP", 211},
        {"HELP", 214},
        {"NOOP", 250},
        {"QUIT", 221},
        /* any command: 500, 501, 421 */
        {"NOOP", 500},
        {"RSET", 501},
        {"QUIT", 421},
        {"QUIT", 500},
        {"DATA", 421},
        /* extensions */
        {"STARTTLS", 220},
        {"STARTTLS", 454},
        {"STARTTLS", 501},
        {"AUTH", 334},
        {"AUTH", 235},
        {"AUTH", 432},
        {"AUTH", 454},
        {"AUTH", 534},
        {"AUTH", 535},
        {"AUTH", 538},
        {"AUTH", 504},
        {"AUTH", 503},
        {"BDAT", 250},
        {"BDAT", 552},
        {"BDAT", 421},
        {"BDAT", 535},
        {"ETRN", 250},
        {"ETRN", 251},
        {"ETRN", 252},
        {"ETRN", 253},
        {"ETRN", 458},
        {"ETRN", 459},
        {"ATRN", 450},
        {"ATRN", 451},
        {"ATRN", 453},
        {"ATRN", 530},
        {"BURL", 250},
        {"BURL", 554},
        {"TURN", 502},
        /* policy codes of RFC 4954 / RFC 3207 / RFC 6409 */
        {"MAIL", 530},
        {"RCPT", 554},
        {"HELO", 554},
        {"NOOP", 503},
        /* ordinary real-server behaviour */
        {"RCPT", 504},
        {"HELO", 450},
        {"MAIL", 454},
    };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (!smtpreply_cmd_expects(cmd(yes[i].verb), yes[i].code)) {
            fprintf(stderr, "expected %s -> %u to be allowed\n", yes[i].verb, yes[i].code);
            CHECK(0);
        }
    }
    static const struct {
        const char *verb;
        unsigned code;
    } no[] = {
        {"RSET", 354},
        {"QUIT", 250},
        {"QUIT", 530},
        {"NOOP", 550},
        {"DATA", 250},
        {"MAIL", 354},
        {"RCPT", 221},
        {"HELO", 220},
        {"STARTTLS", 250},
        {"AUTH", 250},
        {"VRFY", 354},
        {"EHLO", 334},
        {"RCPT", 200},
        /* invalid codes are never expected, not even from an unknown verb */
        {"RCPT", 571},
        {"XFOO", 471},
        {"XFOO", 101},
        {"BDAT", 465},
    };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        if (smtpreply_cmd_expects(cmd(no[i].verb), no[i].code)) {
            fprintf(stderr, "expected %s -> %u to be flagged\n", no[i].verb, no[i].code);
            CHECK(0);
        }
    }
    /* Pseudo-commands: the greeting (RFC 5321 §4.3.2 + RFC 7504) and the
     * final dot. */
    CHECK(smtpreply_cmd_expects(SMTPREPLY_CMD_CONNECT, 220));
    CHECK(smtpreply_cmd_expects(SMTPREPLY_CMD_CONNECT, 421));
    CHECK(smtpreply_cmd_expects(SMTPREPLY_CMD_CONNECT, 521));
    CHECK(smtpreply_cmd_expects(SMTPREPLY_CMD_CONNECT, 554));
    CHECK(!smtpreply_cmd_expects(SMTPREPLY_CMD_CONNECT, 250));
    CHECK(!smtpreply_cmd_expects(SMTPREPLY_CMD_CONNECT, 500));
    CHECK(smtpreply_cmd_expects(SMTPREPLY_CMD_DATA_END, 250));
    CHECK(smtpreply_cmd_expects(SMTPREPLY_CMD_DATA_END, 552));
    CHECK(smtpreply_cmd_expects(SMTPREPLY_CMD_DATA_END, 550));
    CHECK(!smtpreply_cmd_expects(SMTPREPLY_CMD_DATA_END, 354));
    /* Unknown verbs: any valid code. */
    CHECK(smtpreply_cmd_expects(SMTPREPLY_CMD_UNKNOWN, 259));
    CHECK(!smtpreply_cmd_expects(SMTPREPLY_CMD_UNKNOWN, 600));
    CHECK(!smtpreply_cmd_expects(SMTPREPLY_CMD__COUNT, 250));
    return CHECK_DONE();
}
