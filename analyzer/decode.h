/* SPDX-License-Identifier: MIT */
/* decode.h - from a captured frame to one TCP segment, bounds-checked. */
#ifndef SMTPREPLY_DECODE_H
#define SMTPREPLY_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Why a frame yields no TCP segment. */
enum decode_skip {
    SKIP_NONE = 0,
    SKIP_LINKTYPE,  /* link type we do not decode */
    SKIP_NOT_IP,    /* ARP, LLDP, ... */
    SKIP_NOT_TCP,   /* UDP, ICMP, ... */
    SKIP_FRAGMENT,  /* IPv4/IPv6 fragment: not reassembled (counted) */
    SKIP_TRUNCATED, /* headers cut by the snaplen */
    SKIP_MALFORMED, /* impossible header values */
    SKIP__COUNT
};
extern const char *const decode_skip_names[SKIP__COUNT];

struct tcp_segment {
    uint8_t family; /* 4 or 6 */
    uint8_t src[16], dst[16];
    uint16_t sport, dport;
    uint32_t seq;
    uint8_t flags;
    const uint8_t *payload;
    uint32_t len;      /* payload bytes captured */
    uint32_t declared; /* payload bytes the IP and TCP lengths declare */
    uint32_t sent;     /* payload bytes sent: declared, bounded by what
                                the frame lost (smtpreply_segment_sent) */
    uint32_t wire_len; /* the frame's length on the wire and as */
    uint32_t cap_len;  /* captured: what smtpreply_conn_segment_frame
                                bounds declared by */
    bool cut;          /* the snaplen cut the payload (sent > len); a
                                frame whose IP length claims more than the
                                record's wire length is not cut */
};

/* True if the link type is one we decode. */
bool decode_linktype_supported(int dlt);
/* Decodes one frame of caplen captured bytes out of wirelen on the wire;
 * returns SKIP_NONE and fills seg, or why not.  seg->sent never counts
 * more lost bytes than the frame lost (wirelen - caplen). */
enum decode_skip decode_frame(int dlt, const uint8_t *p, uint32_t caplen, uint32_t wirelen,
                              struct tcp_segment *seg);

#endif
