/* SPDX-License-Identifier: MIT */
/*
 * results-smtpreply.c - what the core's events leave for every pass to
 * show: per-frame results (replies, commands, anomalies) kept in file
 * scope, request/response links, and the allocation hook the core uses.
 * The dissector (packet-smtpreply.c) feeds the core on the first pass and
 * renders these results on every pass.
 */
#define WS_BUILD_DLL
#include <wireshark.h>
#include <epan/packet.h>
#include <epan/to_str.h>

#include "smtpreply.h"
#include "smtpreply-plugin.h"

/* Frame number -> struct sr_frame (dense numbers: an array, no hashing).
 * Not p_add_proto_data, because a reply must also update its command's
 * frame (response_in). */
static GPtrArray *frame_results;

struct sr_frame *
sr_frame_result(guint32 frame, gboolean create)
{
    struct sr_frame *fr = NULL;

    /* Frame numbers are dense: an array indexed by them costs no hashing
     * on the frames (most of them) that produced nothing. */
    if (!frame_results)
        return NULL;
    if (frame < frame_results->len)
        fr = (struct sr_frame *)g_ptr_array_index(frame_results, frame);
    if (!fr && create) {
        fr = wmem_new0(wmem_file_scope(), struct sr_frame);
        if (frame >= frame_results->len)
            g_ptr_array_set_size(frame_results, MAX(frame + 1, frame_results->len * 2));
        g_ptr_array_index(frame_results, frame) = fr;
    }
    return fr;
}

static struct sr_request *
find_request(guint32 frame, guint64 seq)
{
    struct sr_frame *fr = sr_frame_result(frame, FALSE);
    guint i, n;

    if (!fr || !fr->requests)
        return NULL;
    n = wmem_array_get_count(fr->requests);
    for (i = 0; i < n; i++) {
        struct sr_request *rq = (struct sr_request *)wmem_array_index(fr->requests, i);
        if (rq->seq == seq)
            return rq;
    }
    return NULL;
}

static struct sr_request *
add_request(guint32 frame, guint64 seq, const char *verb)
{
    struct sr_frame *fr = sr_frame_result(frame, TRUE);
    struct sr_request r;

    memset(&r, 0, sizeof r);
    r.seq = seq;
    g_strlcpy(r.verb, verb ? verb : "", sizeof r.verb);
    if (!fr->requests)
        fr->requests = wmem_array_new(wmem_file_scope(), sizeof(struct sr_request));
    wmem_array_append_one(fr->requests, r);
    return (struct sr_request *)wmem_array_index(fr->requests,
                                                 wmem_array_get_count(fr->requests) - 1);
}

/* The request a reply or an "unanswered" report names.  Commands without a
 * COMMAND event of their own (the end of DATA's body: the final dot) get
 * one here, on the frame that completed them, named by the pseudo-command
 * ("DATA-END"). */
static struct sr_request *
request_for(const struct smtpreply_cmd_ref *ref)
{
    struct sr_request *rq = find_request((guint32)ref->tag, ref->seq);

    if (!rq)
        rq = add_request((guint32)ref->tag, ref->seq, smtpreply_cmd_verb(ref->cmd));
    return rq;
}

static void
copy_verb(char dst[16], const struct smtpreply_cmd_ref *ref)
{
    const char *v = ref->verb[0] ? ref->verb : smtpreply_cmd_verb(ref->cmd);
    g_strlcpy(dst, v ? v : "", 16);
}

/* The core's event callback: record what happened, where it will be shown.
 * Commands belong to the frame that completed their line (cmd.tag); replies
 * and free anomalies to the frame being fed, so each is shown and tapped
 * exactly once, in single pass too. */
/* "addr:port" of the connection's server, as the CLI writes it. */
static const char *
server_name(struct sr_conv *sc)
{
    struct smtpreply_conn_stats cst;
    const address *a;
    char *text;

    if (sc->server)
        return sc->server;
    smtpreply_conn_stats(sc->conn, &cst);
    a = cst.server_is_b ? &sc->addr_b : &sc->addr_a;
    text = address_to_str(wmem_file_scope(), a);
    sc->server = wmem_strdup_printf(wmem_file_scope(), a->type == AT_IPv6 ? "[%s]:%u" : "%s:%u",
                                    text, cst.server_is_b ? sc->port_b : sc->port_a);
    return sc->server;
}

