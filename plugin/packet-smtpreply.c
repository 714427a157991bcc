/* SPDX-License-Identifier: MIT */
/*
 * packet-smtpreply.c - "SMTP Reply Analysis" (filter name smtpreply), a
 * Wireshark 4.0 epan plugin: every SMTP reply (RFC 5321 §4.2) with its
 * meaning, class, enhanced status code (RFC 3463), the command it answers
 * and its response time; request/response links, expert info and the
 * "SMTP Reply Codes" statistics tree.
 *
 * Why a postdissector that reads raw TCP segments: the counts must equal
 * the CLI analyzer's, so both feed the same connection layer of the core
 * (common/, smtpreply_conn_*) with the same input - TCP payload, raw
 * sequence number and flags, in frame order.  The built-in SMTP dissector
 * is left alone (IMF, STARTTLS -> TLS keep working) and never consulted:
 * it counts a multi-line reply split over segments twice, skips data TCP
 * analysis calls a retransmission and knows no port but 25/587/465.
 *
 * Passes.  Wireshark dissects a frame once in order (the first pass) and
 * then again, in any order, as often as it likes (tshark -2, GUI clicks).
 * The core is stateful, so it is fed on the first pass only; what each
 * frame produced is kept in file-scope per-frame results and every pass
 * (including the first) renders the tree, expert info, Info text and tap
 * from them.  A command frame learns its reply later, so response_in and
 * "unanswered" appear only when a later pass exists (tshark -2, GUI).
 * At the end of the first pass (Wireshark's "postseq cleanup" hook, run by
 * tshark and the GUI once the sequential read is done) every connection is
 * finished: unanswered commands are flagged, buffered data flushed.
 */
#define WS_BUILD_DLL
#include <wireshark.h>
#include <epan/packet.h>
#include <epan/proto.h>
#include <epan/to_str.h>
#include <epan/expert.h>
#include <epan/prefs.h>
#include <epan/tap.h>

#include "smtpreply.h"
#include "smtpreply-plugin.h"
#include "ws_compat.h"

static int proto_smtpreply = -1;
static int smtpreply_tap = -1;
static dissector_handle_t smtpreply_handle;

static int hf_request = -1;
static int hf_request_command = -1;
static int hf_response_in = -1;
static int hf_unanswered = -1;
static int hf_encrypted = -1;

static gint ett_smtpreply = -1;
static gint ett_request = -1;

static expert_field ei_unanswered = EI_INIT;
static expert_field ei_encrypted = EI_INIT;

/* Preferences. */
static range_t *pref_extra_ports;

/* This frame's expert info is wanted (set by wants_tree): its text is
 * formatted even where no item is built, so it is skipped otherwise. */
static gboolean want_expert;

/* The handle that dissects TCP for IP (ip.proto 6): the plugin's own
 * handle stands in its place, notes the segment, and calls it. */
static dissector_handle_t tcp_inner_handle;
static dissector_handle_t tcp_seen_handle;
static int hf_ws_expert = -1;
static int expert_tap_id = 0;
static int proto_icmp = -1;
static int proto_icmpv6 = -1;

/* The innermost TCP segment of a frame, as IP handed it to TCP (first
 * pass only; valid while that frame is dissected). */
struct sr_seg {
    address src, dst; /* the IP header's (shallow copies, frame lifetime) */
    guint32 sport, dport, seq, flags, hlen;
    guint32 seglen;        /* payload length the IP header declares */
    guint32 kept;          /* payload bytes the capture kept */
    const guint8 *payload; /* kept bytes, or NULL */
};
/* The segment noted in frame seg_note_frame (0: none).  The first pass
 * dissects one frame at a time, the TCP layers before the postdissector;
 * a frame whose number is not seg_note_frame had no segment. */
static struct sr_seg seg_note;
static guint32 seg_note_frame;

/* Connections whose core state is alive, least recently active first:
 * open ones, and closed ones (FIN both ways, or RST) waiting
 * SMTPREPLY_CLOSE_GRACE_S for late segments - the CLI's two lists. */
