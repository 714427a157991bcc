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
#include <epan/conversation.h>
#include <epan/to_str.h>
#include <epan/expert.h>
#include <epan/prefs.h>
#include <epan/tap.h>
#include <epan/ftypes/ftypes.h>

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

/* TCP header fields read on the first pass (ids resolved at handoff);
 * the payload is taken from the same data source. */
static int hf_ws_expert = -1;
static int expert_tap_id = 0;
static int hf_tcp_srcport = -1;
static int hf_tcp_len = -1;
static int proto_icmp = -1;
static int proto_icmpv6 = -1;

static wmem_list_t *all_convs;
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

static void
conv_finish(struct sr_conv *sc)
{
    if (sc->finished)
        return;
    sc->finished = TRUE;
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

/* Last occurrence of a field in this frame's tree (the innermost TCP header
 * when tunnels nest), or NULL. */
static field_info *
last_finfo(proto_tree *tree, int hf)
{
    GPtrArray *arr;

    if (hf < 0)
        return NULL;
    arr = proto_get_finfo_ptr_array(tree, hf);
    if (!arr || arr->len == 0)
        return NULL;
    return (field_info *)g_ptr_array_index(arr, arr->len - 1);
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

/* First pass: hand this frame's TCP segment to its connection. */
static void
feed_segment(packet_info *pinfo, proto_tree *tree)
{
    field_info *fi_sport, *fi_len;
    tvbuff_t *ds;
    gint hdr;
    guint32 sport, dport, seq, flags, hlen, seglen, kept;
    gint payload_off;
    const guint8 *payload = NULL;
    conversation_t *conv;
    struct sr_conv *sc;
    struct smtpreply_conn_stats cst;
    gboolean from_b;
    gint64 ts_us;

    /* ICMP errors quote a TCP header: that is not a segment of the flow
     * (the CLI does not read it either). */
    if (in_icmp(pinfo))
        return;
    /* Two primed fields only: the source port gives where the innermost
     * TCP header starts in its data source, and tcp.len the payload length
     * the IP header declares.  The rest of the fixed header (RFC 9293
     * §3.1) is read from its bytes: every primed field is a tree item that
     * tshark builds and walks on every frame. */
    fi_sport = last_finfo(tree, hf_tcp_srcport);
    fi_len = last_finfo(tree, hf_tcp_len);
    if (!fi_sport || !fi_len || !fi_sport->ds_tvb)
        return;
    ds = fi_sport->ds_tvb;
    hdr = fi_sport->start;
    if (!tvb_bytes_exist(ds, hdr, 20))
        return; /* the CLI too skips a frame whose fixed header is cut */
    sport = tvb_get_ntohs(ds, hdr);
    dport = tvb_get_ntohs(ds, hdr + 2);
    seq = tvb_get_ntohl(ds, hdr + 4);
    /* Data offset (4 bits), reserved, then the flags byte: one 16-bit read
     * (tvb_get_guint8 is deprecated from 4.4 on, tvb_get_uint8 missing in 4.0). */
    flags = tvb_get_ntohs(ds, hdr + 12);
    hlen = (flags >> 12) * 4;
    flags &= 0xffu;
    seglen = fvalue_get_uinteger(SR_FVALUE(fi_len));
    if (hlen < 20)
        return; /* a bogus header length, as for the CLI */

    /* Every TCP frame moves the clock that ends idle connections. */
    ts_us = (gint64)pinfo->abs_ts.secs * 1000000 + pinfo->abs_ts.nsecs / 1000;
    if (ts_us > max_ts_us)
        max_ts_us = ts_us;

    /* A bare ACK tells the core nothing (it takes no acknowledgement
     * numbers); skipping it here halves the work on bulk transfers. */
    if (seglen == 0 && !(flags & (SMTPREPLY_TCP_SYN | SMTPREPLY_TCP_FIN | SMTPREPLY_TCP_RST)))
        return;

    /* The source port is the first field of the TCP header, so its place
     * in the data source is the header's (priming the whole "tcp" item
     * instead cost tshark ~15%). */
    payload_off = fi_sport->start + (gint)hlen;
    kept = seglen;
    if (seglen > 0) {
        /* A payload the capture cut short gives what was kept; the core
         * decides from the frame's lengths how much of the rest was sent
         * (smtpreply_conn_segment_frame), as for the CLI. */
        gint have = tvb_captured_length_remaining(fi_sport->ds_tvb, payload_off);
        if (have < 0)
            have = 0;
        if ((guint32)have < seglen)
            kept = (guint32)have;
        if (kept > 0)
            payload = tvb_get_ptr(fi_sport->ds_tvb, payload_off, (gint)kept);
    }

    conv = find_conversation(pinfo->num, &pinfo->net_src, &pinfo->net_dst, CONVERSATION_TCP, sport,
                             dport, 0);
    if (!conv)
        conv = conversation_new(pinfo->num, &pinfo->net_src, &pinfo->net_dst, CONVERSATION_TCP,
                                sport, dport, 0);
    sc = (struct sr_conv *)conversation_get_proto_data(conv, proto_smtpreply);
    if (sc && sc->last_frame && conv_expired(sc, ts_us)) {
        /* The same addresses and ports after a long silence, or after the
         * connection closed: a new connection, as the CLI counts it. */
        conv_finish(sc);
        conversation_delete_proto_data(conv, proto_smtpreply);
        sc = NULL;
    }
    if (!sc) {
        struct smtpreply_conn_config cfg;

        sc = wmem_new0(wmem_file_scope(), struct sr_conv);
        copy_address_wmem(wmem_file_scope(), &sc->addr_a, &pinfo->net_src);
        sc->port_a = (guint16)sport;
        copy_address_wmem(wmem_file_scope(), &sc->addr_b, &pinfo->net_dst);
        sc->port_b = (guint16)dport;
        memset(&cfg, 0, sizeof cfg);
        smtpreply_limits_default(&cfg.limits);
        cfg.port_kind_a = port_kind(sport);
        cfg.port_kind_b = port_kind(dport);
        sc->conn = smtpreply_conn_new(&cfg, sr_realloc, NULL, sr_on_event, sc);
        conversation_add_proto_data(conv, proto_smtpreply, sc);
        wmem_list_append(all_convs, sc);
    }
    from_b = !(sport == sc->port_a && addresses_equal(&pinfo->net_src, &sc->addr_a));
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
    }
}

/* Postseq cleanup: the sequential first pass is over. */
static void
finish_all_convs(void)
{
    wmem_list_frame_t *it;

    if (!all_convs)
        return;
    for (it = wmem_list_head(all_convs); it; it = wmem_list_frame_next(it))
        conv_finish((struct sr_conv *)wmem_list_frame_data(it));
}

static void
smtpreply_init(void)
{
    all_convs = wmem_list_new(wmem_file_scope());
    sr_results_init();
    max_ts_us = G_MININT64;
    /* The expert tap exists once dissection is initialised, not yet at
     * handoff. */
    expert_tap_id = find_tap_id("expert");
}

static void
smtpreply_cleanup(void)
{
    /* The file scope (and everything the core allocated in it) is freed
     * by Wireshark right after; just forget the pointers. */
    all_convs = NULL;
    sr_results_cleanup();
}

/* ---- rendering (every pass) ------------------------------------------ */

/* Does anyone look at this frame's smtpreply items?  A visible tree (-V,
 * the GUI's details), a filter or column naming a smtpreply field, or
 * expert info (its tap, or a filter on _ws.expert). */
static gboolean
wants_tree(proto_tree *tree)
{
    if (!tree)
        return FALSE;
    want_expert = PTREE_DATA(tree)->visible ||
                  (hf_ws_expert >= 0 && proto_field_is_referenced(tree, hf_ws_expert)) ||
                  (expert_tap_id > 0 && have_tap_listener(expert_tap_id));
    /* proto_field_is_referenced is TRUE for any field of a visible tree,
     * and for a protocol one of whose fields a filter or column names. */
    return want_expert || proto_field_is_referenced(tree, proto_smtpreply);
}

static void
render_request(proto_tree *tree, packet_info *pinfo, tvbuff_t *tvb, const struct sr_request *rq)
{
    proto_item *ti;
    proto_tree *qt;
    guint i, n;
    char label[128];

    sr_text_command(label, sizeof label, rq->verb[0] ? rq->verb : "?", rq->seq);
    ti = proto_tree_add_none_format(tree, hf_request, tvb, 0, 0, "%s", label);
    proto_item_set_generated(ti);
    qt = proto_item_add_subtree(ti, ett_request);
    proto_item_set_generated(proto_tree_add_string(qt, hf_request_command, tvb, 0, 0, rq->verb));
    n = rq->responses ? wmem_array_get_count(rq->responses) : 0;
    for (i = 0; i < n; i++) {
        guint32 frame = *(guint32 *)wmem_array_index(rq->responses, i);
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
        const struct sr_reply *r = (const struct sr_reply *)wmem_array_index(fr->replies, i);
        col_append_sep_fstr(pinfo->cinfo, COL_INFO, " | ", "S: %03u", r->code);
        if (r->has_esc) {
            char esc_text[16];
            smtpreply_esc_format(&r->esc, esc_text, sizeof esc_text);
            col_append_fstr(pinfo->cinfo, COL_INFO, " %s", esc_text);
        }
    }
    for (i = 0; i < nreq; i++) {
        const struct sr_request *rq = (const struct sr_request *)wmem_array_index(fr->requests, i);
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
    guint16 codes[64];

    /* The core is fed once, in frame order; the TCP fields are only
     * primed on the first pass (and the tree may be NULL later). */
    if (!PINFO_FD_VISITED(pinfo) && tree)
        feed_segment(pinfo, tree);

    fr = sr_frame_result(pinfo->num, FALSE);
    if (!fr)
        return 0;
    nrep = fr->replies ? wmem_array_get_count(fr->replies) : 0;
    nreq = fr->requests ? wmem_array_get_count(fr->requests) : 0;
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
        /* Nobody looks at the tree, a filter or expert info (tshark -T
         * fields of other protocols' fields, -q -z): only what the Info
         * column and the tap need. */
        for (i = 0; i < nrep; i++)
            sr_info_column(pinfo, (const struct sr_reply *)wmem_array_index(fr->replies, i));
        if (nrep)
            tap_queue_packet(smtpreply_tap, pinfo, fr);
        return tvb_captured_length(tvb);
    }

    ti = proto_tree_add_item(tree, proto_smtpreply, tvb, 0, 0, ENC_NA);
    proto_item_set_generated(ti);
    st = proto_item_add_subtree(ti, ett_smtpreply);
    for (i = 0; i < nreq; i++)
        render_request(st, pinfo, tvb,
                       (const struct sr_request *)wmem_array_index(fr->requests, i));
    for (i = 0; i < nrep; i++) {
        const struct sr_reply *r = (const struct sr_reply *)wmem_array_index(fr->replies, i);
        sr_render_reply(st, pinfo, tvb, r, want_expert);
        if (i < G_N_ELEMENTS(codes))
            codes[i] = r->code;
    }
    if (nrep) {
        /* ": 250, 250, 550, 354", appended once. */
        char text[256];
        sr_text_codes(text, sizeof text, codes, MIN(nrep, (guint)G_N_ELEMENTS(codes)));
        proto_item_append_text(ti, "%s", text);
    }
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
    static const char *const wanted_names[] = {"tcp.srcport", "tcp.len"};
    int *const ids[] = {&hf_tcp_srcport, &hf_tcp_len};
    GArray *wanted = g_array_new(FALSE, FALSE, (guint)sizeof(int));
    guint i;

    hf_ws_expert = proto_registrar_get_id_byname("_ws.expert");
    proto_icmp = proto_get_id_by_filter_name("icmp");
    proto_icmpv6 = proto_get_id_by_filter_name("icmpv6");
    sr_tls_handoff();

    for (i = 0; i < G_N_ELEMENTS(wanted_names); i++) {
        *ids[i] = proto_registrar_get_id_byname(wanted_names[i]);
        if (*ids[i] >= 0)
            g_array_append_val(wanted, *ids[i]);
    }
    /* Asks tshark and the GUI for a tree holding these fields on the first
     * pass; takes ownership of the array. */
    set_postdissector_wanted_hfids(smtpreply_handle, wanted);
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
