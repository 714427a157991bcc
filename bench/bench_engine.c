/* SPDX-License-Identifier: MIT */
/*
 * bench_engine.c - session engine throughput in MB/s on synthetic traffic
 * (a benchmark, not a test: build with RelWithDebInfo and run by hand).
 *
 *   DATA-heavy:    one session, one message of ~N MB of 76-column text,
 *                  fed in 64 KB chunks (the body fast path: memchr per line).
 *   command-heavy: sessions of EHLO / MAIL / RCPT x3 / RSET pipelined with
 *                  their replies, fed in 1460-byte chunks (line assembly,
 *                  pairing, knowledge-base lookups).
 *
 * Usage: bench_engine [MB]   (default 256 MB of input per workload)
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

static unsigned long long events, data_end_replies, anomaly_events;
static void on_event(void *user, const struct smtpreply_event *ev)
{
    (void)user;
    events += ev->type == SMTPREPLY_EV_REPLY;
    data_end_replies += ev->type == SMTPREPLY_EV_REPLY && ev->stage == SMTPREPLY_STAGE_DATA_END;
    anomaly_events += ev->type == SMTPREPLY_EV_ANOMALY;
}

static void feed_chunks(struct smtpreply_session *s, enum smtpreply_dir dir, const uint8_t *p,
                        size_t n, size_t chunk)
{
    for (size_t i = 0; i < n; i += chunk)
        smtpreply_session_feed(s, dir, p + i, n - i < chunk ? n - i : chunk, 0, 0);
}

static double bench_data(size_t total)
{
    /* The body buffer repeats; fed many times inside one DATA. */
    size_t body_len = 4u << 20;
    uint8_t *body = malloc(body_len);
    if (!body)
        return 0;
    for (size_t i = 0; i < body_len; i++)
        body[i] = (uint8_t)('a' + i % 26);
    for (size_t i = 76; i + 1 < body_len; i += 78) {
        body[i] = '\r';
        body[i + 1] = '\n';
    }
    body[body_len - 2] = '\r';
    body[body_len - 1] = '\n';
    static const char head[] = "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n";
    static const char replies[] = "220 x\r\n250 ok\r\n250 ok\r\n354 go\r\n";
    struct smtpreply_session *s = smtpreply_session_new(NULL, NULL, NULL, on_event, NULL, 0);
    smtpreply_session_feed(s, SMTPREPLY_DIR_SERVER, (const uint8_t *)replies, 7, 0, 0);
    smtpreply_session_feed(s, SMTPREPLY_DIR_CLIENT, (const uint8_t *)head, sizeof head - 1, 0, 0);
    smtpreply_session_feed(s, SMTPREPLY_DIR_SERVER, (const uint8_t *)replies + 7,
                           sizeof replies - 8, 0, 0);
    size_t fed = 0;
    double t0 = now();
    while (fed < total) {
        feed_chunks(s, SMTPREPLY_DIR_CLIENT, body, body_len, 65536);
        fed += body_len;
    }
    smtpreply_session_feed(s, SMTPREPLY_DIR_CLIENT, (const uint8_t *)".\r\n", 3, 0, 0);
    double dt = now() - t0;
    smtpreply_session_feed(s, SMTPREPLY_DIR_SERVER, (const uint8_t *)"250 ok\r\n", 8, 0, 0);
    smtpreply_session_finish(s, 0, 0);
    smtpreply_session_free(s);
    free(body);
    /* The check that the body went through the body path, not as lines. */
    if (data_end_replies != 1 || anomaly_events != 0) {
        fprintf(stderr,
                "bench: DATA workload misparsed (%llu data-end replies, %llu anomalies)\n",
                data_end_replies, anomaly_events);
        exit(1);
    }
    return (double)fed / dt / 1e6;
}

static double bench_commands(size_t total, double *replies_per_s)
{
    static const char cmds[] = "EHLO client.example.org\r\n"
                               "MAIL FROM:<sender@example.org> SIZE=12345\r\n"
                               "RCPT TO:<one@example.net>\r\nRCPT TO:<two@example.net>\r\n"
                               "RCPT TO:<three@example.net>\r\nRSET\r\nQUIT\r\n";
    static const char reps[] = "220 mx.example.net ESMTP\r\n"
                               "250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
                               "250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n"
                               "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                               "550 5.1.1 <two@example.net>: Recipient address rejected\r\n"
                               "450 4.2.0 <three@example.net>: greylisted\r\n"
                               "250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n";
    size_t per = sizeof cmds - 1 + sizeof reps - 1;
    size_t fed = 0;
    unsigned long long before = events;
    double t0 = now();
    while (fed < total) {
        struct smtpreply_session *s = smtpreply_session_new(NULL, NULL, NULL, on_event, NULL, 0);
        smtpreply_session_feed(s, SMTPREPLY_DIR_SERVER, (const uint8_t *)reps, 26, 0, 0);
        feed_chunks(s, SMTPREPLY_DIR_CLIENT, (const uint8_t *)cmds, sizeof cmds - 1, 1460);
        feed_chunks(s, SMTPREPLY_DIR_SERVER, (const uint8_t *)reps + 26, sizeof reps - 27, 1460);
        smtpreply_session_finish(s, 0, 0);
        smtpreply_session_free(s);
        fed += per;
    }
    double dt = now() - t0;
    *replies_per_s = (double)(events - before) / dt;
    return (double)fed / dt / 1e6;
}

int main(int argc, char **argv)
{
    size_t mb = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
    if (mb == 0)
        mb = 1;
    size_t total = mb << 20;
    double rps;
    double data = bench_data(total);
    double cmd = bench_commands(total / 8, &rps);
    printf("DATA-heavy:    %8.1f MB/s  (%zu MB, 64 KB chunks, 78-octet lines)\n", data, mb);
    printf("command-heavy: %8.1f MB/s  (%zu MB, 1460-byte chunks, %.2f M replies/s)\n", cmd,
           mb / 8 ? mb / 8 : 1, rps / 1e6);
    return 0;
}
