/* SPDX-License-Identifier: MIT */
/*
 * bench_reason.c - cost of the failure reason per reply (a benchmark, not a
 * test: build with RelWithDebInfo and run by hand).
 *
 *   classify:   smtpreply_reason_classify on a mix of real failure replies
 *               (short Postfix texts, Gmail's long multi-line ones, texts
 *               no pattern matches), cycled N times;
 *   no-match:   the worst case per byte: a 300-byte text that matches no
 *               row, so every row's trigram is looked up;
 *   meaning:    smtpreply_reply_meaning for the same replies;
 *   read+classify: smtpreply_read_reply on the pasted form, then classify.
 *
 * Usage: bench_reason [N]   (default 1000000 replies per workload)
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smtpreply.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The pasted form; the classifier gets each read's text. */
static const char *const items[] = {
    "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient "
    "table",
    "554 5.7.1 <bob@example.org>: Relay access denied",
    "450 4.2.0 <bob@example.org>: Recipient address rejected: Greylisted, see "
    "http://postgrey.schweikert.ch/help/example.org.html",
    "554 5.7.1 Service unavailable; Client host [192.0.2.99] blocked using zen.spamhaus.org; "
    "https://www.spamhaus.org/query/ip/192.0.2.99",
    "550-5.7.26 This mail has been blocked because the sender is unauthenticated.\n550-5.7.26 "
    "Gmail requires all senders to authenticate with either SPF or DKIM.\n550-5.7.26\n550-5.7.26 "
    " Authentication results:\n550-5.7.26  DKIM = did not pass\n550-5.7.26  SPF [example.com] "
    "with ip: [192.0.2.1] = did not pass\n550-5.7.26\n550-5.7.26  For instructions on setting up "
    "authentication, go to\n550 5.7.26  "
    "https://support.google.com/mail/answer/81126#authentication "
    "- gsmtp",
    "421-4.7.28 [192.0.2.1      15] Our system has detected an unusual rate of\n421-4.7.28 "
    "unsolicited mail originating from your IP address. To protect our\n421-4.7.28 users from "
    "spam, mail sent from your IP address has been temporarily\n421-4.7.28 rate limited. Please "
    "visit\n421-4.7.28  https://support.google.com/mail/?p=UnsolicitedRateLimitError to\n421 "
    "4.7.28 review our Bulk Email Senders Guidelines. - gsmtp",
    "452-4.2.2 The email account that you tried to reach is over quota. Please direct\n452-4.2.2 "
    "the recipient to\n452 4.2.2  https://support.google.com/mail/?p=OverQuotaTemp - gsmtp",
    "451 4.3.0 Error: queue file write error",
    "503 5.5.1 Error: need RCPT command",
    "550 5.7.1 Message rejected",
    "421 4.4.2 mx.example.com Error: timeout exceeded",
    "552 5.3.4 Message size exceeds fixed limit",
};
#define NITEMS (sizeof items / sizeof items[0])
static const enum smtpreply_cmd cmds[NITEMS] = {
    SMTPREPLY_CMD_RCPT,     SMTPREPLY_CMD_RCPT,     SMTPREPLY_CMD_RCPT,    SMTPREPLY_CMD_RCPT,
    SMTPREPLY_CMD_DATA_END, SMTPREPLY_CMD_DATA_END, SMTPREPLY_CMD_RCPT,    SMTPREPLY_CMD_DATA_END,
    SMTPREPLY_CMD_DATA,     SMTPREPLY_CMD_DATA_END, SMTPREPLY_CMD_UNKNOWN, SMTPREPLY_CMD_DATA_END,
};

int main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000ul;
    static char texts[NITEMS][2048];
    struct smtpreply_pasted read[NITEMS];
    struct smtpreply_reason_info info;
    unsigned long sink = 0, counts[SMTPREPLY_REASON__COUNT] = {0};
    size_t bytes = 0;
    double t0, t;
    char nomatch[301];

    for (size_t i = 0; i < NITEMS; i++) {
        if (!smtpreply_read_reply(items[i], strlen(items[i]), texts[i], sizeof texts[i],
                                  &read[i])) {
            fprintf(stderr, "bench_reason: item %zu holds no reply\n", i);
            return 1;
        }
        bytes += read[i].text_len;
    }

    t0 = now();
    for (unsigned long k = 0; k < n; k++) {
        size_t i = k % NITEMS;
        smtpreply_reason_classify(read[i].code, read[i].has_esc ? &read[i].esc : NULL, cmds[i],
                                  texts[i], read[i].text_len, &info);
        counts[info.reason]++;
    }
    t = now() - t0;
    printf("classify:       %lu replies, %.1f ns/reply (mean text %zu bytes)\n", n,
           t * 1e9 / (double)n, bytes / NITEMS);
    for (unsigned r = 1; r < SMTPREPLY_REASON__COUNT; r++) {
        if (counts[r])
            printf("  %-22s %lu\n", smtpreply_reason_name((enum smtpreply_reason)r), counts[r]);
    }

    for (size_t i = 0; i < sizeof nomatch - 1; i++)
        nomatch[i] = "qwxzjk mnbv"[i % 11];
    nomatch[sizeof nomatch - 1] = '\0';
    t0 = now();
    for (unsigned long k = 0; k < n; k++) {
        smtpreply_reason_classify(550, NULL, SMTPREPLY_CMD_RCPT, nomatch, sizeof nomatch - 1,
                                  &info);
        sink += info.reason;
    }
    t = now() - t0;
    printf("no-match:       %lu replies, %.1f ns/reply (300-byte text, decided by the code)\n", n,
           t * 1e9 / (double)n);

    t0 = now();
    for (unsigned long k = 0; k < n; k++) {
        size_t i = k % NITEMS;
        sink += strlen(smtpreply_reply_meaning(cmds[i], read[i].code,
                                               read[i].has_esc ? &read[i].esc : NULL));
    }
    t = now() - t0;
    printf("meaning:        %lu replies, %.1f ns/reply\n", n, t * 1e9 / (double)n);

    t0 = now();
    for (unsigned long k = 0; k < n; k++) {
        size_t i = k % NITEMS;
        struct smtpreply_pasted p;
        static char buf[2048];
        smtpreply_read_reply(items[i], strlen(items[i]), buf, sizeof buf, &p);
        smtpreply_reason_classify(p.code, p.has_esc ? &p.esc : NULL, cmds[i], buf, p.text_len,
                                  &info);
        sink += info.reason;
    }
    t = now() - t0;
    printf("read+classify:  %lu items, %.1f ns/item\n", n, t * 1e9 / (double)n);
    return sink == 1 ? 2 : 0;
}
