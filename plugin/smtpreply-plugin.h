/* SPDX-License-Identifier: MIT */
/*
 * smtpreply-plugin.h - what the plugin's files share: the per-frame
 * results the dissector records on the first pass (file scope) and hands
 * to the tap, and the statistics tree's registration.
 */
#ifndef SMTPREPLY_PLUGIN_H
#define SMTPREPLY_PLUGIN_H

#include <wireshark.h>
#include <epan/wmem_scopes.h>
#include <epan/address.h>

#include "smtpreply.h"

struct sr_reply {
    guint16 code;
    guint8 stage;              /* enum smtpreply_stage */
    guint8 cmd;                /* enum smtpreply_cmd (valid when has_cmd) */
    gboolean has_cmd;
    gboolean has_esc;
    struct smtpreply_esc esc;
    char verb[16];             /* the command as sent ("" without one) */
    guint32 request_in;        /* frame of the command, 0 if none */
    gint64 rt_us;              /* -1 without a command */
    guint32 nlines;
    smtpreply_anomaly_set anomalies;
    const char *server;        /* "addr:port" of the session's server (file scope) */
};

struct sr_request {
    guint64 seq;               /* the command's ordinal in its session */
    char verb[16];
    wmem_array_t *responses;   /* guint32 frame numbers, in reply order */
    gboolean unanswered;
    smtpreply_anomaly_set anomalies;
};

struct sr_frame {
    wmem_array_t *replies;     /* struct sr_reply, completed in this frame */
    wmem_array_t *late;        /* struct sr_reply shown on an earlier frame (a
                                  greeting detection held back) but tapped
                                  here, on the first pass only */
    wmem_array_t *requests;    /* struct sr_request, command lines in it */
    smtpreply_anomaly_set anomalies;  /* not tied to a command or a reply */
    gboolean encrypted;        /* TLS starts in this frame */
    gboolean smtp;             /* SMTP the built-in dissector did not show */
};

/* One TCP connection: the core's connection layer and what the plugin
 * needs to orient segments and to finish it at the end of the file. */
struct sr_conv {
    struct smtpreply_conn *conn;   /* NULL once known not to be SMTP */
    address addr_a;                /* endpoint A: source of the first segment */
    guint16 port_a;
    address addr_b;
    guint16 port_b;
    const char *server;            /* "addr:port" of the server, once known */
    guint32 last_frame;
    gint64 last_ts_us;
    guint32 feed_frame;            /* where the events being produced go */
    gboolean finished;
    gboolean fin_a, fin_b, rst;    /* how the TCP connection closed */
    gint64 max_ts_at_last;         /* latest frame time of the file at last_frame */
    gboolean show_smtp;            /* SMTP on a port the built-in dissector ignores */
    gboolean smtp_checked;
};

/* results-smtpreply.c: the per-frame results (NULL: none yet, unless
 * create), the core's event callback (user: the struct sr_conv being
 * fed) and allocation hook, and their lifetime (one capture file). */
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
