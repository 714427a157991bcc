/* SPDX-License-Identifier: MIT */
/*
 * test_reason.c - failure reasons: the table (names and order are an
 * interface), the pattern table's invariants, each layer (text, enhanced,
 * code), every reason reachable, the meaning that fits a reply, and the
 * known-bad cases (452 4.2.2 over quota at RCPT, 554 relay denied at RCPT,
 * 503 at RCPT and DATA).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "smtpreply.h"

static int contains_ci(const char *hay, const char *needle)
{
    return hay && strcasestr(hay, needle) != NULL;
}

static struct smtpreply_esc esc3(unsigned c, unsigned s, unsigned d)
{
    struct smtpreply_esc e = {(uint8_t)c, (uint16_t)s, (uint16_t)d};
    return e;
}

/* Classify a reply given as one string "code[ esc] text" (lines joined
 * with '\n' after the first's code, as the outputs give them). */
static struct smtpreply_reason_info classify(unsigned code, const char *esc,
                                             enum smtpreply_cmd cmd, const char *text)
{
    struct smtpreply_reason_info info;
    struct smtpreply_esc e;
    bool has = esc && smtpreply_esc_parse(esc, strlen(esc), &e) > 0;
    smtpreply_reason_classify(code, has ? &e : NULL, cmd, text, text ? strlen(text) : 0, &info);
    return info;
}

static bool seen[SMTPREPLY_REASON__COUNT];

static void expect(unsigned code, const char *esc, enum smtpreply_cmd cmd, const char *text,
                   const char *reason, enum smtpreply_reason_source src)
{
    struct smtpreply_reason_info i = classify(code, esc, cmd, text);
    if (!i.name || strcmp(i.name, reason) != 0 || i.source != src)
        fprintf(stderr, "  %u %s at %s \"%s\": got %s/%s, want %s/%s\n", code, esc ? esc : "-",
                smtpreply_cmd_verb(cmd), text ? text : "", i.name ? i.name : "(none)",
                i.source_name ? i.source_name : "(none)", reason,
                smtpreply_reason_source_name(src));
    CHECK_EQ_S(i.name, reason);
    CHECK_EQ_U(i.source, src);
    CHECK(i.failure);
    CHECK_EQ_U(i.permanent, code / 100 == 5);
    CHECK(i.advice && i.advice[0]);
    CHECK(i.party_name && i.party_name[0]);
    CHECK(i.basis && i.basis[0]);
    CHECK(src == SMTPREPLY_REASON_SOURCE_TEXT ? i.pattern != NULL : i.pattern == NULL);
    seen[i.reason] = true;
}

static void check_table(void)
{
    /* The identifiers, exactly and in this order (never renamed). */
    static const char *const names[] = {
        "recipient-unknown",
        "recipient-domain",
        "mailbox-full",
        "mailbox-disabled",
        "message-too-big",
        "too-many-recipients",
        "sender-rejected",
        "sender-authentication",
        "blocklisted",
        "rate-limited",
        "greylisted",
        "spam",
        "virus",
        "content",
        "policy",
        "relay-denied",
        "auth-required",
        "auth-failed",
        "tls-required",
        "tls-failed",
        "protocol",
        "server-error",
        "timeout",
        "unavailable",
        "other",
    };
    static const char *const parties[] = {"recipient", "sender-setup", "sender-reputation",
                                          "message",   "client",       "receiver"};
    CHECK_EQ_U(SMTPREPLY_REASON__COUNT, 1 + sizeof names / sizeof names[0]);
    CHECK(smtpreply_reason_name(SMTPREPLY_REASON_NONE) == NULL);
    CHECK(smtpreply_reason_advice(SMTPREPLY_REASON_NONE) == NULL);
    CHECK(smtpreply_reason_name(SMTPREPLY_REASON__COUNT) == NULL);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        enum smtpreply_reason r = (enum smtpreply_reason)(i + 1);
        const char *adv = smtpreply_reason_advice(r);
        CHECK_EQ_S(smtpreply_reason_name(r), names[i]);
        CHECK_EQ_U(smtpreply_reason_from_name(names[i], strlen(names[i])), r);
        CHECK(adv && strlen(adv) > 20 && adv[strlen(adv) - 1] == '.');
        CHECK(smtpreply_reason_party(r) != SMTPREPLY_PARTY_NONE);
        CHECK(smtpreply_party_name(smtpreply_reason_party(r)) != NULL);
    }
    CHECK_EQ_U(smtpreply_reason_from_name("recipient", 9), SMTPREPLY_REASON_NONE);
    CHECK_EQ_U(smtpreply_reason_from_name(NULL, 0), SMTPREPLY_REASON_NONE);
    CHECK(smtpreply_party_name(SMTPREPLY_PARTY_NONE) == NULL);
    for (size_t i = 0; i < sizeof parties / sizeof parties[0]; i++)
        CHECK_EQ_S(smtpreply_party_name((enum smtpreply_party)(i + 1)), parties[i]);
    CHECK_EQ_S(smtpreply_reason_source_name(SMTPREPLY_REASON_SOURCE_TEXT), "text");
    CHECK_EQ_S(smtpreply_reason_source_name(SMTPREPLY_REASON_SOURCE_ENHANCED), "enhanced");
    CHECK_EQ_S(smtpreply_reason_source_name(SMTPREPLY_REASON_SOURCE_CODE), "code");
    CHECK(smtpreply_reason_source_name(SMTPREPLY_REASON_SOURCE_NONE) == NULL);
    CHECK_EQ_U(smtpreply_reason_party(SMTPREPLY_REASON_RECIPIENT_UNKNOWN),
               SMTPREPLY_PARTY_RECIPIENT);
    CHECK_EQ_U(smtpreply_reason_party(SMTPREPLY_REASON_BLOCKLISTED),
               SMTPREPLY_PARTY_SENDER_REPUTATION);
    CHECK_EQ_U(smtpreply_reason_party(SMTPREPLY_REASON_SPAM), SMTPREPLY_PARTY_MESSAGE);
}