struct sr_conv_list {
    struct sr_conv *head, *tail;
};
static struct sr_conv_list open_convs, closed_convs;
/* struct sr_conv_key -> the latest struct sr_conv of those endpoints
 * (one capture file; the entries live in the plugin's arena). */
static GHashTable *conv_table;

static guint
conv_key_hash(gconstpointer p)
{
    const guint8 *b = (const guint8 *)p;
    guint32 h = 2166136261u, w;
    size_t i;

    for (i = 0; i + 4 <= sizeof(struct sr_conv_key); i += 4) {
        memcpy(&w, b + i, 4);
        h = (h ^ w) * 16777619u;
    }
    return h ^ (h >> 15);
}

static gboolean
conv_key_equal(gconstpointer a, gconstpointer b)
{
    return memcmp(a, b, sizeof(struct sr_conv_key)) == 0;
}

/* The key of the segment's endpoints; FALSE for addresses that are not
 * IPv4 or IPv6 (TCP under IP has no other). */
static gboolean
conv_key_make(struct sr_conv_key *k, const address *src, guint32 sport, const address *dst,
              guint32 dport)
{
    int c;

    memset(k, 0, sizeof *k);
    if (src->type != dst->type || src->len != dst->len || src->len <= 0 ||
        (size_t)src->len > sizeof k->addr_lo)
        return FALSE;
    k->type = (guint8)src->type;
    k->len = (guint8)src->len;
    c = memcmp(src->data, dst->data, (size_t)src->len);
    if (c < 0 || (c == 0 && sport <= dport)) {
        memcpy(k->addr_lo, src->data, (size_t)src->len);
        memcpy(k->addr_hi, dst->data, (size_t)dst->len);
        k->port_lo = (guint16)sport;
        k->port_hi = (guint16)dport;
    } else {
        memcpy(k->addr_lo, dst->data, (size_t)dst->len);
        memcpy(k->addr_hi, src->data, (size_t)src->len);
        k->port_lo = (guint16)dport;
        k->port_hi = (guint16)sport;
    }
    return TRUE;
}

/* An endpoint's address (src or dst of the segment that made the key),
 * pointing at its bytes in the key: no copy of its own. */
static void
conv_key_address(address *out, const struct sr_conv_key *k, const address *a)
{
    const guint8 *bytes = memcmp(k->addr_lo, a->data, k->len) == 0 ? k->addr_lo : k->addr_hi;

    set_address(out, a->type, a->len, bytes);
}

/* The latest frame time seen so far (frames may go back in time). */
static gint64 max_ts_us;

/* The well-known ports are the core's table; the plugin only says whether
 * the user's preference names this port. */
static enum smtpreply_port_kind
port_kind(guint32 port)
{
    return smtpreply_port_kind_for(port,
                                   pref_extra_ports && value_is_in_range(pref_extra_ports, port));
}

static struct sr_conv_list *
conv_list(struct sr_conv *sc)
{
    return sc->closing ? &closed_convs : &open_convs;
}

static void
conv_unlink(struct sr_conv *sc)
{
    struct sr_conv_list *l = conv_list(sc);

    if (!sc->listed)
        return;
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        l->head = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    else
        l->tail = sc->prev;
    sc->prev = sc->next = NULL;
    sc->listed = FALSE;
}

static void
conv_append(struct sr_conv *sc)
{
    struct sr_conv_list *l = conv_list(sc);

    sc->prev = l->tail;
    sc->next = NULL;
    if (l->tail)
        l->tail->next = sc;
    else
        l->head = sc;
    l->tail = sc;
    sc->listed = TRUE;
}

/* The connection was just active: last of its list (moved to the closed
 * list once it has closed). */
static void
conv_touch(struct sr_conv *sc)
{
    gboolean closed = sc->rst || (sc->fin_a && sc->fin_b);

    if (!sc->listed || (sc->closing == closed && conv_list(sc)->tail == sc))
        return;
    conv_unlink(sc);
    sc->closing = closed;
    conv_append(sc);
}

