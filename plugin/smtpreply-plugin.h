/* SPDX-License-Identifier: MIT */
/*
 * smtpreply-plugin.h - what the plugin's files share: the per-frame
 * results the dissector records on the first pass (in the arena) and hands
 * to the tap, and the statistics tree's registration.
 */
#ifndef SMTPREPLY_PLUGIN_H
#define SMTPREPLY_PLUGIN_H

#include <wireshark.h>
#include <epan/wmem_scopes.h>
#include <epan/packet.h>
#include <epan/expert.h>
#include <epan/prefs.h>
#include <epan/address.h>

#include "smtpreply.h"

/* One reply and one command as every pass shows them.  Each is kept for
 * the whole file (20,000 sessions keep 160,000 replies), so the fields
 * are packed: flags in bytes, widest last. */
struct sr_reply {
    guint16 code;
    guint8 stage;         /* enum smtpreply_stage */
    guint8 cmd;           /* enum smtpreply_cmd (valid when has_cmd) */
    guint8 reply_cmd;     /* enum smtpreply_cmd: smtpreply_reply_cmd() */
    guint8 reason;        /* enum smtpreply_reason (NONE for 2yz, 3yz) */
    guint8 reason_source; /* enum smtpreply_reason_source */
    guint8 has_cmd;
    guint8 has_esc;
    guint8 text_cut; /* the core kept only the first 16 KiB */
    guint8 tls;      /* read from data Wireshark decrypted */
    struct smtpreply_esc esc;
    char verb[16];      /* the command as sent ("" without one) */
    guint32 request_in; /* frame of the command, 0 if none */
    guint32 nlines;
    gint64 rt_us; /* -1 without a command */
    smtpreply_anomaly_set anomalies;
    const char *text;   /* every line's text joined with "\n" (UTF-8) */
    const char *rcpt;   /* the RCPT TO address answered, or NULL */
    const char *server; /* "addr:port" of the session's server (arena) */
};

/* What the plugin keeps for the whole file lives in its arena
 * (results-smtpreply.c): memory in 2 MiB pieces, handed out in order and
 * released at once when the file is closed.  Each piece is asked for as
 * one huge page where the system has them: the results of a large file
 * then cost a few dozen page faults instead of one per 4 KiB, which is
 * most of what keeping them costs (bench/plugin-bench.sh).  Memory from
 * it is zeroed and 8-byte aligned. */
void *sr_arena_alloc(size_t size);
char *sr_arena_strndup(const char *s, size_t len);

/* A list of records in the arena: a header, then cap records.  Pushing
 * past cap moves the list (the old copy stays in the arena: most lists
 * hold one record), so a pointer to a record is good until the next
 * push on its list. */
struct sr_vec {
    guint32 n, cap;
};
#define SR_VEC_LEN(v) ((v) ? (v)->n : 0u)
#define SR_VEC_AT(v, type, i) (&((type *)(void *)((v) + 1))[i])
/* A new zeroed record at the end of *vp (creating the list). */
void *sr_vec_push(struct sr_vec **vp, size_t size);

struct sr_request {
    guint64 seq; /* the command's ordinal in its session */
    char verb[16];
    guint32 response; /* frame of its first reply, 0 before one */
    guint8 unanswered;
    struct sr_vec *more_responses; /* guint32 frames of later replies, or NULL */
    smtpreply_anomaly_set anomalies;
};

struct sr_frame {
    struct sr_vec *replies;          /* struct sr_reply, completed in this frame */
    struct sr_vec *late;             /* struct sr_reply shown on an earlier frame (a
                                        greeting detection held back) but tapped
                                        here, on the first pass only */
    struct sr_vec *requests;         /* struct sr_request, command lines in it */
    smtpreply_anomaly_set anomalies; /* not tied to a command or a reply */
    guint8 encrypted;                /* TLS starts in this frame */
    guint8 smtp;                     /* SMTP the built-in dissector did not show */
};

/* reply-smtpreply.c: keeps an event's reason, text and recipient in r
 * (first pass, arena); draws a reply (every pass); draws anomalies;
 * registers the reply's fields, expert infos and Info-column
 * preferences.  want_expert: add expert info (someone looks at it). */
void sr_reply_fill_why(struct sr_reply *r, const struct smtpreply_event *ev);
void sr_render_reply(proto_tree *tree, packet_info *pinfo, tvbuff_t *tvb, const struct sr_reply *r,
                     gboolean want_expert);