/* Every row: well formed, documented, and reachable (its own text under
 * its own restrictions is decided by that very row, so no earlier row
 * shadows it). */
static void check_patterns(void)
{
    struct smtpreply_reason_pattern p;
    size_t n = 0;
    for (size_t i = 0; smtpreply_reason_pattern_at(i, &p); i++, n++) {
        struct smtpreply_reason_info info;
        struct smtpreply_esc e =
            esc3(p.perm ? 5 : 4, p.esc_subject < 0 ? 0 : (unsigned)p.esc_subject,
                 p.esc_detail < 0 ? 0 : (unsigned)p.esc_detail);
        unsigned code = p.perm ? 550 : 450;
        size_t len = strlen(p.text);
        CHECK(len >= 3);
        for (size_t k = 0; k < len; k++)
            CHECK(!(p.text[k] >= 'A' && p.text[k] <= 'Z'));
        CHECK(p.reason > SMTPREPLY_REASON_NONE && p.reason < SMTPREPLY_REASON__COUNT);
        CHECK(p.source &&
              (strncmp(p.source, "RFC ", 4) == 0 || strstr(p.source, "reference") ||
               strstr(p.source, "documentation") || strstr(p.source, "specification") ||
               strstr(p.source, "Spamhaus") || strstr(p.source, "error codes")));
        CHECK(p.temp || p.perm);
        smtpreply_reason_classify(code, p.esc_subject >= 0 ? &e : NULL,
                                  p.any_cmd ? SMTPREPLY_CMD_UNKNOWN : p.cmd, p.text, len, &info);
        if (info.pattern != p.text)
            fprintf(stderr, "  pattern \"%s\" is shadowed by \"%s\"\n", p.text,
                    info.pattern ? info.pattern : "(none)");
        CHECK(info.pattern == p.text);
        CHECK_EQ_U(info.reason, p.reason);
        CHECK_EQ_U(info.source, SMTPREPLY_REASON_SOURCE_TEXT);
        /* Upper case in the reply matches too. */
        {
            char up[128];
            size_t m = len < sizeof up - 1 ? len : sizeof up - 1;
            for (size_t k = 0; k < m; k++)
                up[k] = (char)(p.text[k] >= 'a' && p.text[k] <= 'z' ? p.text[k] - 32 : p.text[k]);
            smtpreply_reason_classify(code, p.esc_subject >= 0 ? &e : NULL,
                                      p.any_cmd ? SMTPREPLY_CMD_UNKNOWN : p.cmd, up, m, &info);
            CHECK(info.pattern == p.text);
        }
    }
    CHECK(n >= 100);
}