static void
conv_finish(struct sr_conv *sc)
{
    if (sc->finished)
        return;
    sc->finished = TRUE;
    conv_unlink(sc);
    if (!sc->conn)
        return;
    /* Late events (unanswered commands, data flushed after a hole) belong
     * to the connection's last frame. */
    sc->feed_frame = sc->last_frame;
    smtpreply_conn_finish(sc->conn, sc->last_ts_us, sc->last_frame);
    smtpreply_conn_free(sc->conn);
    sc->conn = NULL;
}

/* Has the connection ended before this frame (time ts_us)?  The CLI ends
 * a connection when any frame of the file comes SMTPREPLY_IDLE_TIMEOUT_S
 * after its last one (SMTPREPLY_CLOSE_GRACE_S once it closed).  A frame
 * later than every frame before the connection's last one is known here
 * by the file's running maximum; otherwise this frame's own time says. */
static gboolean
conv_expired(const struct sr_conv *sc, gint64 ts_us)
{
    gint64 later = ts_us;
    gint64 limit =
        (sc->rst || (sc->fin_a && sc->fin_b)) ? SMTPREPLY_CLOSE_GRACE_S : SMTPREPLY_IDLE_TIMEOUT_S;

    if (max_ts_us > sc->max_ts_at_last && max_ts_us > later)
        later = max_ts_us;
    return later - sc->last_ts_us > limit * 1000000;
}

/* Ends the connections that have ended by now (the file's latest frame
 * time): their late events go to their last frames, and the core's
 * state is freed.  When this happens changes nothing that is shown
 * (conv_expired decides alike for a segment of an ended connection);
 * it keeps the memory to the connections alive at once, as in the CLI.
 * Only list heads are looked at: O(1) per frame when nothing ends. */
static void
conv_sweep(void)
{
    while (closed_convs.head && conv_expired(closed_convs.head, max_ts_us))
        conv_finish(closed_convs.head);
    while (open_convs.head && conv_expired(open_convs.head, max_ts_us))
        conv_finish(open_convs.head);
}

/* Is this frame an ICMP error (whose quoted TCP header is no segment of
 * the flow)?  Read from the frame's protocol layers, not from primed
 * fields. */
static gboolean
in_icmp(packet_info *pinfo)
{
    wmem_list_frame_t *it;

    for (it = wmem_list_head(pinfo->layers); it; it = wmem_list_frame_next(it)) {
        int id = GPOINTER_TO_INT(wmem_list_frame_data(it));
        if (id == proto_icmp || id == proto_icmpv6)
            return TRUE;
    }
    return FALSE;
}

/* Stands in for TCP's handle in the ip.proto table: notes the segment
 * (RFC 9293 §3.1 fixed header, read from its bytes) and calls TCP.  No
 * tree is needed for it, so tshark without -V, -T or a filter builds
 * none for the plugin's sake (asking for TCP's fields made every
 * dissector build its tree on every frame, about a quarter of tshark's
 * time).  The last segment of a frame is its innermost one. */