void
sr_on_event(void *user, const struct smtpreply_event *ev)
{
    struct sr_conv *feed = (struct sr_conv *)user;
    struct sr_frame *fr;
    struct sr_request *rq;

    switch (ev->type) {
    case SMTPREPLY_EV_COMMAND: {
        char verb[16];
        copy_verb(verb, &ev->cmd);
        rq = add_request((guint32)ev->cmd.tag, ev->cmd.seq, verb);
        rq->anomalies = ev->anomalies;
        break;
    }
    case SMTPREPLY_EV_REPLY: {
        struct sr_reply r;
        memset(&r, 0, sizeof r);
        r.code = (guint16)ev->code;
        r.stage = (guint8)ev->stage;
        r.has_esc = ev->has_esc ? 1 : 0;
        r.esc = ev->esc;
        r.nlines = ev->nlines;
        r.anomalies = ev->anomalies;
        r.rt_us = -1;
        sr_reply_fill_why(&r, ev);
        r.server = server_name(feed);
        r.tls = ev->tls ? 1 : 0;
        if (ev->has_cmd) {
            r.has_cmd = 1;
            r.cmd = (guint8)ev->cmd.cmd;
            copy_verb(r.verb, &ev->cmd);
            r.request_in = (guint32)ev->cmd.tag;
            r.rt_us = ev->rt_us;
            rq = request_for(&ev->cmd);
            if (!rq->response) {
                rq->response = feed->feed_frame;
            } else {
                if (!rq->more_responses)
                    rq->more_responses = wmem_array_new(wmem_file_scope(), sizeof(guint32));
                wmem_array_append_one(rq->more_responses, feed->feed_frame);
            }
        }
        fr = sr_frame_result(feed->feed_frame, TRUE);
        if (ev->stage == SMTPREPLY_STAGE_GREETING && ev->tag < feed->feed_frame) {
            /* A greeting detection held until the client's first command
             * made the stream SMTP (a port that is not a known SMTP
             * port): shown on its own frame, for every later dissection
             * (GUI, -2); the frame being fed taps it in a single pass,
             * where the greeting's frame is already done. */
            struct sr_frame *own = sr_frame_result((guint32)ev->tag, TRUE);
            if (!own->replies)
                own->replies = wmem_array_new(wmem_file_scope(), sizeof(struct sr_reply));
            wmem_array_append_one(own->replies, r);
            own->smtp = feed->show_smtp;
            if (!fr->late)
                fr->late = wmem_array_new(wmem_file_scope(), sizeof(struct sr_reply));
            wmem_array_append_one(fr->late, r);
            break;
        }
        if (!fr->replies)
            fr->replies = wmem_array_new(wmem_file_scope(), sizeof(struct sr_reply));
        wmem_array_append_one(fr->replies, r);
        break;
    }
    case SMTPREPLY_EV_UNANSWERED:
        rq = request_for(&ev->cmd);
        rq->unanswered = TRUE;
        rq->anomalies |= ev->anomalies;
        break;
    case SMTPREPLY_EV_ANOMALY:
        fr = sr_frame_result(feed->feed_frame, TRUE);
        fr->anomalies |= ev->anomalies | ((smtpreply_anomaly_set)1 << ev->anomaly);
        break;
    case SMTPREPLY_EV_TLS:
        sr_frame_result(feed->feed_frame, TRUE)->encrypted = TRUE;
        break;
    }
}

/* The core allocates through this hook, from the C heap: a connection's
 * state is freed as soon as it ends (packet-smtpreply.c ends closed and
 * idle ones as the CLI does), so it is reused while still in cache
 * instead of piling up in the file scope until the file is closed. */
void *
sr_realloc(void *ctx _U_, void *ptr, size_t size)
{
    if (size == 0) {
        g_free(ptr);
        return NULL;
    }
    return g_realloc(ptr, size);
}

void
sr_results_init(void)
{
    frame_results = g_ptr_array_sized_new(1024);
}

void
sr_results_cleanup(void)
{
    if (frame_results)
        g_ptr_array_free(frame_results, TRUE);
    frame_results = NULL;
}