static void check_layers(void)
{
    const enum smtpreply_reason_source T = SMTPREPLY_REASON_SOURCE_TEXT,
                                       E = SMTPREPLY_REASON_SOURCE_ENHANCED,
                                       C = SMTPREPLY_REASON_SOURCE_CODE;
    /* Text layer beats the enhanced code and the basic code. */
    expect(550, "5.7.1", SMTPREPLY_CMD_RCPT,
           "5.7.1 Service unavailable; Client host [192.0.2.9] blocked using zen.spamhaus.org",
           "blocklisted", T);
    expect(421, "4.7.28", SMTPREPLY_CMD_DATA_END,
           "4.7.28 Our system has detected an unusual rate of\n4.7.28 unsolicited mail "
           "originating "
           "from your IP address.",
           "rate-limited", T);
    expect(450, "4.2.0", SMTPREPLY_CMD_RCPT,
           "4.2.0 <a@example.org>: Recipient address rejected: Greylisted, see "
           "http://postgrey.schweikert.ch/help/example.org.html",
           "greylisted", T);
    expect(451, NULL, SMTPREPLY_CMD_RCPT, "Please try again later", "greylisted", T);
    expect(551, NULL, SMTPREPLY_CMD_RCPT, "Please try again later", "mailbox-disabled", C);
    expect(550, "5.1.10", SMTPREPLY_CMD_RCPT,
           "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
           "recipient-unknown", T);
    expect(550, "5.4.1", SMTPREPLY_CMD_RCPT,
           "5.4.1 Recipient address rejected: Access denied. AS(201806281)", "recipient-unknown",
           T);
    /* ... the same words under another enhanced code are not Microsoft's. */
    expect(554, "5.7.1", SMTPREPLY_CMD_RCPT,
           "5.7.1 <a@example.org>: Recipient address rejected: Access denied", "policy", E);
    expect(550, "5.7.606", SMTPREPLY_CMD_RCPT,
           "5.7.606 Access denied, banned sending IP [192.0.2.1]", "blocklisted", T);
    expect(550, "5.7.620", SMTPREPLY_CMD_RCPT, "5.7.620 Access denied", "blocklisted", E);
    expect(421, "4.7.0", SMTPREPLY_CMD_MAIL,
           "4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume "
           "or user complaints",
           "rate-limited", T);
    expect(550, "5.7.26", SMTPREPLY_CMD_DATA_END,
           "5.7.26 This mail has been blocked because the sender is\n5.7.26 unauthenticated.",
           "sender-authentication", T);
    expect(530, "5.7.57", SMTPREPLY_CMD_MAIL,
           "5.7.57 SMTP; Client was not authenticated to send anonymous mail during MAIL FROM",
           "auth-required", T);
    expect(550, "5.7.54", SMTPREPLY_CMD_RCPT,
           "5.7.54 SMTP; Unable to relay recipient in non-accepted domain", "relay-denied", T);
    expect(530, NULL, SMTPREPLY_CMD_MAIL, "Must issue a STARTTLS command first", "tls-required",
           T);
    /* A phrase wrapped across lines (the next line's enhanced code between). */
    expect(552, "5.7.0", SMTPREPLY_CMD_DATA_END,
           "5.7.0 This message was blocked because its content presents a potential\n5.7.0 "
           "security issue.",
           "virus", T);
    expect(550, NULL, SMTPREPLY_CMD_RCPT, "remote mail to <ned@innosoft.com> not allowed",
           "relay-denied", T);
    /* The command restriction: "remote mail to" is RFC 2920's RCPT refusal. */
    expect(550, NULL, SMTPREPLY_CMD_DATA_END, "remote mail to <ned@innosoft.com> not allowed",
           "policy", C);
    /* The class restriction: "try again later" is greylisting only in 4yz. */
    expect(554, NULL, SMTPREPLY_CMD_DATA_END, "try again later", "policy", C);

    /* Enhanced layer, one per mapping. */
    expect(550, "5.1.1", SMTPREPLY_CMD_RCPT, "5.1.1 Bad destination mailbox address",
           "recipient-unknown", E);
    expect(550, "5.1.2", SMTPREPLY_CMD_RCPT, "5.1.2 Bad destination system address",
           "recipient-domain", E);
    expect(556, "5.1.10", SMTPREPLY_CMD_RCPT, "5.1.10", "recipient-domain", E);
    expect(452, "4.2.2", SMTPREPLY_CMD_RCPT, "4.2.2 Try later", "mailbox-full", E);
    expect(550, "5.2.1", SMTPREPLY_CMD_RCPT, "5.2.1", "mailbox-disabled", E);
    expect(550, "5.1.6", SMTPREPLY_CMD_RCPT, "5.1.6", "mailbox-disabled", E);
    expect(552, "5.3.4", SMTPREPLY_CMD_DATA_END, "5.3.4", "message-too-big", E);
    expect(552, "5.2.3", SMTPREPLY_CMD_DATA_END, "5.2.3", "message-too-big", E);
    expect(452, "4.5.3", SMTPREPLY_CMD_RCPT, "4.5.3", "too-many-recipients", E);
    expect(550, "5.1.7", SMTPREPLY_CMD_MAIL, "5.1.7", "sender-rejected", E);
    expect(451, "4.1.8", SMTPREPLY_CMD_MAIL, "4.1.8", "sender-rejected", E);
    expect(550, "5.7.27", SMTPREPLY_CMD_MAIL, "5.7.27", "sender-rejected", E);
    expect(550, "5.7.23", SMTPREPLY_CMD_RCPT, "5.7.23", "sender-authentication", E);
    expect(550, "5.7.25", SMTPREPLY_CMD_RCPT, "5.7.25", "sender-authentication", E);
    expect(421, "4.7.28", SMTPREPLY_CMD_RCPT, "4.7.28", "rate-limited", E);
    expect(550, "5.7.1", SMTPREPLY_CMD_RCPT, "5.7.1 Delivery not authorized, message refused",
           "policy", E);
    expect(554, "5.6.0", SMTPREPLY_CMD_DATA_END, "5.6.0", "content", E);
    expect(550, "5.6.11", SMTPREPLY_CMD_DATA_END, "5.6.11", "content", E);
    expect(530, "5.7.0", SMTPREPLY_CMD_MAIL, "5.7.0", "auth-required", E);
    expect(454, "4.7.0", SMTPREPLY_CMD_AUTH, "4.7.0", "auth-failed", E);
    expect(454, "4.7.0", SMTPREPLY_CMD_STARTTLS, "4.7.0", "tls-failed", E);
    expect(550, "5.7.0", SMTPREPLY_CMD_RCPT, "5.7.0", "policy", E);
    expect(535, "5.7.8", SMTPREPLY_CMD_AUTH, "5.7.8", "auth-failed", E);
    expect(534, "5.7.9", SMTPREPLY_CMD_AUTH, "5.7.9", "auth-failed", E);
    expect(530, "5.7.10", SMTPREPLY_CMD_MAIL, "5.7.10", "tls-required", E);
    expect(538, "5.7.11", SMTPREPLY_CMD_AUTH, "5.7.11", "tls-required", E);
    expect(550, "5.7.30", SMTPREPLY_CMD_DATA_END, "5.7.30", "tls-required", E);
    expect(501, "5.5.4", SMTPREPLY_CMD_MAIL, "5.5.4", "protocol", E);
    expect(451, "4.3.0", SMTPREPLY_CMD_DATA_END, "4.3.0", "server-error", E);
    expect(451, "4.4.1", SMTPREPLY_CMD_DATA_END, "4.4.1", "server-error", E);
    expect(550, "5.4.4", SMTPREPLY_CMD_RCPT, "5.4.4", "recipient-domain", E);
    expect(521, "5.3.2", SMTPREPLY_CMD_CONNECT, "5.3.2", "unavailable", E);
    /* X.0.0 and X.1.0 say nothing: the basic code decides. */
    expect(550, "5.0.0", SMTPREPLY_CMD_RCPT, "5.0.0", "recipient-unknown", C);
    expect(550, "5.1.0", SMTPREPLY_CMD_MAIL, "5.1.0", "sender-rejected", C);

    /* Code layer with the command. */
    expect(421, NULL, SMTPREPLY_CMD_CONNECT, "mx.example Service not available", "unavailable",
           C);
    expect(554, NULL, SMTPREPLY_CMD_CONNECT, "mx.example", "unavailable", C);
    expect(521, NULL, SMTPREPLY_CMD_CONNECT, "mx.example", "unavailable", C);
    expect(530, NULL, SMTPREPLY_CMD_MAIL, "Access denied", "auth-required", C);
    expect(535, NULL, SMTPREPLY_CMD_AUTH, "No", "auth-failed", C);
    expect(538, NULL, SMTPREPLY_CMD_AUTH, "No", "tls-required", C);
    expect(504, NULL, SMTPREPLY_CMD_AUTH, "No", "auth-failed", C);
    expect(552, NULL, SMTPREPLY_CMD_DATA_END, "No", "message-too-big", C);
    expect(552, NULL, SMTPREPLY_CMD_MAIL, "No", "message-too-big", C);
    expect(552, NULL, SMTPREPLY_CMD_RCPT, "No", "mailbox-full", C);
    expect(452, NULL, SMTPREPLY_CMD_RCPT, "No", "too-many-recipients", C);
    expect(452, NULL, SMTPREPLY_CMD_MAIL, "No", "server-error", C);
    expect(550, NULL, SMTPREPLY_CMD_RCPT, "No", "recipient-unknown", C);
    expect(550, NULL, SMTPREPLY_CMD_MAIL, "No", "sender-rejected", C);
    expect(550, NULL, SMTPREPLY_CMD_DATA_END, "No", "policy", C);
    expect(553, NULL, SMTPREPLY_CMD_MAIL, "No", "sender-rejected", C);
    expect(553, NULL, SMTPREPLY_CMD_RCPT, "No", "recipient-unknown", C);
    expect(556, NULL, SMTPREPLY_CMD_RCPT, "No", "recipient-domain", C);
    expect(500, NULL, SMTPREPLY_CMD_UNKNOWN, "No", "protocol", C);
    expect(501, NULL, SMTPREPLY_CMD_MAIL, "No", "protocol", C);
    expect(502, NULL, SMTPREPLY_CMD_VRFY, "No", "protocol", C);
    expect(503, NULL, SMTPREPLY_CMD_RCPT, "No", "protocol", C);
    expect(504, NULL, SMTPREPLY_CMD_HELO, "No", "protocol", C);
    expect(554, NULL, SMTPREPLY_CMD_DATA, "No", "protocol", C);
    expect(451, NULL, SMTPREPLY_CMD_DATA_END, "No", "server-error", C);
    expect(454, NULL, SMTPREPLY_CMD_STARTTLS, "No", "tls-failed", C);
    expect(454, NULL, SMTPREPLY_CMD_AUTH, "No", "auth-failed", C);
    expect(450, NULL, SMTPREPLY_CMD_RCPT, "No", "policy", C);
    expect(554, NULL, SMTPREPLY_CMD_DATA_END, "No", "policy", C);
    expect(550, NULL, SMTPREPLY_CMD_UNKNOWN, "No", "other", C);
    expect(499, NULL, SMTPREPLY_CMD_RCPT, "No", "other", C);
    expect(571, NULL, SMTPREPLY_CMD_RCPT, NULL, "other", C);

    /* Text layer: one reply per reason the layers above leave out. */
    expect(550, NULL, SMTPREPLY_CMD_DATA_END, "This message scored 12.3 spam points.", "spam", T);
    expect(421, "4.4.2", SMTPREPLY_CMD_UNKNOWN, "4.4.2 mx.example Error: timeout exceeded",
           "timeout", T);
}