static int
dissect_tcp_seen(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    int done;

    if (!PINFO_FD_VISITED(pinfo) && !pinfo->flags.in_error_pkt) {
        /* The innermost segment decides: one that TCP would not take
         * leaves the frame without a segment, even under a good one. */
        seg_note_frame = 0;
        if (tvb_bytes_exist(tvb, 0, 20)) {
            const guint8 *h = tvb_get_ptr(tvb, 0, 20);
            /* Data offset (4 bits), reserved, then the flags byte. */
            guint32 hlen = (guint32)(h[12] >> 4) * 4;
            guint32 reported = tvb_reported_length(tvb);
            /* What TCP itself accepts: a header length of at least 20 bytes,
             * inside the length IP declares (as for the CLI). */
            if (hlen >= 20 && reported >= hlen) {
                struct sr_seg *sg = &seg_note;
                gint have;
                copy_address_shallow(&sg->src, &pinfo->net_src);
                copy_address_shallow(&sg->dst, &pinfo->net_dst);
                /* Big-endian fields, read by hand (pint.h's names differ
                 * between releases). */
                sg->sport = (guint32)h[0] << 8 | h[1];
                sg->dport = (guint32)h[2] << 8 | h[3];
                sg->seq = (guint32)h[4] << 24 | (guint32)h[5] << 16 | (guint32)h[6] << 8 | h[7];
                sg->flags = h[13];
                sg->hlen = hlen;
                sg->seglen = reported - hlen;
                /* A payload the capture cut short gives what was kept; the
                 * core decides from the frame's lengths how much of the rest
                 * was sent (smtpreply_conn_segment_frame), as for the CLI. */
                have = tvb_captured_length_remaining(tvb, (gint)hlen);
                sg->kept = have < 0 ? 0 : MIN((guint32)have, sg->seglen);
                sg->payload = sg->kept ? tvb_get_ptr(tvb, (gint)hlen, (gint)sg->kept) : NULL;
                seg_note_frame = pinfo->num;
            }
        }
    }
    done = call_dissector_only(tcp_inner_handle, tvb, pinfo, tree, data);
    /* TCP declined (disabled in Enabled Protocols): IP shows the bytes as
     * data, and the plugin analyses nothing, as before the stand-in. */
    if (done == 0 && seg_note_frame == pinfo->num)
        seg_note_frame = 0;
    return done;
}

/* First pass: hand this frame's TCP segment to its connection. */
static void
feed_segment(packet_info *pinfo)
{
    const struct sr_seg *sg;
    guint32 sport, dport, seq, flags, seglen, kept;
    const guint8 *payload;
    struct sr_conv_key key;
    struct sr_conv *sc;
    struct smtpreply_conn_stats cst;
    gboolean from_b;
    gint64 ts_us;

    /* Most frames carry no segment: the cheap test first. */
    if (seg_note_frame != pinfo->num)
        return;
    /* ICMP errors quote a TCP header: that is not a segment of the flow
     * (the CLI does not read it either). */
    if (in_icmp(pinfo))
        return;
    sg = &seg_note;
    seg_note_frame = 0;
    sport = sg->sport;
    dport = sg->dport;
    seq = sg->seq;
    flags = sg->flags;
    seglen = sg->seglen;
    kept = sg->kept;
    payload = sg->payload;

    /* Every TCP frame moves the clock that ends idle connections. */
    ts_us = (gint64)pinfo->abs_ts.secs * 1000000 + pinfo->abs_ts.nsecs / 1000;
    if (ts_us > max_ts_us) {
        max_ts_us = ts_us;
        conv_sweep();
    }

    /* A bare ACK tells the core nothing (it takes no acknowledgement
     * numbers); skipping it here halves the work on bulk transfers. */
    if (seglen == 0 && !(flags & (SMTPREPLY_TCP_SYN | SMTPREPLY_TCP_FIN | SMTPREPLY_TCP_RST)))
        return;

    /* The plugin's own table, not Wireshark's conversations: a
     * connection is what the CLI calls one (the same endpoints start a
     * new one only by the rule below), and the lookup is cheaper. */
    if (!conv_table || !conv_key_make(&key, &sg->src, sport, &sg->dst, dport))
        return;
    sc = (struct sr_conv *)g_hash_table_lookup(conv_table, &key);
    if (sc && sc->last_frame && conv_expired(sc, ts_us)) {
        /* The same addresses and ports after a long silence, or after the
         * connection closed: a new connection, as the CLI counts it. */
        conv_finish(sc);
        sc = NULL;
    }
    if (!sc) {
        struct smtpreply_conn_config cfg;

        sc = (struct sr_conv *)sr_arena_alloc(sizeof *sc);
        sc->key = key;
        conv_key_address(&sc->addr_a, &sc->key, &sg->src);
        sc->port_a = (guint16)sport;
        conv_key_address(&sc->addr_b, &sc->key, &sg->dst);
        sc->port_b = (guint16)dport;
        memset(&cfg, 0, sizeof cfg);
        smtpreply_limits_default(&cfg.limits);
        cfg.port_kind_a = port_kind(sport);
        cfg.port_kind_b = port_kind(dport);
        sc->conn = smtpreply_conn_new(&cfg, sr_realloc, NULL, sr_on_event, sc);
        g_hash_table_replace(conv_table, &sc->key, sc);
        conv_append(sc);
    }
    from_b = !(sport == sc->port_a && addresses_equal(&sg->src, &sc->addr_a));
    if (flags & SMTPREPLY_TCP_FIN) {
        if (from_b)
            sc->fin_b = TRUE;
        else
            sc->fin_a = TRUE;
    }
    if (flags & SMTPREPLY_TCP_RST)
        sc->rst = TRUE;
    sc->last_frame = pinfo->num;
    sc->last_ts_us = ts_us;
    sc->max_ts_at_last = max_ts_us;
    if (!sc->conn)
        return;
    conv_touch(sc);
    sc->feed_frame = pinfo->num;
    if (!sc->smtp_checked) {
        /* Until the core decides: would Wireshark's own dissectors show
         * this connection as SMTP (or TLS)?  If not (a port they do not
         * know), the plugin names its frames in the packet list. */
        sc->show_smtp = !proto_is_frame_protocol(pinfo->layers, "smtp") &&
                        !proto_is_frame_protocol(pinfo->layers, "tls");
    }
    smtpreply_conn_segment_frame(sc->conn, from_b, seq, flags & 0xffu, payload, kept, seglen,
                                 pinfo->fd->pkt_len, pinfo->fd->cap_len, ts_us, pinfo->num);
    /* What Wireshark decrypted in this frame, after its raw segment. */
    sr_tls_feed(sc, pinfo, from_b, ts_us);
    smtpreply_conn_stats(sc->conn, &cst);
    if (cst.state == SMTPREPLY_CONN_SMTP) {
        sc->smtp_checked = TRUE;
        if (sc->show_smtp && seglen > 0)
            sr_frame_result(pinfo->num, TRUE)->smtp = TRUE;
    }
    if (cst.state == SMTPREPLY_CONN_NOT_SMTP) {
        /* Not SMTP: stop spending time and memory on it. */
        smtpreply_conn_free(sc->conn);
        sc->conn = NULL;
        sc->finished = TRUE;
        conv_unlink(sc);
    }
}

