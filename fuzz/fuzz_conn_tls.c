/* SPDX-License-Identifier: MIT */
/*
 * fuzz_conn_tls.c - the connection layer with TLS followed, as `tally
 * --keylog` wires it: the conn's tls_bytes hook feeds a TLS decoder
 * (common/tls.h) whose decrypted data goes back through
 * smtpreply_conn_decrypted from inside the hook (the queue), and the
 * session parses it.  The key log is fixed (the secrets of
 * captures/tls/starttls-tls13, starttls-tls12-gcm and implicit-465), so
 * seeds made from those captures (gen_conn_tls_seeds.py) decrypt, and
 * mutations explore the record layer, the TLS start offsets, the
 * decrypted session and their gaps together.
 *
 * Input: one config byte (bits 0-1: B's port kind; bit 2: small limits;
 * bit 3: a SYN handshake first; bit 4: decrypted data is also fed from
 * outside the hook, plugin style, after each segment), then records
 *   [ctl][len hi][len lo] payload[len]
 * ctl bit 0: from B (the server side in the seeds); bit 1: FIN; bit 2:
 * RST; bit 3: the segment is lost (its sequence numbers are used, its
 * bytes never arrive); bit 4: the capture cut it (half its payload
 * kept).  Sequence numbers follow each side in order.
 * Checks: no crash or leak (sanitizers); an event's text is readable;
 * replies read inside TLS only once decrypted data came; the memory the
 * hook counts returns to zero.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_acct.h"
#include "smtpreply.h"
#include "tls.h"

static const char fuzz_keylog[] =
    "SERVER_HANDSHAKE_TRAFFIC_SECRET "
    "334e42207f783ff8f68c2dd58a8399d53243676eae085f34465c9d453731156e "
    "33f96d3dcae6aa8a74305a12e1ee396ae185a6e17c1399deb753fe434e9e2a1e421084f59a5bc03f06d8707944f2"
    "d8a2\n"
    "SERVER_TRAFFIC_SECRET_0 "
    "334e42207f783ff8f68c2dd58a8399d53243676eae085f34465c9d453731156e "
    "2928298e12c65aafcb98a8dd7e3c3290eedf9f29cd5e51af27aafb00897c97d226591cdb269272f478319fb96a8f"
    "a9bb\n"
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET "
    "334e42207f783ff8f68c2dd58a8399d53243676eae085f34465c9d453731156e "
    "c0213614a2bd22eb4b79b7a994f423aa8c11069d40390f4015cac2779d589adca8388847883992b27104fe266365"
    "ce2a\n"
    "CLIENT_TRAFFIC_SECRET_0 "
    "334e42207f783ff8f68c2dd58a8399d53243676eae085f34465c9d453731156e "
    "ae3664d9d92c2347d9b5cf26497598334bb06b1a028748daef7e9a314c63501a6dbd27376f8f9a75f6fbdde49c44"
    "2ec2\n"
    "CLIENT_RANDOM "
    "fece9d604e5a548936eed72792182ce5b46b8ef7b545c211cd21504933d774c3 "
    "a78aa821ae1495fec7078ca4eac816ae66fa01da47bca9671dffddfc09a7dadf51141f3f856478037e877ec83522"
    "37dd\n"
    "SERVER_HANDSHAKE_TRAFFIC_SECRET "
    "2d8f4c4fbbe4e61c7ef582dd49ab6354deb9f4f5e2044e0611b04ee7e6c316d0 "
    "e52432cc374956aa2e3015b8336e60b9352348ac3a1eb429128f7ac9b37b8788282084efcf2e486d63a8910d4492"
    "256a\n"
    "SERVER_TRAFFIC_SECRET_0 "
    "2d8f4c4fbbe4e61c7ef582dd49ab6354deb9f4f5e2044e0611b04ee7e6c316d0 "
    "bd1474e7f02d7c90d2be558882722831a38348685a8477246f349ae25c5ac7d3be16f36818e8ea9925a7d0fd5789"
    "47f9\n"
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET "
    "2d8f4c4fbbe4e61c7ef582dd49ab6354deb9f4f5e2044e0611b04ee7e6c316d0 "
    "83f7858ebd4bc18316fa82cec454715096e00acf7c7409e5f1ce3600e227b8cccfebae6c5b4e55f06f4843fd377e"
    "cf95\n"
    "CLIENT_TRAFFIC_SECRET_0 "
    "2d8f4c4fbbe4e61c7ef582dd49ab6354deb9f4f5e2044e0611b04ee7e6c316d0 "
    "809c957ae5b4eeafc64236acb79dc6bf40906ab01096785ed95f87c8e86b64ed398d477d0b7cd4bef13d9f97ad0b"
    "947e\n";

struct ctx {
    struct smtpreply_conn *c;
    struct smtpreply_tls *tls;
    int64_t ts;
    uint64_t tag;
    size_t live;
    size_t tls_replies, dec_bytes;
    bool outside;
    uint8_t out[2][512];
    size_t out_n[2];
};

static void on_event(void *user, const struct smtpreply_event *ev)
{
    struct ctx *x = user;
    if (ev->text_len && ev->text)
        (void)ev->text[ev->text_len - 1]; /* must be readable */
    if (ev->type == SMTPREPLY_EV_REPLY && ev->tls) {
        if (x->dec_bytes == 0)
            abort(); /* a reply inside TLS without decrypted data */
        x->tls_replies++;
    }
}

