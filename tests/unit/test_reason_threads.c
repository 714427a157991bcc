/* SPDX-License-Identifier: MIT */
/*
 * test_reason_threads.c - the reason index is built on first use by
 * whichever thread claims it; the others take the reference path
 * meanwhile.  Several threads start classifying at once (no call before
 * them in this process) and every answer must equal the reference's.
 */
#include <pthread.h>
#include <string.h>

#include "check.h"
#include "reason_internal.h"
#include "smtpreply.h"

static const char *const texts[] = {
    "5.7.1 Service unavailable; Client host [192.0.2.9] blocked using zen.spamhaus.org",
    "4.2.0 <a@example.org>: Recipient address rejected: Greylisted, see http://postgrey.example",
    "5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient "
    "table",
    "4.2.2 The email account that you tried to reach is over quota. Please direct\n4.2.2 the "
    "recipient to https://support.google.com/mail/?p=OverQuotaTemp - gsmtp",
    "5.7.26 This mail has been blocked because the sender is\n5.7.26 unauthenticated.",
    "no pattern matches this text at all, none whatsoever",
    "5.7.1 <bob@example.org>: Relay access denied",
};
#define NTEXTS (sizeof texts / sizeof texts[0])
#define THREADS 8
#define ROUNDS 2000

static pthread_barrier_t start;

static void *worker(void *arg)
{
    unsigned long bad = 0;
    (void)arg;
    pthread_barrier_wait(&start);
    for (unsigned r = 0; r < ROUNDS; r++) {
        const char *t = texts[r % NTEXTS];
        unsigned code = r % 2 ? 550 : 450;
        struct smtpreply_reason_info info;
        smtpreply_reason_classify(code, NULL, SMTPREPLY_CMD_RCPT, t, strlen(t), &info);
        if (info.pattern !=
            smtpreply__reason_pattern_reference(code, NULL, SMTPREPLY_CMD_RCPT, t, strlen(t)))
            bad++;
    }
    return (void *)bad;
}

int main(void)
{
    pthread_t th[THREADS];
    unsigned long total_bad = 0;
    CHECK(pthread_barrier_init(&start, NULL, THREADS) == 0);
    for (int i = 0; i < THREADS; i++)
        CHECK(pthread_create(&th[i], NULL, worker, NULL) == 0);
    for (int i = 0; i < THREADS; i++) {
        void *ret = NULL;
        CHECK(pthread_join(th[i], &ret) == 0);
        total_bad += (unsigned long)ret;
    }
    CHECK_EQ_U(total_bad, 0);
    pthread_barrier_destroy(&start);
    return CHECK_DONE();
}