/* Postseq cleanup: the sequential first pass is over. */
static void
finish_all_convs(void)
{
    while (closed_convs.head)
        conv_finish(closed_convs.head);
    while (open_convs.head)
        conv_finish(open_convs.head);
}

/* Frees the core's state of connections never finished (a file closed
 * before its first pass ended); their sr_conv go with the arena. */
static void
free_all_convs(void)
{
    struct sr_conv_list *lists[] = {&closed_convs, &open_convs};
    guint i;

    for (i = 0; i < G_N_ELEMENTS(lists); i++) {
        while (lists[i]->head) {
            struct sr_conv *sc = lists[i]->head;
            conv_unlink(sc);
            if (sc->conn)
                smtpreply_conn_free(sc->conn);
            sc->conn = NULL;
            sc->finished = TRUE;
        }
    }
}

/* Drops what the plugin holds of a capture file: the core's state is on
 * the C heap (sr_realloc); the rest is in the arena, which
 * sr_results_cleanup and sr_results_init release. */
static void
forget_file(void)
{
    free_all_convs();
    seg_note_frame = 0;
    if (conv_table)
        g_hash_table_destroy(conv_table);
    conv_table = NULL;
}

static void
smtpreply_init(void)
{
    forget_file();
    conv_table = g_hash_table_new(conv_key_hash, conv_key_equal);
    sr_results_init();
    max_ts_us = G_MININT64;
    /* The expert tap exists once dissection is initialised, not yet at
     * handoff. */
    expert_tap_id = find_tap_id("expert");
}

static void
smtpreply_cleanup(void)
{
    forget_file();
    sr_results_cleanup();
}

/* ---- rendering (every pass) ------------------------------------------ */

