/* SPDX-License-Identifier: MIT */
/*
 * tls-smtpreply.c - SMTP inside TLS that Wireshark decrypted (issue 14):
 * the plugin hands the decrypted application data of a frame to the same
 * connection as its raw TCP segment, so the replies read inside STARTTLS
 * and implicit TLS get the same fields, counts and pairings as plaintext
 * ones, equal to the CLI's.
 *
 * Where the bytes come from.  When Wireshark has the secrets (the
 * tls.keylog_file preference, or a pcapng Decryption Secrets Block), its
 * TLS dissector keeps every record it decrypted as per-frame data of the
 * "tls" protocol (SslPacketInfo, packet-tls-utils.h): a list of records
 * with their content type and, for application data, their offset in the
 * decrypted stream of their direction (seq).  A postdissector runs after
 * the TLS dissector in the same frame, so on the first pass it finds the
 * frame's records there.  (A tap would run after the tree is built, too
 * late to add fields.)  The layout of those structures and the key they
 * are stored under differ between Wireshark releases: ws_compat.h.
 *
 * What is fed.  The application-data records (content type 23) of the
 * frame, in list order (the dissector appends them as it decrypts them),
 * in the frame's direction, after the frame's raw segment, on the first
 * pass only, like the segments.  A record (or the part of one) whose
 * stream offset is below what was already fed for that direction is
 * skipped: each byte, hence each reply, is counted once.  Without
 * decrypted records nothing changes: the plugin behaves as without TLS
 * support.
 *
 * The core takes the bytes through smtpreply_conn_decrypted, as the CLI's
 * own TLS layer hands it its decrypted bytes, and marks the replies read
 * from them (event.tls: the field smtpreply.tls).  It ignores decrypted
 * bytes before TLS started in its view of the connection.
 */
#define WS_BUILD_DLL
#include <wireshark.h>
#include <epan/packet.h>
#include <epan/proto.h>
#include <epan/proto_data.h>

#include "smtpreply.h"
#include "smtpreply-plugin.h"
#include "ws_compat.h"

/* TLS content type of application data (RFC 8446 §5.1). */
#define SR_TLS_APPLICATION_DATA 23

/* What was fed of one direction's decrypted stream: the TLS dissector's
 * flow it came from and the offset reached in it. */
struct sr_tls_dir {
    const void *flow;
    guint32 next;
};

struct sr_tls {
    struct sr_tls_dir dir[2]; /* indexed by from_b */
};

static int proto_tls = -1;
static int hf_tls = -1;

#ifdef SR_TLS_RECORDS
/* The records the TLS dissector decrypted in this frame (first TLS layer),
 * or NULL. */
static const struct sr_tls_record *
frame_records(packet_info *pinfo)
{
    const struct sr_tls_packet_info *pi;

    if (proto_tls < 0)
        return NULL;
    pi = (const struct sr_tls_packet_info *)p_get_proto_data(wmem_file_scope(), pinfo, proto_tls,
                                                             SR_TLS_LAYER_KEY(1));
    return pi ? pi->records : NULL;
}
#endif

void
sr_tls_feed(struct sr_conv *sc, packet_info *pinfo, gboolean from_b, gint64 ts_us)
{
#ifdef SR_TLS_RECORDS
    const struct sr_tls_record *rec;
    struct smtpreply_conn_stats cst;
    struct sr_tls_dir *d;
    enum smtpreply_dir dir;

    if (!sc->conn)
        return;
    rec = frame_records(pinfo);
    if (!rec)
        return;
    /* The direction of the bytes needs the server: known once the stream
     * is SMTP (before that no TLS can have started). */
    smtpreply_conn_stats(sc->conn, &cst);
    if (cst.state != SMTPREPLY_CONN_SMTP)
        return;
    dir = (from_b == cst.server_is_b) ? SMTPREPLY_DIR_SERVER : SMTPREPLY_DIR_CLIENT;
    if (!sc->tls)
        sc->tls = (struct sr_tls *)sr_arena_alloc(sizeof *sc->tls);
    d = &sc->tls->dir[from_b ? 1 : 0];

    for (; rec; rec = rec->next) {
        guint32 skip = 0;
        gint32 ahead;

        /* flow and seq are set for application data only. */
        if (rec->type != SR_TLS_APPLICATION_DATA || !rec->flow || !rec->plain_data ||
            rec->data_len == 0)
            continue;
        if (rec->flow != d->flow) {
            /* A new TLS session in this direction (its offsets start
             * again): take it from where it is. */
            d->flow = rec->flow;
            d->next = rec->seq;
        }
        /* How far the record's end is past what was fed (offsets wrap
         * after 4 GiB): not at all, already fed; partly, its tail; a
         * record past a hole (a frame not fed) is taken whole. */
        ahead = (gint32)(rec->seq + rec->data_len - d->next);
        if (ahead <= 0)
            continue;
        if ((guint32)ahead < rec->data_len)
            skip = rec->data_len - (guint32)ahead;
        d->next = rec->seq + rec->data_len;
        smtpreply_conn_decrypted(sc->conn, dir, rec->plain_data + skip, rec->data_len - skip, ts_us,
                                 pinfo->num);
    }
#else
    (void)sc;
    (void)pinfo;
    (void)from_b;
    (void)ts_us;
#endif
}

void
sr_tls_render(proto_tree *rt, tvbuff_t *tvb, const struct sr_reply *r)
{
    if (r->tls)
        proto_item_set_generated(proto_tree_add_boolean(rt, hf_tls, tvb, 0, 0, TRUE));
}

void
sr_tls_register(int proto)
{
    static hf_register_info hf[] = {
        {&hf_tls,
         {"Read inside TLS", "smtpreply.tls", FT_BOOLEAN, BASE_NONE, NULL, 0x0,
          "The reply was read from data Wireshark decrypted (STARTTLS or implicit TLS)", HFILL}},
    };

    proto_register_field_array(proto, hf, array_length(hf));
}

void
sr_tls_handoff(void)
{
    proto_tls = proto_get_id_by_filter_name("tls");
}
