/* SPDX-License-Identifier: MIT */
/*
 * decode.c - link layer, IPv4/IPv6 and TCP headers, in the manner of
 * tcpdump's printers: every read is preceded by a length check against
 * what was captured, and a frame that runs short is counted, not guessed.
 *
 * Link types: Ethernet (802.1Q, 802.1ad and QinQ tags), Linux cooked SLL
 * and SLL2, raw IP, IPv4/IPv6 link types, BSD NULL and LOOP.
 * IP fragments are not reassembled: SMTP stacks set DF and use path MTU
 * discovery, so fragments are rare; they are counted as skipped.
 */
#include <pcap/pcap.h>
#include <string.h>

#include "decode.h"
#include "smtpreply.h"

const char *const decode_skip_names[SKIP__COUNT] = {
    [SKIP_NONE] = "none",
    [SKIP_LINKTYPE] = "unsupported link type",
    [SKIP_NOT_IP] = "not IP",
    [SKIP_NOT_TCP] = "not TCP",
    [SKIP_FRAGMENT] = "IP fragment (not reassembled)",
    [SKIP_TRUNCATED] = "headers cut by the snaplen",
    [SKIP_MALFORMED] = "malformed header",
};

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

bool decode_linktype_supported(int dlt)
{
    switch (dlt) {
    case DLT_EN10MB:
    case DLT_LINUX_SLL:
    case DLT_LINUX_SLL2:
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
    case DLT_NULL:
    case DLT_LOOP:
    case 14: /* DLT_RAW as OpenBSD numbers it */
        return true;
    default:
        return false;
    }
}

static enum decode_skip decode_tcp(const uint8_t *p, uint32_t caplen, uint32_t iplen,
                                   struct tcp_segment *seg)
{
    if (caplen < 20)
        return SKIP_TRUNCATED;
    uint32_t off = (uint32_t)(p[12] >> 4) * 4;
    if (off < 20 || off > iplen)
        return SKIP_MALFORMED;
    /* A snaplen that ends inside the options (a SYN's MSS, SACK and
     * timestamps make its header the longest of the flow) still leaves the
     * fixed header: ports, sequence number and flags are all we read, and
     * losing a SYN would lose its direction's start, so every later hole
     * in that direction would go uncounted. */
    uint32_t captured_off = caplen < off ? caplen : off;
    seg->sport = be16(p);
    seg->dport = be16(p + 2);
    seg->seq = be32(p + 4);
    seg->flags = p[13];
    seg->payload = p + captured_off;
    uint32_t want = iplen - off;
    uint32_t have = caplen - captured_off;
    seg->len = want < have ? want : have;
    seg->declared = want;
    seg->sent = want;
    seg->cut = have < want;
    return SKIP_NONE;
}

static enum decode_skip decode_ipv4(const uint8_t *p, uint32_t caplen, struct tcp_segment *seg)
{
    if (caplen < 20)
        return SKIP_TRUNCATED;
    if ((p[0] >> 4) != 4)
        return SKIP_MALFORMED;
    uint32_t ihl = (uint32_t)(p[0] & 0x0f) * 4;
    uint32_t total = be16(p + 2);
    /* Captures taken before TCP segmentation offload record the length
     * as 0 (the NIC fills it in): the frame as captured is the packet.
     * (A snaplen cut of such a frame cannot be told, so it reads as
     * whole.) */
    if (total == 0)
        total = caplen;
    if (ihl < 20 || total < ihl)
        return SKIP_MALFORMED;
    if (caplen < ihl)
        return SKIP_TRUNCATED;
    uint16_t frag = be16(p + 6);
    if ((frag & 0x2000) || (frag & 0x1fff))
        return SKIP_FRAGMENT;
    if (p[9] != 6)
        return SKIP_NOT_TCP;
    seg->family = 4;
    memset(seg->src, 0, sizeof seg->src);
    memset(seg->dst, 0, sizeof seg->dst);
    memcpy(seg->src, p + 12, 4);
    memcpy(seg->dst, p + 16, 4);
    return decode_tcp(p + ihl, caplen - ihl, total - ihl, seg);
}

