/* SPDX-License-Identifier: MIT */
/*
 * fuzz_reasm.c - the connection layer under arbitrary segment sequences.
 *
 * Input: one config byte (bits 0-1: B's port kind, bit 2: A's port is
 * SMTP, bits 3-4: small limits), then records
 *   [ctl][dseq hi][dseq lo][len] payload[len]
 * ctl bit 0: from B; bits 1-4: TCP flags FIN, SYN, RST, ACK; bit 5: the
 * sequence delta is negative; bit 6: absolute jump near 2^32 (wrap);
 * bit 7: the capture cut the segment (only the first half of its payload
 * is handed over, all of it counts as sent).
 * Each side's sequence number moves by the signed delta before the
 * segment.  Checks: no crash (sanitizers), the conn's bytes_allocated
 * equals what the hook holds and stays within its caps, everything is
 * freed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_acct.h"
#include "smtpreply.h"

static void on_event(void *user, const struct smtpreply_event *ev)
{
    size_t *n = user;
    (*n)++;
    if (ev->text_len && ev->text)
        (void)ev->text[ev->text_len - 1]; /* must be readable */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct smtpreply_conn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    smtpreply_limits_default(&cfg.limits);
    uint8_t conf = data[0];
    cfg.port_kind_b = (enum smtpreply_port_kind)(conf & 3u) % 3;
    cfg.port_kind_a = (conf & 4u) ? SMTPREPLY_PORT_SMTP : SMTPREPLY_PORT_OTHER;
    if (conf & 8u) {
        cfg.limits.max_reasm = 512;
        cfg.limits.max_detect = 64;
        cfg.limits.max_line = 32;
    }
    if (conf & 16u)
        cfg.limits.max_pending = 4;
    size_t live = 0;
    size_t events = 0;
    struct smtpreply_conn *c =
        smtpreply_conn_new(&cfg, fuzz_acct_realloc, &live, on_event, &events);
    if (!c)
        return 0;
    /* The caps: reassembly per direction, detection per direction, the
     * session's own (generous: lines, held bytes, pending FIFO). */
    size_t bound = 4096 + 2u * cfg.limits.max_reasm + 2u * cfg.limits.max_detect + 64 * 32 +
                   2u * cfg.limits.max_line + cfg.limits.max_held +
                   (size_t)cfg.limits.max_pending * 64 + 65536;
    uint32_t seq[2] = {1000, 0x7ffffff0u};
    size_t i = 1;
    uint64_t tag = 0;
    while (i + 4 <= size) {
        uint8_t ctl = data[i];
        uint32_t delta = (uint32_t)data[i + 1] << 8 | data[i + 2];
        size_t len = data[i + 3];
        i += 4;
        if (len > size - i)
            len = size - i;
        int e = ctl & 1u;
        if (ctl & 0x40u)
            seq[e] = 0xffffff00u + (delta & 0xffu);
        else if (ctl & 0x20u)
            seq[e] -= delta;
        else
            seq[e] += delta;
        unsigned flags = 0;
        if (ctl & 0x02u)
            flags |= SMTPREPLY_TCP_FIN;
        if (ctl & 0x04u)
            flags |= SMTPREPLY_TCP_SYN;
        if (ctl & 0x08u)
            flags |= SMTPREPLY_TCP_RST;
        if (ctl & 0x10u)
            flags |= SMTPREPLY_TCP_ACK;
        size_t kept = (ctl & 0x80u) ? len / 2 : len;
        smtpreply_conn_segment_cut(c, e, seq[e], flags, data + i, kept, len, (int64_t)tag * 1000,
                                   tag);
        seq[e] += (uint32_t)len;
        i += len;
        tag++;
        struct smtpreply_conn_stats st;
        smtpreply_conn_stats(c, &st);
        if (st.bytes_allocated != live || live > bound)
            abort();
    }
    smtpreply_conn_finish(c, 0, tag);
    struct smtpreply_conn_stats st;
    smtpreply_conn_stats(c, &st);
    if (st.bytes_allocated != live)
        abort();
    smtpreply_conn_free(c);
    if (live != 0)
        abort();
    return 0;
}
