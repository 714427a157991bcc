/* SPDX-License-Identifier: MIT */
/*
 * fuzz_pcap.c - a pcap (or pcapng) file image in: libpcap reads it from
 * memory, the analyzer's decoder (analyzer/decode.c) takes each frame
 * apart, and every TCP segment goes to a connection (reassembly,
 * detection, session engine) keyed by its port pair.  Properties: no
 * crash, no sanitizer report, memory within the caps.  Seeds: captures/.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "smtpreply.h"

#define FLOWS 8

static void on_event(void *user, const struct smtpreply_event *ev)
{
    (void)user;
    (void)ev;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[PCAP_ERRBUF_SIZE];
    FILE *f = fmemopen((void *)data, size, "rb");
    if (f == NULL)
        return 0;
    pcap_t *p = pcap_fopen_offline(f, err); /* owns f from here */
    if (p == NULL) {
        fclose(f);
        return 0;
    }
    struct smtpreply_conn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    smtpreply_limits_default(&cfg.limits);
    cfg.limits.max_reasm = 4096;
    cfg.limits.max_line = 512;
    struct {
        uint16_t a, b;
        struct smtpreply_conn *c;
    } flows[FLOWS];
    memset(flows, 0, sizeof flows);
    int dlt = pcap_datalink(p);
    struct pcap_pkthdr *h;
    const u_char *d;
    uint64_t n = 0;
    while (pcap_next_ex(p, &h, &d) == 1 && n < 100000) {
        struct tcp_segment seg;
        n++;
        if (decode_frame(dlt, d, h->caplen, h->len, &seg) != SKIP_NONE)
            continue;
        if (seg.len > h->caplen || seg.sent < seg.len ||
            seg.sent - seg.len > (h->len > h->caplen ? h->len - h->caplen : 0))
            abort(); /* never past the frame; never more lost than the frame lost */
        int slot = -1;
        bool from_b = false;
        for (int i = 0; i < FLOWS; i++) {
            if (flows[i].c && flows[i].a == seg.sport && flows[i].b == seg.dport) {
                slot = i;
            } else if (flows[i].c && flows[i].a == seg.dport && flows[i].b == seg.sport) {
                slot = i;
                from_b = true;
            }
        }
        if (slot < 0) {
            slot = (int)(n % FLOWS);
            smtpreply_conn_free(flows[slot].c);
            cfg.port_kind_a = seg.sport == 25 ? SMTPREPLY_PORT_SMTP : SMTPREPLY_PORT_OTHER;
            cfg.port_kind_b = seg.dport == 25 ? SMTPREPLY_PORT_SMTP : SMTPREPLY_PORT_OTHER;
            flows[slot].c = smtpreply_conn_new(&cfg, NULL, NULL, on_event, NULL);
            flows[slot].a = seg.sport;
            flows[slot].b = seg.dport;
        }
        smtpreply_conn_segment_cut(flows[slot].c, from_b, seg.seq, seg.flags, seg.payload,
                                   seg.len, seg.sent,
                                   (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec, n);
    }
    for (int i = 0; i < FLOWS; i++) {
        if (flows[i].c) {
            struct smtpreply_conn_stats st;
            smtpreply_conn_finish(flows[i].c, 0, n);
            smtpreply_conn_stats(flows[i].c, &st);
            if (st.bytes_allocated > (size_t)4 << 20)
                abort();
            smtpreply_conn_free(flows[i].c);
        }
    }
    pcap_close(p);
    return 0;
}
