/* SPDX-License-Identifier: MIT */
/*
 * kb_commands.c - commands (commands.def) and which replies each may get.
 *
 * The per-command lists in commands.def are what the RFCs name for that
 * command.  On top of them come the codes RFC text allows for (nearly)
 * every command; they live in `wide_rules` below, each with the reason,
 * so "may command C return code X" is answered in one place and the list
 * "commands that return X" (kb_codes.c) is derived from the same data.
 *
 * False positives matter more than misses here: the session engine flags
 * "code-unexpected-for-command" from this answer, and a real server doing
 * its ordinary job (250 to RSET, 502 to VRFY, 454 to STARTTLS, 504 "need
 * fully-qualified address" to RCPT, a greylisting 450 at HELO...) must not
 * be flagged.
 */
#include <stdint.h>

#include "kb_internal.h"
#include "smtpreply.h"

_Static_assert(SMTPREPLY_CMD__COUNT <= 32, "command sets travel as a 32-bit mask");

/* Each command's list.  The leading 0 is a placeholder so that a command
 * with no codes (UNKNOWN) still gives a valid initializer; it is skipped. */
#define SMTPREPLY_CMD(id, verb, rfc, ...) \
    static const uint16_t cmd_codes_##id[] = {0, __VA_ARGS__};
#include "commands.def"
#undef SMTPREPLY_CMD