void sr_add_anomalies(proto_tree *tree, packet_info *pinfo, tvbuff_t *tvb, gboolean want_expert,
                      smtpreply_anomaly_set set);
/* What the Info-column preferences add for one reply (nothing when both
 * are off). */
void sr_info_column(packet_info *pinfo, const struct sr_reply *r);
void sr_register_reply(int proto, expert_module_t *expert, module_t *module);
/* A label put together without printf (reply-smtpreply.c): "Name: "
 * (or nothing, for sr_text_init(t, NULL)), then the value's text from
 * buf[start].  Text past the buffer is dropped; Wireshark keeps less. */
struct sr_text {
    char buf[512];
    size_t len, start;
};
void sr_text_init(struct sr_text *t, const char *name);
void sr_text_put(struct sr_text *t, const char *s);
/* An unsigned number in decimal, at least `width` digits (zero-padded). */
void sr_text_uint(struct sr_text *t, guint64 v, int width);
/* An FT_NONE item labelled t (without a name), as
 * proto_tree_add_none_format(..., "%s", text) makes it. */
proto_item *sr_add_none_text(proto_tree *tree, int hf, tvbuff_t *tvb, const struct sr_text *t);
/* The protocol's item labelled t ("Name: text"), as
 * proto_item_append_text(..., ": %s", text) makes it. */
proto_item *sr_add_protocol_text(proto_tree *tree, int proto, tvbuff_t *tvb,
                                 const struct sr_text *t);
/* A TCP connection's two endpoints, the lower (address, port) first, so
 * both directions give the same key; zero-filled, compared as bytes. */
struct sr_conv_key {
    guint16 port_lo, port_hi;
    guint8 type, len; /* address type and length (IPv4, IPv6) */
    guint8 pad[2];
    guint8 addr_lo[16], addr_hi[16];
};

/* One TCP connection: the core's connection layer and what the plugin
 * needs to orient segments and to finish it at the end of the file. */
struct sr_conv {
    struct sr_conv_key key;      /* its entry in the connection table */
    struct smtpreply_conn *conn; /* NULL once known not to be SMTP */
    address addr_a;              /* endpoint A: source of the first segment */
    guint16 port_a;
    address addr_b;
    guint16 port_b;
    const char *server; /* "addr:port" of the server, once known */
    guint32 last_frame;
    gint64 last_ts_us;
    guint32 feed_frame; /* where the events being produced go */
    gboolean finished;
    gboolean fin_a, fin_b, rst; /* how the TCP connection closed */
    gint64 max_ts_at_last;      /* latest frame time of the file at last_frame */
    gboolean show_smtp;         /* SMTP on a port the built-in dissector ignores */
    gboolean smtp_checked;
    struct sr_tls *tls; /* what was fed of the decrypted streams, or NULL */
    /* While the core holds its state: on the list of open or of closed
     * connections, least recently active first (packet-smtpreply.c). */
    struct sr_conv *prev, *next;
    gboolean listed, closing;
};

/* tls-smtpreply.c: on the first pass, after a frame's segment, feeds the
 * application data the TLS dissector decrypted in that frame; the
 * "smtpreply.tls" field of a reply; registration. */
void sr_tls_feed(struct sr_conv *sc, packet_info *pinfo, gboolean from_b, gint64 ts_us);
void sr_tls_render(proto_tree *rt, tvbuff_t *tvb, const struct sr_reply *r);
void sr_tls_register(int proto);
void sr_tls_handoff(void);

/* results-smtpreply.c: the per-frame results (NULL: none yet, unless
 * create), the core's event callback (user: the struct sr_conv being
 * fed) and allocation hook, and their lifetime, the arena's included
 * (one capture file). */
struct sr_frame *sr_frame_result(guint32 frame, gboolean create);
void sr_on_event(void *user, const struct smtpreply_event *ev);
void *sr_realloc(void *ctx, void *ptr, size_t size);
void sr_results_init(void);
void sr_results_cleanup(void);

/* stats-smtpreply.c: registers the "SMTP Reply Codes" statistics tree
 * (tshark -z smtpreply,tree), fed by the "smtpreply" tap with one
 * struct sr_frame per frame that completed replies. */
void smtpreply_register_stats(void);

#endif