/* Does anyone look at this frame's smtpreply items or expert info?  A
 * visible tree (-V, -T, the GUI's details), a filter or column naming a
 * smtpreply field, or expert info (its tap, or a filter on _ws.expert).
 * Expert info reaches its tap without a tree (tshark -q -z expert): the
 * frame is then drawn into a NULL tree, which adds no items. */
static gboolean
wants_tree(proto_tree *tree)
{
    want_expert = (tree && PTREE_DATA(tree)->visible) ||
                  (tree && hf_ws_expert >= 0 && proto_field_is_referenced(tree, hf_ws_expert)) ||
                  (expert_tap_id > 0 && have_tap_listener(expert_tap_id));
    /* proto_field_is_referenced is TRUE for any field of a visible tree,
     * and for a protocol one of whose fields a filter or column names. */
    return want_expert || (tree && proto_field_is_referenced(tree, proto_smtpreply));
}

static void
render_request(proto_tree *tree, packet_info *pinfo, tvbuff_t *tvb, const struct sr_request *rq)
{
    proto_item *ti;
    proto_tree *qt;
    guint i, n;
    struct sr_text t;

    sr_text_init(&t, NULL);
    sr_text_put(&t, "Command ");
    sr_text_put(&t, rq->verb[0] ? rq->verb : "?");
    sr_text_put(&t, " (#");
    sr_text_uint(&t, rq->seq, 1);
    sr_text_put(&t, " of its session)");
    ti = sr_add_none_text(tree, hf_request, tvb, &t);
    proto_item_set_generated(ti);
    qt = proto_item_add_subtree(ti, ett_request);
    proto_item_set_generated(proto_tree_add_string(qt, hf_request_command, tvb, 0, 0, rq->verb));
    if (rq->response)
        proto_item_set_generated(proto_tree_add_uint(qt, hf_response_in, tvb, 0, 0, rq->response));
    n = SR_VEC_LEN(rq->more_responses);
    for (i = 0; i < n; i++) {
        guint32 frame = *SR_VEC_AT(rq->more_responses, guint32, i);
        proto_item_set_generated(proto_tree_add_uint(qt, hf_response_in, tvb, 0, 0, frame));
    }
    if (rq->unanswered) {
        proto_item *ui = proto_tree_add_boolean(qt, hf_unanswered, tvb, 0, 0, TRUE);
        proto_item_set_generated(ui);
        if (want_expert)
            expert_add_info_format(pinfo, ui, &ei_unanswered,
                                   "Command %s never answered before the connection ended",
                                   rq->verb[0] ? rq->verb : "?");
    }
    sr_add_anomalies(qt, pinfo, tvb, want_expert,
                     rq->anomalies & ~((smtpreply_anomaly_set)1 << SMTPREPLY_ANOM_UNANSWERED));
}

/* SMTP on a port Wireshark's SMTP dissector does not know: the packet
 * list names it, with the replies and commands of the frame. */
static void
set_columns(packet_info *pinfo, const struct sr_frame *fr, guint nrep, guint nreq)
{
    guint i;

    col_set_str(pinfo->cinfo, COL_PROTOCOL, "SMTP");
    if (!nrep && !nreq)
        return;
    col_clear(pinfo->cinfo, COL_INFO);
    for (i = 0; i < nrep; i++) {
        const struct sr_reply *r = SR_VEC_AT(fr->replies, struct sr_reply, i);
        col_append_sep_fstr(pinfo->cinfo, COL_INFO, " | ", "S: %03u", r->code);
        if (r->has_esc) {
            char esc_text[16];
            smtpreply_esc_format(&r->esc, esc_text, sizeof esc_text);
            col_append_fstr(pinfo->cinfo, COL_INFO, " %s", esc_text);
        }
    }
    for (i = 0; i < nreq; i++) {
        const struct sr_request *rq = SR_VEC_AT(fr->requests, struct sr_request, i);
        col_append_sep_fstr(pinfo->cinfo, COL_INFO, " | ", "C: %s", rq->verb[0] ? rq->verb : "?");
    }
}

