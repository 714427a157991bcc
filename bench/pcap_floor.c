/* SPDX-License-Identifier: MIT */
/*
 * pcap_floor.c - the floor every capture tool pays: a bare libpcap
 * pcap_next_ex loop that touches every packet (reads each byte, so the
 * data really comes from the file) and does nothing else.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    char err[PCAP_ERRBUF_SIZE];
    uint64_t packets = 0, bytes = 0;
    uint8_t x = 0;
    if (argc != 2) {
        fprintf(stderr, "usage: pcap_floor FILE\n");
        return 2;
    }
    pcap_t *p = pcap_open_offline(argv[1], err);
    if (p == NULL) {
        fprintf(stderr, "pcap_floor: %s\n", err);
        return 2;
    }
    struct pcap_pkthdr *h;
    const u_char *d;
    while (pcap_next_ex(p, &h, &d) == 1) {
        packets++;
        bytes += h->caplen;
        for (uint32_t i = 0; i < h->caplen; i++)
            x ^= d[i];
    }
    pcap_close(p);
    printf("%llu packets %llu bytes (xor %u)\n", (unsigned long long)packets,
           (unsigned long long)bytes, x);
    return 0;
}
