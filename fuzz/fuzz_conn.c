/* SPDX-License-Identifier: MIT */
/*
 * fuzz_conn.c - the connection layer (TCP reassembly, SMTP detection,
 * session engine behind it) driven by a list of segments read from the
 * input:
 *   byte 0     bit 0: from B; bits 1-5: TCP flags (FIN SYN RST - ACK)
 *   byte 1-2   sequence offset from the side's base (little endian; the
 *              base sits near 2^32 so wraparound is exercised)
 *   byte 3     payload length L, then L payload bytes
 * The first byte of the input picks the port kinds.  Properties: no crash,
 * no sanitizer report, and heap use within the caps (small caps here so
 * the fuzzer reaches them).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpreply.h"

static void on_event(void *user, const struct smtpreply_event *ev)
{
    (void)user;
    /* Touch what a face would read. */
    volatile size_t sink = ev->text_len;
    for (size_t i = 0; i < ev->text_len; i++)
        sink += (unsigned char)ev->text[i];
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct smtpreply_conn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    smtpreply_limits_default(&cfg.limits);
    cfg.limits.max_line = 256;
    cfg.limits.max_pending = 16;
    cfg.limits.max_reply_lines = 8;
    cfg.limits.max_held = 512;
    cfg.limits.max_reasm = 1024;
    cfg.limits.max_detect = 256;
    cfg.port_kind_a = (enum smtpreply_port_kind)(data[0] % 3);
    cfg.port_kind_b = (enum smtpreply_port_kind)((data[0] / 3) % 3);
    struct smtpreply_conn *c = smtpreply_conn_new(&cfg, NULL, NULL, on_event, NULL);
    if (c == NULL)
        return 0;
    const uint32_t base[2] = {0xffffff00u, 0x7fffff80u};
    size_t i = 1;
    uint64_t tag = 0;
    while (i + 4 <= size) {
        uint8_t hdr = data[i];
        bool from_b = hdr & 1;
        unsigned flags = (hdr >> 1) & 0x1f;
        unsigned wire = (flags & 0x07) | ((flags & 0x10) ? SMTPREPLY_TCP_ACK : 0);
        uint32_t off = (uint32_t)data[i + 1] | (uint32_t)data[i + 2] << 8;
        size_t len = data[i + 3];
        i += 4;
        if (len > size - i)
            len = size - i;
        smtpreply_conn_segment(c, from_b, base[from_b] + off, wire, data + i, len,
                               (int64_t)tag * 1000, tag);
        i += len;
        tag++;
        struct smtpreply_conn_stats st;
        smtpreply_conn_stats(c, &st);
        /* Caps: 2 x (reassembly + detection) + the session's own bound
         * (two line buffers, the held bytes, the queue) + fixed parts. */
        size_t bound = 2 * (1024 + 256 + 4 * 256) + 2 * 256 + 512 + 16 * 128 + 8192;
        if (st.bytes_allocated > bound)
            abort();
    }
    smtpreply_conn_finish(c, (int64_t)tag * 1000, tag);
    smtpreply_conn_free(c);
    return 0;
}