static int
dissect_smtpreply(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    const struct sr_frame *fr;
    proto_item *ti;
    proto_tree *st;
    guint i, nrep, nreq;
    struct sr_text t;

    /* The core is fed once, in frame order (dissect_tcp_seen noted the
     * segment on this same first pass; no tree is needed). */
    if (!PINFO_FD_VISITED(pinfo))
        feed_segment(pinfo);

    fr = sr_frame_result(pinfo->num, FALSE);
    if (!fr)
        return 0;
    nrep = SR_VEC_LEN(fr->replies);
    nreq = SR_VEC_LEN(fr->requests);
    if (fr->late && !PINFO_FD_VISITED(pinfo)) {
        /* Replies shown on an earlier frame: counted here in one pass. */
        struct sr_frame late;
        memset(&late, 0, sizeof late);
        late.replies = fr->late;
        tap_queue_packet(smtpreply_tap, pinfo, wmem_memdup(pinfo->pool, &late, sizeof late));
    }
    if (fr->smtp)
        set_columns(pinfo, fr, nrep, nreq);

    if (!wants_tree(tree)) {
        /* Nobody looks at the tree, a filter or expert info (tshark's
         * packet list, -q -z smtpreply,tree, the GUI's first pass without
         * a filter on smtpreply): only what the Info column and the tap
         * need. */
        for (i = 0; i < nrep; i++)
            sr_info_column(pinfo, SR_VEC_AT(fr->replies, struct sr_reply, i));
        if (nrep)
            tap_queue_packet(smtpreply_tap, pinfo, fr);
        return tvb_captured_length(tvb);
    }

    if (nrep) {
        /* "SMTP Reply Analysis: 250, 250, 550, 354": the frame's codes, as
         * many as the buffer holds (Wireshark keeps fewer). */
        sr_text_init(&t, proto_registrar_get_name(proto_smtpreply));
        for (i = 0; i < nrep && t.len < sizeof t.buf - 1; i++) {
            if (i)
                sr_text_put(&t, ", ");
            sr_text_uint(&t, SR_VEC_AT(fr->replies, struct sr_reply, i)->code, 3);
        }
        ti = sr_add_protocol_text(tree, proto_smtpreply, tvb, &t);
    } else {
        ti = proto_tree_add_item(tree, proto_smtpreply, tvb, 0, 0, ENC_NA);
    }
    proto_item_set_generated(ti);
    st = proto_item_add_subtree(ti, ett_smtpreply);
    for (i = 0; i < nreq; i++)
        render_request(st, pinfo, tvb, SR_VEC_AT(fr->requests, struct sr_request, i));
    for (i = 0; i < nrep; i++)
        sr_render_reply(st, pinfo, tvb, SR_VEC_AT(fr->replies, struct sr_reply, i), want_expert);
    if (fr->encrypted) {
        proto_item *ei = proto_tree_add_boolean(st, hf_encrypted, tvb, 0, 0, TRUE);
        proto_item_set_generated(ei);
        if (want_expert)
            expert_add_info(pinfo, ei, &ei_encrypted);
    }
    sr_add_anomalies(st, pinfo, tvb, want_expert, fr->anomalies);

    /* Taps run on whichever pass tshark or the GUI chooses: queue on all. */
    if (nrep)
        tap_queue_packet(smtpreply_tap, pinfo, fr);
    return tvb_captured_length(tvb);
}

/* ---- registration ---------------------------------------------------- */

