/* SPDX-License-Identifier: MIT */
/*
 * stats-smtpreply.c - the plugin's "SMTP Reply Codes" statistics tree
 * (Statistics menu; tshark -q -z smtpreply,tree): replies by class, code
 * and enhanced code, by the command they answer and by server, the
 * failures (4yz, 5yz) by reason and then by code and enhanced code, and
 * the response time per command (stats_tree average nodes: count, average,
 * minimum, maximum).  The dissector
 * (packet-smtpreply.c) queues one struct sr_frame per frame on the
 * "smtpreply" tap.
 */
#define WS_BUILD_DLL
#include <wireshark.h>
#include <epan/packet.h>
#include <epan/tap.h>
#include <epan/stats_tree.h>

#include "smtpreply.h"
#include "smtpreply-plugin.h"

static const char st_by_class[] = "Replies by class and code";
static const char st_by_command[] = "Replies by command";
static const char st_rt[] = "Response time by command (ms)";
static const char st_by_server[] = "Replies by server";
static int st_node_class = -1;
static int st_node_command = -1;
static int st_node_rt = -1;
static int st_node_server = -1;
static const char st_by_reason[] = "Failures by reason";
static int st_node_reason = -1;

static void
smtpreply_stats_init(stats_tree *st)
{
    st_node_class = stats_tree_create_node(st, st_by_class, 0, STAT_DT_INT, TRUE);
    st_node_command = stats_tree_create_node(st, st_by_command, 0, STAT_DT_INT, TRUE);
    /* Average nodes: count, average, minimum and maximum per command. */
    st_node_rt = stats_tree_create_node(st, st_rt, 0, STAT_DT_FLOAT, TRUE);
    st_node_server = stats_tree_create_node(st, st_by_server, 0, STAT_DT_INT, TRUE);
    st_node_reason = stats_tree_create_node(st, st_by_reason, 0, STAT_DT_INT, TRUE);
}

static tap_packet_status
smtpreply_stats_packet(stats_tree *st, packet_info *pinfo _U_, epan_dissect_t *edt _U_,
                       const void *p, tap_flags_t flags _U_)
{
    const struct sr_frame *fr = (const struct sr_frame *)p;
    guint i, n = SR_VEC_LEN(fr->replies);

    for (i = 0; i < n; i++) {
        const struct sr_reply *r = SR_VEC_AT(fr->replies, struct sr_reply, i);
        struct smtpreply_code_info ci;
        char name[160];
        int cls_node, code_node, cmd_node;

        smtpreply_code_explain(r->code, &ci);
        tick_stat_node(st, st_by_class, 0, TRUE);
        snprintf(name, sizeof name, "%uxx %s", ci.cls, ci.class_name);
        cls_node = tick_stat_node(st, name, st_node_class, TRUE);
        snprintf(name, sizeof name, "%03u %s", r->code, ci.meaning);
        code_node = tick_stat_node(st, name, cls_node, TRUE);
        if (r->has_esc) {
            struct smtpreply_esc_info ei;
            char esc_text[16];
            smtpreply_esc_explain(&r->esc, &ei);
            smtpreply_esc_format(&r->esc, esc_text, sizeof esc_text);
            snprintf(name, sizeof name, "%s %s", esc_text, ei.meaning);
        } else {
            g_strlcpy(name, "(no enhanced code)", sizeof name);
        }
        tick_stat_node(st, name, code_node, FALSE);

        tick_stat_node(st, st_by_command, 0, TRUE);
        if (r->has_cmd)
            g_strlcpy(name, r->verb[0] ? r->verb : "?", sizeof name);
        else
            snprintf(name, sizeof name, "(%s)",
                     smtpreply_stage_name((enum smtpreply_stage)r->stage));
        cmd_node = tick_stat_node(st, name, st_node_command, TRUE);
        snprintf(name, sizeof name, "%03u", r->code);
        tick_stat_node(st, name, cmd_node, FALSE);

        /* Timed replies only (those answering a command), in the same
         * milliseconds as the CLI's rt_ms; the final reply to DATA is
         * timed from the final dot. */
        if (r->has_cmd && r->rt_us >= 0) {
            const char *verb = r->verb[0] ? r->verb : "?";
            if (r->stage == SMTPREPLY_STAGE_DATA_END)
                verb = "DATA (end of data)";
            avg_stat_node_add_value_float(st, st_rt, 0, TRUE, (gfloat)r->rt_us / 1000.0f);
            avg_stat_node_add_value_float(st, verb, st_node_rt, FALSE, (gfloat)r->rt_us / 1000.0f);
        }

        tick_stat_node(st, st_by_server, 0, TRUE);
        cmd_node = tick_stat_node(st, r->server ? r->server : "?", st_node_server, TRUE);
        snprintf(name, sizeof name, "%uxx", ci.cls);
        tick_stat_node(st, name, cmd_node, FALSE);

        /* Every 4yz and 5yz reply has exactly one reason. */
        if (r->reason != SMTPREPLY_REASON_NONE) {
            char esc_text[16];
            int reason_node;
            tick_stat_node(st, st_by_reason, 0, TRUE);
            reason_node = tick_stat_node(
                st, smtpreply_reason_name((enum smtpreply_reason)r->reason), st_node_reason, TRUE);
            snprintf(name, sizeof name, "%03u%s%s", r->code, r->has_esc ? " " : "",
                     r->has_esc ? smtpreply_esc_format(&r->esc, esc_text, sizeof esc_text) : "");
            tick_stat_node(st, name, reason_node, FALSE);
        }
    }
    return n ? TAP_PACKET_REDRAW : TAP_PACKET_DONT_REDRAW;
}

void
smtpreply_register_stats(void)
{
    stats_tree_register_plugin("smtpreply", "smtpreply", "SMTP Reply Codes", 0,
                               smtpreply_stats_packet, smtpreply_stats_init, NULL);
}