static const struct {
    const char *verb;
    const char *rfc;
    const uint16_t *codes; /* codes[1..ncodes] */
    size_t ncodes;
} cmd_table[SMTPREPLY_CMD__COUNT] = {
#define SMTPREPLY_CMD(id, verb, rfc, ...) \
    [SMTPREPLY_CMD_##                     \
        id] = {verb, rfc, cmd_codes_##id, sizeof cmd_codes_##id / sizeof cmd_codes_##id[0] - 1},
#include "commands.def"
#undef SMTPREPLY_CMD
};

#define CMD_BIT(id) (1u << SMTPREPLY_CMD_##id)
/* Everything a client really sends (not the greeting, not the final dot,
 * not an unknown verb). */
#define CMD_CLIENT                         \
    (((1u << SMTPREPLY_CMD__COUNT) - 1u) & \
     ~(CMD_BIT(CONNECT) | CMD_BIT(DATA_END) | CMD_BIT(UNKNOWN)))
/* Commands that carry parameters a server may not implement. */
#define CMD_WITH_PARAMS                                                              \
    (CMD_BIT(HELO) | CMD_BIT(EHLO) | CMD_BIT(MAIL) | CMD_BIT(RCPT) | CMD_BIT(VRFY) | \
     CMD_BIT(EXPN) | CMD_BIT(HELP) | CMD_BIT(AUTH) | CMD_BIT(ETRN) | CMD_BIT(ATRN) | \
     CMD_BIT(BDAT) | CMD_BIT(BURL))

/* Codes allowed beyond the per-command lists.  `any` marks the codes
 * smtpreply_code_commands() reports as "ANY" (every client command may
 * get them); the others are narrower tolerances. */
static const struct wide_rule {
    uint16_t code;
    uint32_t cmds;
    bool any;
} wide_rules[] = {
    /* RFC 5321 §4.3.2: 421 to any command, and §3.8 at any time when the
     * server shuts down; §4.3.2 also gives it for connection opening. */
    {421, CMD_CLIENT | CMD_BIT(CONNECT) | CMD_BIT(DATA_END), true},
    /* RFC 5321 §4.3.2: 500 and 501 to any command ("line too long",
     * unrecognised, bad arguments; DATA/RSET/QUIT with arguments). */
    {500, CMD_CLIENT, true},
    {501, CMD_CLIENT, true},
    /* RFC 5321 §3.1: after a 554 greeting the server SHOULD answer 503 to
     * every command but QUIT; §4.1.4: out-of-order commands get 503. */
    {503, CMD_CLIENT & ~CMD_BIT(QUIT), true},
    /* RFC 5321 §4.2.4: 502 for a command recognised but not implemented
     * (extensions, VRFY, TURN...); RFC 2645 §5.4: an ODMR server may give
     * 502 to any command other than EHLO, AUTH, ATRN and QUIT. */
    {502, CMD_CLIENT & ~CMD_BIT(QUIT), true},
    /* RFC 4954 §6 ("5.7.0 Authentication required") and RFC 3207 §4
     * ("Must issue a STARTTLS command first"): each exempts a few commands,
     * but which ones depend on the server's policy, so only QUIT (always
     * exempt) is left out; RFC 6409 §4.3 for submission servers. */
    {530, CMD_CLIENT & ~CMD_BIT(QUIT), true},
    /* RFC 3207 §4.1: after TLS a server unhappy with the security refuses
     * commands with 554; RFC 6409 §4.1: general rejection on submission;
     * RFC 5321 §3.1/§4.3.2: greeting and DATA.  Allowed everywhere. */
    {554, CMD_CLIENT | CMD_BIT(CONNECT) | CMD_BIT(DATA_END), true},
    /* RFC 7504 §3: a server that greets with 521 "MAY either continue
     * sending 521 reply codes or simply close the connection" to every
     * command but QUIT. */
    {521, CMD_CLIENT & ~CMD_BIT(QUIT), true},
    /* RFC 5321 §4.2.4: 504 "Command parameter not implemented" answers any
     * command with parameters (Postfix's "504 5.5.2 need fully-qualified
     * address" to MAIL/RCPT/HELO is ordinary behaviour). */
    {504, CMD_WITH_PARAMS, false},
    /* Policy deferrals (greylisting, unknown client/helo host, soft
     * bounce): the transient twins of the 550/554 policy refusals RFC 5321
     * §4.3.2 lists for these commands ("450 ... temporarily blocked for
     * policy reasons"). */
    {450, CMD_BIT(HELO) | CMD_BIT(EHLO) | CMD_BIT(MAIL) | CMD_BIT(DATA), false},
    {451, CMD_BIT(HELO) | CMD_BIT(EHLO), false},
    {454, CMD_BIT(HELO) | CMD_BIT(EHLO) | CMD_BIT(MAIL) | CMD_BIT(RCPT), false},
};

/* RFC 5321 §4.2: Reply-code = %x32-35 %x30-35 %x30-39 */
bool smtpreply_code_valid(unsigned code)
{
    unsigned cls = code / 100, cat = code / 10 % 10;
    return code <= 999 && cls >= 2 && cls <= 5 && cat <= 5;
}

bool smtpreply_code_is_greeting(unsigned code)
{
    return code == 220 || code == 421 || code == 521 || code == 554;
}

const char *smtpreply_cmd_verb(enum smtpreply_cmd c)
{
    return (unsigned)c < SMTPREPLY_CMD__COUNT ? cmd_table[c].verb : "";
}

const char *smtpreply_cmd_rfc(enum smtpreply_cmd c)
{
    return (unsigned)c < SMTPREPLY_CMD__COUNT ? cmd_table[c].rfc : "";
}

static char ascii_upper(char ch)
{
    return (ch >= 'a' && ch <= 'z') ? (char)(ch - 'a' + 'A') : ch;
}

/* The pseudo-commands CONNECT and DATA-END are never matched: a client
 * line "CONNECT host:25 HTTP/1.1" is a proxy request, not a greeting. */
enum smtpreply_cmd smtpreply_cmd_from_verb(const char *verb, size_t len)
{
    if (!verb || len == 0)
        return SMTPREPLY_CMD_UNKNOWN;
    for (unsigned i = 0; i < SMTPREPLY_CMD__COUNT; i++) {
        const char *v = cmd_table[i].verb;
        size_t j = 0;
        if (i == SMTPREPLY_CMD_CONNECT || i == SMTPREPLY_CMD_DATA_END ||
            i == SMTPREPLY_CMD_UNKNOWN)
            continue;
        while (j < len && v[j] != '\0' && ascii_upper(verb[j]) == v[j])
            j++;
        if (j == len && v[j] == '\0')
            return (enum smtpreply_cmd)i;
    }
    return SMTPREPLY_CMD_UNKNOWN;
}

bool kb_cmd_lists(enum smtpreply_cmd c, unsigned code)
{
    if ((unsigned)c >= SMTPREPLY_CMD__COUNT)
        return false;
    for (size_t i = 1; i <= cmd_table[c].ncodes; i++) {
        if (cmd_table[c].codes[i] == code)
            return true;
    }
    return false;
}

bool kb_code_any_command(unsigned code)
{
    for (size_t i = 0; i < sizeof wide_rules / sizeof wide_rules[0]; i++) {
        if (wide_rules[i].code == code && wide_rules[i].any)
            return true;
    }
    return false;
}

bool smtpreply_cmd_expects(enum smtpreply_cmd c, unsigned code)
{
    if ((unsigned)c >= SMTPREPLY_CMD__COUNT || !smtpreply_code_valid(code))
        return false;
    /* An unknown verb may be a private extension: any valid code. */
    if (c == SMTPREPLY_CMD_UNKNOWN)
        return true;
    /* RFC 3030 §2: a failed BDAT gets "any suitable" 4yz/5yz reply. */
    if (c == SMTPREPLY_CMD_BDAT && code >= 400)
        return true;
    if (kb_cmd_lists(c, code))
        return true;
    for (size_t i = 0; i < sizeof wide_rules / sizeof wide_rules[0]; i++) {
        if (wide_rules[i].code == code && (wide_rules[i].cmds & (1u << c)))
            return true;
    }
    return false;
}