static void check_non_failures(void)
{
    static const unsigned codes[] = {0, 101, 200, 220, 250, 334, 354, 600, 999, 1000, 4000000};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        struct smtpreply_reason_info info;
        memset(&info, 0xAB, sizeof info);
        smtpreply_reason_classify(codes[i], NULL, SMTPREPLY_CMD_RCPT, "user unknown", 12, &info);
        CHECK_EQ_U(info.reason, SMTPREPLY_REASON_NONE);
        CHECK_EQ_U(info.source, SMTPREPLY_REASON_SOURCE_NONE);
        CHECK(!info.failure && !info.permanent);
        CHECK(info.name == NULL && info.source_name == NULL && info.party_name == NULL &&
              info.advice == NULL && info.pattern == NULL && info.basis == NULL);
    }
    /* Permanence follows the basic code's class, not the enhanced code's. */
    {
        struct smtpreply_esc e = esc3(5, 1, 1);
        struct smtpreply_reason_info info;
        smtpreply_reason_classify(450, &e, SMTPREPLY_CMD_RCPT, "", 0, &info);
        CHECK(info.failure && !info.permanent);
        CHECK_EQ_S(info.name, "recipient-unknown");
        e = esc3(4, 2, 2);
        smtpreply_reason_classify(552, &e, SMTPREPLY_CMD_RCPT, "", 0, &info);
        CHECK(info.failure && info.permanent);
        CHECK_EQ_S(info.name, "mailbox-full");
        /* A struct that is no RFC 3463 code is ignored; an out-of-range
         * command reads as UNKNOWN. */
        e = esc3(9, 1, 1);
        smtpreply_reason_classify(550, &e, (enum smtpreply_cmd)9999, "", 0, &info);
        CHECK_EQ_S(info.name, "other");
        CHECK_EQ_U(info.source, SMTPREPLY_REASON_SOURCE_CODE);
    }
}