static void
proto_register_smtpreply(void)
{
    static hf_register_info hf[] = {
        {&hf_request,
         {"Command", "smtpreply.request", FT_NONE, BASE_NONE, NULL, 0x0,
          "A client command line completed in this frame", HFILL}},
        {&hf_request_command,
         {"Command", "smtpreply.request.command", FT_STRING, BASE_NONE, NULL, 0x0,
          "Uppercase verb of the client command", HFILL}},
        {&hf_response_in,
         {"Response in", "smtpreply.response_in", FT_FRAMENUM, BASE_NONE,
          FRAMENUM_TYPE(FT_FRAMENUM_RESPONSE), 0x0,
          "Frame of a reply to this command (needs two passes)", HFILL}},
        {&hf_unanswered,
         {"Unanswered", "smtpreply.unanswered", FT_BOOLEAN, BASE_NONE, NULL, 0x0,
          "The command got no reply before the connection ended (needs two passes)", HFILL}},
        {&hf_encrypted,
         {"Encrypted from here", "smtpreply.encrypted", FT_BOOLEAN, BASE_NONE, NULL, 0x0,
          "TLS starts in this frame; what follows is counted if Wireshark decrypts it", HFILL}},
    };
    static gint *ett[] = {&ett_smtpreply, &ett_request};
    static ei_register_info ei[] = {
        {&ei_unanswered,
         {"smtpreply.unanswered.expert", PI_SEQUENCE, PI_WARN, "Command never answered", EXPFILL}},
        {&ei_encrypted,
         {"smtpreply.encrypted.expert", PI_SEQUENCE, PI_CHAT,
          "TLS starts here: the rest is analysed only if Wireshark decrypts it", EXPFILL}},
    };
    module_t *module;
    expert_module_t *expert;

    proto_smtpreply = proto_register_protocol("SMTP Reply Analysis", "SMTPREPLY", "smtpreply");
    proto_register_field_array(proto_smtpreply, hf, array_length(hf));
    proto_register_subtree_array(ett, array_length(ett));
    expert = expert_register_protocol(proto_smtpreply);
    expert_register_field_array(expert, ei, array_length(ei));

    module = prefs_register_protocol(proto_smtpreply, NULL);
    pref_extra_ports = range_empty(wmem_epan_scope());
    prefs_register_range_preference(module, "ports", "Extra SMTP ports",
                                    "TCP ports to treat as SMTP besides 25, 587 and 2525 (465 is "
                                    "implicit TLS); other streams are found by content",
                                    &pref_extra_ports, 65535);
    sr_register_reply(proto_smtpreply, expert, module);
    sr_tls_register(proto_smtpreply);

    smtpreply_handle = create_dissector_handle(dissect_smtpreply, proto_smtpreply);
    register_postdissector(smtpreply_handle);
    smtpreply_tap = register_tap("smtpreply");

    register_init_routine(smtpreply_init);
    register_cleanup_routine(smtpreply_cleanup);
    register_postseq_cleanup_routine(finish_all_convs);
}

static void
proto_reg_handoff_smtpreply(void)
{
    hf_ws_expert = proto_registrar_get_id_byname("_ws.expert");
    proto_icmp = proto_get_id_by_filter_name("icmp");
    proto_icmpv6 = proto_get_id_by_filter_name("icmpv6");
    sr_tls_handoff();

    /* Stand in for whatever dissects TCP over IP (IPv6 uses the same
     * table), once: built-in handoffs, TCP's among them, have run. */
    if (!tcp_seen_handle) {
        tcp_inner_handle = dissector_get_uint_handle(find_dissector_table("ip.proto"), 6);
        if (!tcp_inner_handle) {
            ws_warning("smtpreply: no dissector for TCP in ip.proto; nothing will be analysed");
            return;
        }
        /* No protocol of its own: the frame's protocol list stays as it
         * was (eth:ethertype:ip:tcp:smtp). */
        tcp_seen_handle = create_dissector_handle_with_name_and_description(
            dissect_tcp_seen, -1, "smtpreply_tcp", "TCP, with SMTP Reply Analysis");
        dissector_add_uint("ip.proto", 6, tcp_seen_handle);
    }
}

static void
register_plugin(void)
{
    static proto_plugin plug;
    static tap_plugin tplug;

    plug.register_protoinfo = proto_register_smtpreply;
    plug.register_handoff = proto_reg_handoff_smtpreply;
    proto_register_plugin(&plug);

    tplug.register_tap_listener = smtpreply_register_stats;
    tap_register_plugin(&tplug);
}

/* The entry points Wireshark's loader looks for (ws_compat.h). */
SR_PLUGIN_ENTRY(register_plugin)