static void on_plain(void *user, int dir, const uint8_t *data, size_t len)
{
    struct ctx *x = user;
    x->dec_bytes += len;
    if (x->outside) {
        /* Plugin style: kept, fed after the segment. */
        size_t room = sizeof x->out[dir] - x->out_n[dir];
        size_t k = len < room ? len : room;
        memcpy(x->out[dir] + x->out_n[dir], data, k);
        x->out_n[dir] += k;
        return;
    }
    smtpreply_conn_decrypted(x->c, dir ? SMTPREPLY_DIR_SERVER : SMTPREPLY_DIR_CLIENT, data, len,
                             x->ts, x->tag);
}

static void on_tls_bytes(void *user, enum smtpreply_dir dir, const uint8_t *data, size_t len,
                         uint64_t missing, int64_t ts, uint64_t tag)
{
    struct ctx *x = user;
    x->ts = ts;
    x->tag = tag;
    int d = dir == SMTPREPLY_DIR_SERVER;
    if (missing)
        smtpreply_tls_gap(x->tls, d, missing);
    if (len)
        smtpreply_tls_feed(x->tls, d, data, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct smtpreply_tls_keylog *kl;
    if (!kl) {
        kl = smtpreply_tls_keylog_new(16, NULL, NULL);
        smtpreply_tls_keylog_add(kl, fuzz_keylog, sizeof fuzz_keylog - 1);
    }
    if (size < 1)
        return 0;
    struct ctx x;
    memset(&x, 0, sizeof x);
    uint8_t conf = data[0];
    struct smtpreply_conn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    smtpreply_limits_default(&cfg.limits);
    cfg.port_kind_b = (enum smtpreply_port_kind)(conf & 3u) % 3;
    if (conf & 4u) {
        cfg.limits.max_reasm = 512;
        cfg.limits.max_detect = 64;
        cfg.limits.max_line = 32;
        cfg.limits.max_held = 512;
    }
    x.outside = (conf & 16u) != 0;
    cfg.tls_bytes = on_tls_bytes;
    cfg.tls_user = &x;
    x.c = smtpreply_conn_new(&cfg, fuzz_acct_realloc, &x.live, on_event, &x);
    x.tls = smtpreply_tls_new(kl, on_plain, &x, fuzz_acct_realloc, &x.live);
    if (!x.c || !x.tls)
        goto out;
    uint32_t seq[2] = {1001, 50001};
    uint64_t tag = 1;
    if (conf & 8u) {
        smtpreply_conn_segment(x.c, false, 1000, SMTPREPLY_TCP_SYN, NULL, 0, 0, tag++);
        smtpreply_conn_segment(x.c, true, 50000, SMTPREPLY_TCP_SYN | SMTPREPLY_TCP_ACK, NULL, 0,
                               0, tag++);
    }
    size_t p = 1;
    while (p + 3 <= size) {
        uint8_t ctl = data[p];
        size_t len = (size_t)data[p + 1] << 8 | data[p + 2];
        p += 3;
        if (len > size - p)
            len = size - p;
        int e = ctl & 1u;
        unsigned flags = SMTPREPLY_TCP_ACK;
        if (ctl & 2u)
            flags |= SMTPREPLY_TCP_FIN;
        if (ctl & 4u)
            flags |= SMTPREPLY_TCP_RST;
        if (!(ctl & 8u)) {
            size_t kept = (ctl & 16u) ? len / 2 : len;
            smtpreply_conn_segment_cut(x.c, e, seq[e], flags, data + p, kept, len, (int64_t)tag,
                                       tag);
        }
        seq[e] += (uint32_t)len;
        p += len;
        tag++;
        for (int d = 0; d < 2; d++) {
            if (x.out_n[d])
                smtpreply_conn_decrypted(x.c, d ? SMTPREPLY_DIR_SERVER : SMTPREPLY_DIR_CLIENT,
                                         x.out[d], x.out_n[d], (int64_t)tag, tag);
            x.out_n[d] = 0;
        }
    }
    smtpreply_conn_finish(x.c, (int64_t)tag, tag);
    smtpreply_tls_end(x.tls);
    if (getenv("FUZZ_CONN_TLS_SAY"))
        fprintf(stderr, "fuzz_conn_tls: %zu decrypted bytes, %zu replies inside TLS\n",
                x.dec_bytes, x.tls_replies);
out:
    smtpreply_tls_free(x.tls);
    smtpreply_conn_free(x.c);
    if (x.live != 0)
        abort(); /* everything allocated is freed */
    return 0;
}