/* The cases the issue calls out, and the meaning that fits. */
static void check_regressions(void)
{
    struct smtpreply_esc e;
    struct smtpreply_reason_info info;
    const char *m;

    /* 452 4.2.2 over quota at RCPT: mailbox full, not "too many recipients". */
    expect(452, "4.2.2", SMTPREPLY_CMD_RCPT,
           "4.2.2 The email account that you tried to reach is over quota. Please direct\n4.2.2 "
           "the "
           "recipient to https://support.google.com/mail/?p=OverQuotaTemp - gsmtp",
           "mailbox-full", SMTPREPLY_REASON_SOURCE_TEXT);
    e = esc3(4, 2, 2);
    m = smtpreply_reply_meaning(SMTPREPLY_CMD_RCPT, 452, &e);
    CHECK_EQ_S(m, "Mailbox full");
    CHECK(!contains_ci(m, "too many recipients"));
    smtpreply_reason_classify(452, &e, SMTPREPLY_CMD_RCPT, "4.2.2 Mailbox full", 18, &info);
    CHECK_EQ_S(info.advice, smtpreply_reason_advice(SMTPREPLY_REASON_MAILBOX_FULL));
    CHECK(!info.permanent);

    /* 554 5.7.1 Relay access denied at RCPT. */
    expect(554, "5.7.1", SMTPREPLY_CMD_RCPT, "5.7.1 <bob@example.org>: Relay access denied",
           "relay-denied", SMTPREPLY_REASON_SOURCE_TEXT);
    e = esc3(5, 7, 1);
    m = smtpreply_reply_meaning(SMTPREPLY_CMD_RCPT, 554, &e);
    CHECK(contains_ci(m, "not authorized"));
    CHECK(!contains_ci(m, "No SMTP service"));
    m = smtpreply_reply_meaning(SMTPREPLY_CMD_RCPT, 554, NULL);
    CHECK(contains_ci(m, "relaying"));
    CHECK(!contains_ci(m, "connection-opening"));
    expect(554, NULL, SMTPREPLY_CMD_RCPT, "<bob@example.org>: Relay access denied",
           "relay-denied", SMTPREPLY_REASON_SOURCE_TEXT);

    /* 503 at RCPT and at DATA: "need MAIL / RCPT first". */
    m = smtpreply_reply_meaning(SMTPREPLY_CMD_RCPT, 503, NULL);
    CHECK(contains_ci(m, "need MAIL first"));
    m = smtpreply_reply_meaning(SMTPREPLY_CMD_DATA, 503, NULL);
    CHECK(contains_ci(m, "need MAIL and RCPT first"));
    e = esc3(5, 5, 1);
    m = smtpreply_reply_meaning(SMTPREPLY_CMD_DATA, 503, &e);
    CHECK_EQ_S(m, "Invalid command");
    expect(503, "5.5.1", SMTPREPLY_CMD_DATA, "5.5.1 Error: need RCPT command", "protocol",
           SMTPREPLY_REASON_SOURCE_TEXT);

    /* Detail 0 ("Other or undefined ... status") says no more than its
     * subject: the command's own meaning wins where there is one. */
    e = esc3(2, 0, 0);
    m = smtpreply_reply_meaning(SMTPREPLY_CMD_DATA_END, 250, &e);
    CHECK(contains_ci(m, "Message accepted"));
    m = smtpreply_reply_meaning(SMTPREPLY_CMD_UNKNOWN, 250, &e);
    CHECK_EQ_S(m, "Other undefined Status");
    e = esc3(5, 1, 0);
    m = smtpreply_reply_meaning(SMTPREPLY_CMD_MAIL, 553, &e);
    CHECK(!contains_ci(m, "Other address status"));

    /* The meaning's fallbacks: an unregistered detail or a class that
     * disagrees gives the command context, else the general meaning. */
    e = esc3(5, 7, 606);
    CHECK_EQ_S(smtpreply_reply_meaning(SMTPREPLY_CMD_RCPT, 550, &e),
               smtpreply_code_meaning_for(550, SMTPREPLY_CMD_RCPT));
    e = esc3(4, 2, 2);
    CHECK_EQ_S(smtpreply_reply_meaning(SMTPREPLY_CMD_RCPT, 552, &e),
               smtpreply_code_meaning_for(552, SMTPREPLY_CMD_RCPT));
    CHECK_EQ_S(smtpreply_reply_meaning(SMTPREPLY_CMD_UNKNOWN, 552, NULL),
               smtpreply_code_meaning_for(552, SMTPREPLY_CMD_UNKNOWN));
    CHECK(contains_ci(smtpreply_reply_meaning(SMTPREPLY_CMD_DATA_END, 452, NULL), "storage"));
    CHECK(contains_ci(smtpreply_reply_meaning(SMTPREPLY_CMD_MAIL, 552, NULL), "SIZE"));
    CHECK_EQ_S(smtpreply_reply_meaning(SMTPREPLY_CMD_RCPT, 1000, NULL), "");
    e = esc3(2, 1, 5);
    CHECK(contains_ci(smtpreply_reply_meaning(SMTPREPLY_CMD_RCPT, 250, &e), "valid"));
}