static enum decode_skip decode_ipv6(const uint8_t *p, uint32_t caplen, struct tcp_segment *seg)
{
    if (caplen < 40)
        return SKIP_TRUNCATED;
    if ((p[0] >> 4) != 6)
        return SKIP_MALFORMED;
    uint32_t plen = be16(p + 4);
    uint8_t next = p[6];
    uint32_t off = 40;
    seg->family = 6;
    memcpy(seg->src, p + 8, 16);
    memcpy(seg->dst, p + 24, 16);
    /* Walk the extension headers (RFC 8200 §4). */
    for (int hops = 0; hops < 16; hops++) {
        switch (next) {
        case 6:
            if (plen + 40 < off)
                return SKIP_MALFORMED;
            return decode_tcp(p + off, caplen - off, plen + 40 - off, seg);
        case 0:
        case 43:
        case 60:
        case 135:
        case 139:
        case 140:
            if (caplen < off + 2)
                return SKIP_TRUNCATED;
            next = p[off];
            off += ((uint32_t)p[off + 1] + 1) * 8;
            break;
        case 51: /* AH: length in 4-octet units, minus 2 */
            if (caplen < off + 2)
                return SKIP_TRUNCATED;
            next = p[off];
            off += ((uint32_t)p[off + 1] + 2) * 4;
            break;
        case 44:
            return SKIP_FRAGMENT;
        default:
            return SKIP_NOT_TCP; /* ESP, no next header, UDP, ICMPv6, ... */
        }
        if (off > caplen)
            return SKIP_TRUNCATED;
    }
    return SKIP_MALFORMED;
}

static enum decode_skip decode_ethertype(uint16_t type, const uint8_t *p, uint32_t caplen,
                                         struct tcp_segment *seg)
{
    switch (type) {
    case 0x0800:
        return decode_ipv4(p, caplen, seg);
    case 0x86dd:
        return decode_ipv6(p, caplen, seg);
    default:
        return SKIP_NOT_IP;
    }
}

static enum decode_skip decode_ip_any(const uint8_t *p, uint32_t caplen, struct tcp_segment *seg)
{
    if (caplen < 1)
        return SKIP_TRUNCATED;
    switch (p[0] >> 4) {
    case 4:
        return decode_ipv4(p, caplen, seg);
    case 6:
        return decode_ipv6(p, caplen, seg);
    default:
        return SKIP_NOT_IP;
    }
}

static enum decode_skip decode_link(int dlt, const uint8_t *p, uint32_t caplen,
                                    struct tcp_segment *seg)
{
    switch (dlt) {
    case DLT_EN10MB: {
        if (caplen < 14)
            return SKIP_TRUNCATED;
        uint32_t off = 12;
        uint16_t type = be16(p + off);
        /* 802.1Q, 802.1ad, and the old QinQ 0x9100: up to 4 tags. */
        for (int tags = 0; (type == 0x8100 || type == 0x88a8 || type == 0x9100) && tags < 4;
             tags++) {
            off += 4;
            if (caplen < off + 2)
                return SKIP_TRUNCATED;
            type = be16(p + off);
        }
        off += 2;
        return decode_ethertype(type, p + off, caplen - off, seg);
    }
    case DLT_LINUX_SLL:
        if (caplen < 16)
            return SKIP_TRUNCATED;
        return decode_ethertype(be16(p + 14), p + 16, caplen - 16, seg);
    case DLT_LINUX_SLL2:
        if (caplen < 20)
            return SKIP_TRUNCATED;
        return decode_ethertype(be16(p), p + 20, caplen - 20, seg);
    case DLT_NULL:
    case DLT_LOOP: {
        if (caplen < 4)
            return SKIP_TRUNCATED;
        /* NULL: the family in the capturing host's byte order; LOOP: in
         * network order.  Accept either: AF_INET is 2 everywhere, AF_INET6
         * is 10 (Linux), 24, 28 or 30 (the BSDs, macOS). */
        uint32_t fam = be32(p);
        if (fam > 0xffff)
            fam = (uint32_t)p[0] | (uint32_t)p[1] << 8;
        switch (fam) {
        case 2:
            return decode_ipv4(p + 4, caplen - 4, seg);
        case 10:
        case 24:
        case 28:
        case 30:
            return decode_ipv6(p + 4, caplen - 4, seg);
        default:
            return SKIP_NOT_IP;
        }
    }
    case DLT_IPV4:
        return decode_ipv4(p, caplen, seg);
    case DLT_IPV6:
        return decode_ipv6(p, caplen, seg);
    default:
        if (dlt == DLT_RAW || dlt == 14)
            return decode_ip_any(p, caplen, seg);
        return SKIP_LINKTYPE;
    }
}

enum decode_skip decode_frame(int dlt, const uint8_t *p, uint32_t caplen, uint32_t wirelen,
                              struct tcp_segment *seg)
{
    enum decode_skip why = decode_link(dlt, p, caplen, seg);
    seg->wire_len = wirelen;
    seg->cap_len = caplen;
    /* The lengths in the headers are trusted as far as the record says
     * bytes were dropped from the frame (the core's rule; the connection
     * layer applies it again from the same lengths). */
    if (why == SKIP_NONE && seg->cut) {
        seg->sent = (uint32_t)smtpreply_segment_sent(seg->len, seg->declared, wirelen, caplen);
        seg->cut = seg->sent > seg->len; /* a whole frame is not snaplen-cut */
    }
    return why;
}