static void check_reply_cmd(void)
{
    CHECK_EQ_U(smtpreply_reply_cmd(false, SMTPREPLY_CMD_UNKNOWN, SMTPREPLY_STAGE_GREETING),
               SMTPREPLY_CMD_CONNECT);
    CHECK_EQ_U(smtpreply_reply_cmd(true, SMTPREPLY_CMD_DATA, SMTPREPLY_STAGE_DATA_END),
               SMTPREPLY_CMD_DATA_END);
    CHECK_EQ_U(smtpreply_reply_cmd(true, SMTPREPLY_CMD_DATA, SMTPREPLY_STAGE_DATA_START),
               SMTPREPLY_CMD_DATA);
    CHECK_EQ_U(smtpreply_reply_cmd(true, SMTPREPLY_CMD_RCPT, SMTPREPLY_STAGE_REPLY),
               SMTPREPLY_CMD_RCPT);
    CHECK_EQ_U(smtpreply_reply_cmd(false, SMTPREPLY_CMD_RCPT, SMTPREPLY_STAGE_REPLY),
               SMTPREPLY_CMD_UNKNOWN);
    CHECK_EQ_U(smtpreply_reply_cmd(true, SMTPREPLY_CMD_QUIT, SMTPREPLY_STAGE_UNSOLICITED),
               SMTPREPLY_CMD_UNKNOWN);
    CHECK_EQ_U(smtpreply_reply_cmd(true, SMTPREPLY_CMD_AUTH, SMTPREPLY_STAGE_AUTH_FINAL),
               SMTPREPLY_CMD_AUTH);
}

/* Only the first SMTPREPLY_REASON_SCAN_MAX bytes are read: a phrase
 * inside them is found wherever it is, one after them is not. */
static void check_scan_bound(void)
{
    size_t n = SMTPREPLY_REASON_SCAN_MAX + 64;
    char *big = malloc(n);
    struct smtpreply_reason_info info;
    if (!big)
        return;
    memset(big, 'x', n);
    memcpy(big + SMTPREPLY_REASON_SCAN_MAX - 12, "user unknown", 12);
    smtpreply_reason_classify(550, NULL, SMTPREPLY_CMD_DATA_END, big, n, &info);
    CHECK_EQ_S(info.name, "recipient-unknown");
    memset(big, 'x', n);
    memcpy(big + SMTPREPLY_REASON_SCAN_MAX, "user unknown", 12);
    smtpreply_reason_classify(550, NULL, SMTPREPLY_CMD_DATA_END, big, n, &info);
    CHECK_EQ_S(info.name, "policy");
    free(big);
}

int main(void)
{
    check_table();
    check_patterns();
    check_layers();
    check_non_failures();
    check_regressions();
    check_reply_cmd();
    check_scan_bound();
    for (unsigned r = 1; r < SMTPREPLY_REASON__COUNT; r++) {
        if (!seen[r])
            fprintf(stderr, "  reason %s never reached\n",
                    smtpreply_reason_name((enum smtpreply_reason)r));
        CHECK(seen[r]);
    }
    return CHECK_DONE();
}
