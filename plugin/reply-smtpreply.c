/* SPDX-License-Identifier: MIT */
/*
 * reply-smtpreply.c - one reply, from the core's event to the packet tree:
 * what the first pass keeps of it (the failure reason, the whole text,
 * the recipient), and how every pass draws it (fields, expert info, Info
 * column).  The reason and the meaning come from the core's one
 * classifier and one meaning function (smtpreply_reason_classify,
 * smtpreply_reply_meaning), called with the same input as the CLI's, so
 * the two faces give the same answers.
 */
#define WS_BUILD_DLL
#include <wireshark.h>
#include <epan/packet.h>
#include <epan/proto.h>
#include <epan/expert.h>
#include <epan/prefs.h>

#include "smtpreply.h"
#include "smtpreply-plugin.h"
#include "ws_compat.h"

static int hf_reply = -1;
static int hf_code = -1;
static int hf_class = -1;
static int hf_category = -1;
static int hf_meaning = -1;
static int hf_status = -1;
static int hf_rfc = -1;
static int hf_esc = -1;
static int hf_esc_class = -1;
static int hf_esc_subject = -1;
static int hf_esc_detail = -1;
static int hf_esc_meaning = -1;
static int hf_esc_status = -1;
static int hf_command = -1;
static int hf_stage = -1;
static int hf_lines = -1;
static int hf_request_in = -1;
static int hf_time = -1;
static int hf_anomaly = -1;
static int hf_text = -1;
static int hf_reason = -1;
static int hf_reason_source = -1;
static int hf_rcpt = -1;

static gint ett_reply = -1;
static gint ett_esc = -1;

static expert_field ei_transient = EI_INIT;
static expert_field ei_permanent = EI_INIT;
static expert_field ei_invalid = EI_INIT;
static expert_field ei_anomaly = EI_INIT;

static sr_pref_bool pref_info_meaning = FALSE;
static sr_pref_bool pref_info_reason = FALSE;

/* Names for the value_strings, filled from the knowledge base at
 * registration so the names are written once (in common/). */
static value_string class_vals[11];
static value_string category_vals[11];
static value_string esc_class_vals[4];

/* ---- labels ----------------------------------------------------------- */

/* Labels are put together here, "Name: " first, and handed to Wireshark
 * as one "%s" or written directly (below): the printf machinery cost more
 * than the items themselves on every reply (tshark -T fields builds the
 * whole visible tree).  A label longer than Wireshark keeps
 * (ITEM_LABEL_LENGTH) is cut by Wireshark as before. */

void
sr_text_init(struct sr_text *t, const char *name)
{
    t->len = 0;
    t->buf[0] = '\0';
    if (name) {
        sr_text_put(t, name);
        sr_text_put(t, ": ");
    }
    t->start = t->len;
}

void
sr_text_put(struct sr_text *t, const char *s)
{
    size_t n = strlen(s);

    if (n > sizeof t->buf - 1 - t->len)
        n = sizeof t->buf - 1 - t->len;
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

/* An unsigned number in decimal, at least `width` digits (zero-padded). */
void
sr_text_uint(struct sr_text *t, guint64 v, int width)
{
    char digits[24];
    int n = 0;

    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < (int)sizeof digits);
    while (n < width && n < (int)sizeof digits)
        digits[n++] = '0';
    while (n > 0 && t->len < sizeof t->buf - 1)
        t->buf[t->len++] = digits[--n];
    t->buf[t->len] = '\0';
}

/* ---- labels written directly ----------------------------------------- */

/* Wireshark 4.0 to 4.4 keep an item's label in one char array
 * (item_label_t).  A *_format_value(..., "%s", text) call fills it with
 * "Name: text", and a *_format call with the text, through g_vsnprintf,
 * which cost more than adding the item.  Where the tree is visible (only
 * then is such a label made), the label fits and is printable ASCII
 * (nothing for Wireshark to escape or cut), the plugin writes the same
 * bytes itself.  Elsewhere, and from 4.6 on (where the label also records
 * where its value starts), Wireshark's own call is used. */
#define SR_DIRECT_LABELS (!SR_WS_AT_LEAST(4, 6))

#if SR_DIRECT_LABELS
/* Is every byte of s[0..len) printable ASCII (0x20-0x7e)?  Eight bytes at
 * a time: a byte below 0x20, or above 0x7e, sets its high bit in `bad`. */
static gboolean
printable_ascii(const char *s, size_t len)
{
    const guint64 ones = G_GUINT64_CONSTANT(0x0101010101010101);
    const guint64 highs = G_GUINT64_CONSTANT(0x8080808080808080);
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        guint64 x, bad;
        memcpy(&x, s + i, 8);
        bad = ((x - ones * 0x20) & ~x) | ((x + ones * (0x7f - 0x7e)) | x);
        if (bad & highs)
            return FALSE;
    }
    for (; i < len; i++)
        if ((guchar)s[i] - 0x20u > 0x5eu)
            return FALSE;
    return TRUE;
}
#endif

/* Can t be pi's whole label, written directly? */
static gboolean
label_direct(proto_tree *tree, const struct sr_text *t)
{
#if SR_DIRECT_LABELS
    return tree && PTREE_DATA(tree)->visible && t->len < ITEM_LABEL_LENGTH &&
           printable_ascii(t->buf, t->len);
#else
    (void)tree, (void)t;
    return FALSE;
#endif
}

/* The label of pi: t's bytes (label_direct said yes). */
static proto_item *
label_put(proto_item *pi, const struct sr_text *t)
{
#if SR_DIRECT_LABELS
    field_info *fi = pi ? PITEM_FINFO(pi) : NULL;

    if (fi && !proto_item_is_hidden(pi)) {
        fi->rep = wmem_new(PNODE_POOL(pi), item_label_t);
        memcpy(fi->rep->representation, t->buf, t->len + 1);
    }
#else
    (void)t;
#endif
    return pi;
}

proto_item *
sr_add_none_text(proto_tree *tree, int hf, tvbuff_t *tvb, const struct sr_text *t)
{
    if (label_direct(tree, t))
        return label_put(proto_tree_add_item(tree, hf, tvb, 0, 0, ENC_NA), t);
    return proto_tree_add_none_format(tree, hf, tvb, 0, 0, "%s", t->buf + t->start);
}

proto_item *
sr_add_protocol_text(proto_tree *tree, int proto, tvbuff_t *tvb, const struct sr_text *t)
{
    proto_item *pi = proto_tree_add_item(tree, proto, tvb, 0, 0, ENC_NA);

    if (label_direct(tree, t))
        return label_put(pi, t);
    proto_item_append_text(pi, ": %s", t->buf + t->start);
    return pi;
}

static proto_item *
add_uint_text(proto_tree *tree, int hf, tvbuff_t *tvb, guint32 v, const struct sr_text *t)
{
    if (label_direct(tree, t))
        return label_put(proto_tree_add_uint(tree, hf, tvb, 0, 0, v), t);
    return proto_tree_add_uint_format_value(tree, hf, tvb, 0, 0, v, "%s", t->buf + t->start);
}

static proto_item *
add_string_text(proto_tree *tree, int hf, tvbuff_t *tvb, const char *v, const struct sr_text *t)
{
    if (label_direct(tree, t))
        return label_put(proto_tree_add_string(tree, hf, tvb, 0, 0, v), t);
    return proto_tree_add_string_format_value(tree, hf, tvb, 0, 0, v, "%s", t->buf + t->start);
}

/* ---- first pass: what a reply keeps ---------------------------------- */

/* A copy of s[0..len), kept in the arena, that is valid UTF-8 for a string field:
 * each byte that breaks UTF-8 becomes U+FFFD, as the CLI's JSON does; a
 * NUL byte, which a field cannot hold, too. */
static const char *
utf8_copy(const char *s, size_t len)
{
    char *out;
    size_t i = 0, n = 0;

    /* Most replies are printable ASCII: one copy of the exact size. */
    while (i < len && (guchar)s[i] - 1u < 0x7fu)
        i++;
    if (i == len)
        return sr_arena_strndup(s, len);
    out = (char *)sr_arena_alloc(len * 3 + 1);
    memcpy(out, s, i);
    n = i;
    while (i < len) {
        gunichar c = s[i] ? g_utf8_get_char_validated(s + i, (gssize)(len - i)) : (gunichar)-1;
        if (c == (gunichar)-1 || c == (gunichar)-2) {
            memcpy(out + n, "\xef\xbf\xbd", 3);
            n += 3;
            i++;
        } else {
            size_t k = (size_t)(g_utf8_next_char(s + i) - (s + i));
            memcpy(out + n, s + i, k);
            n += k;
            i += k;
        }
    }
    out[n] = '\0';
    return out;
}

void
sr_reply_fill_why(struct sr_reply *r, const struct smtpreply_event *ev)
{
    struct smtpreply_reason_info ri;
    size_t len = ev->full_text ? ev->full_text_len : 0;

    r->reply_cmd = (guint8)smtpreply_reply_cmd(ev->has_cmd, ev->cmd.cmd, ev->stage);
    r->reason = SMTPREPLY_REASON_NONE;
    r->reason_source = SMTPREPLY_REASON_SOURCE_NONE;
    if (ev->code >= 400 && ev->code < 600) {
        smtpreply_reason_classify(ev->code, ev->has_esc ? &ev->esc : NULL,
                                  (enum smtpreply_cmd)r->reply_cmd, ev->full_text, len, &ri);
        r->reason = (guint8)ri.reason;
        r->reason_source = (guint8)ri.source;
    }
    r->text = utf8_copy(len ? ev->full_text : "", len);
    r->text_cut = ev->full_text_cut ? 1 : 0;
    r->rcpt = ev->rcpt ? utf8_copy(ev->rcpt, ev->rcpt_len) : NULL;
}

/* ---- every pass: drawing a reply -------------------------------------- */

void
sr_add_anomalies(proto_tree *tree, packet_info *pinfo, tvbuff_t *tvb, gboolean want_expert,
                 smtpreply_anomaly_set set)
{
    /* Lowest bit first, as the anomalies' order; most sets are empty. */
    for (; set; set &= set - 1) {
        int a = __builtin_ctzll(set);
        proto_item *it;
        if (a >= SMTPREPLY_ANOM__COUNT)
            break;
        it = proto_tree_add_string(tree, hf_anomaly, tvb, 0, 0,
                                   smtpreply_anomaly_name((enum smtpreply_anomaly)a));
        proto_item_set_generated(it);
        if (want_expert)
            expert_add_info_format(pinfo, it, &ei_anomaly, "SMTP anomaly %s: %s",
                                   smtpreply_anomaly_name((enum smtpreply_anomaly)a),
                                   smtpreply_anomaly_description((enum smtpreply_anomaly)a));
    }
}

static void
add_rfc_list(proto_tree *tree, packet_info *pinfo, tvbuff_t *tvb, const char *list)
{
    const char *cursor = list, *item;
    size_t len;

    while (list && (item = smtpreply_list_next(&cursor, &len)) != NULL) {
        char one[128];
        /* The item is copied by the field: a stack copy ends it. */
        const char *text = len < sizeof one ? one : wmem_strndup(pinfo->pool, item, len);
        if (text == one) {
            memcpy(one, item, len);
            one[len] = '\0';
        }
        proto_item_set_generated(proto_tree_add_string(tree, hf_rfc, tvb, 0, 0, text));
    }
}

/* One smtpreply.text item per line of the reply (the text is the lines
 * joined with "\n"). */
static void
add_text_lines(proto_tree *tree, packet_info *pinfo, tvbuff_t *tvb, const struct sr_reply *r)
{
    const char *p = r->text ? r->text : "";

    for (;;) {
        const char *nl = strchr(p, '\n');
        /* The last line ends the text: no copy (the field copies it). */
        proto_item *it = proto_tree_add_string(
            tree, hf_text, tvb, 0, 0, nl ? wmem_strndup(pinfo->pool, p, (size_t)(nl - p)) : p);
        proto_item_set_generated(it);
        if (!nl) {
            if (r->text_cut)
                proto_item_append_text(it, " [text cut]");
            break;
        }
        p = nl + 1;
    }
}

/* t set up for an item of field hf: "Name: " first. */
static void
text_for(struct sr_text *t, int hf)
{
    sr_text_init(t, proto_registrar_get_name(hf));
}

static void
add_esc(proto_tree *rt, tvbuff_t *tvb, const struct sr_reply *r, const char *esc_text)
{
    struct smtpreply_esc_info ei;
    proto_item *eti;
    proto_tree *et;
    struct sr_text t;

    smtpreply_esc_explain(&r->esc, &ei);
    text_for(&t, hf_esc);
    sr_text_put(&t, esc_text);
    sr_text_put(&t, " (");
    sr_text_put(&t, ei.meaning);
    sr_text_put(&t, ")");
    eti = add_string_text(rt, hf_esc, tvb, esc_text, &t);
    proto_item_set_generated(eti);
    et = proto_item_add_subtree(eti, ett_esc);
    proto_item_set_generated(proto_tree_add_uint(et, hf_esc_class, tvb, 0, 0, r->esc.cls));
    text_for(&t, hf_esc_subject);
    sr_text_uint(&t, r->esc.subject, 1);
    sr_text_put(&t, " (");
    sr_text_put(&t, ei.subject_name && ei.subject_name[0] ? ei.subject_name : "unknown subject");
    sr_text_put(&t, ")");
    proto_item_set_generated(add_uint_text(et, hf_esc_subject, tvb, r->esc.subject, &t));
    proto_item_set_generated(proto_tree_add_uint(et, hf_esc_detail, tvb, 0, 0, r->esc.detail));
    proto_item_set_generated(proto_tree_add_string(et, hf_esc_meaning, tvb, 0, 0, ei.meaning));
    proto_item_set_generated(
        proto_tree_add_string(et, hf_esc_status, tvb, 0, 0, smtpreply_status_name(ei.status)));
}

/* "550 5.1.1 recipient-unknown" (code, enhanced code, reason) onto t. */
static void
put_head(struct sr_text *t, const struct sr_reply *r, const char *esc_text, const char *reason)
{
    sr_text_uint(t, r->code, 3);
    if (r->has_esc) {
        sr_text_put(t, " ");
        sr_text_put(t, esc_text);
    }
    if (reason) {
        sr_text_put(t, " ");
        sr_text_put(t, reason);
    }
}

/* Info column: "[550 5.1.1 recipient-unknown: meaning]" with both
 * preferences, without the reason or without the meaning with one. */
void
sr_info_column(packet_info *pinfo, const struct sr_reply *r)
{
    const char *reason = smtpreply_reason_name((enum smtpreply_reason)r->reason);
    char esc_text[16] = "";

    if (!pref_info_meaning && !(pref_info_reason && reason))
        return;
    if (r->has_esc)
        smtpreply_esc_format(&r->esc, esc_text, sizeof esc_text);
    col_append_fstr(pinfo->cinfo, COL_INFO, " [%03u%s%s%s%s%s%s]", r->code, r->has_esc ? " " : "",
                    esc_text, pref_info_reason && reason ? " " : "",
                    pref_info_reason && reason ? reason : "", pref_info_meaning ? ": " : "",
                    pref_info_meaning
                        ? smtpreply_reply_meaning((enum smtpreply_cmd)r->reply_cmd, r->code,
                                                  r->has_esc ? &r->esc : NULL)
                        : "");
}

void
sr_render_reply(proto_tree *tree, packet_info *pinfo, tvbuff_t *tvb, const struct sr_reply *r,
                gboolean want_expert)
{
    struct smtpreply_code_info ci;
    proto_item *ti, *code_item;
    proto_tree *rt;
    const char *meaning;
    const char *reason = smtpreply_reason_name((enum smtpreply_reason)r->reason);
    char esc_text[16] = "";
    struct sr_text head, t;

    smtpreply_code_explain(r->code, &ci);
    meaning = smtpreply_reply_meaning((enum smtpreply_cmd)r->reply_cmd, r->code,
                                      r->has_esc ? &r->esc : NULL);
    if (r->has_esc)
        smtpreply_esc_format(&r->esc, esc_text, sizeof esc_text);
    sr_text_init(&head, NULL);
    put_head(&head, r, esc_text, reason);

    sr_text_init(&t, NULL);
    sr_text_put(&t, "Reply ");
    sr_text_put(&t, head.buf);
    if (r->has_cmd) {
        sr_text_put(&t, " to ");
        sr_text_put(&t, r->verb);
    }
    sr_text_put(&t, ": ");
    sr_text_put(&t, meaning);
    ti = sr_add_none_text(tree, hf_reply, tvb, &t);
    proto_item_set_generated(ti);
    rt = proto_item_add_subtree(ti, ett_reply);

    text_for(&t, hf_code);
    sr_text_uint(&t, r->code, 3);
    sr_text_put(&t, " (");
    sr_text_put(&t, meaning);
    sr_text_put(&t, ")");
    code_item = add_uint_text(rt, hf_code, tvb, r->code, &t);
    proto_item_set_generated(code_item);
    proto_item_set_generated(proto_tree_add_uint(rt, hf_class, tvb, 0, 0, ci.cls));
    proto_item_set_generated(proto_tree_add_uint(rt, hf_category, tvb, 0, 0, ci.category));
    proto_item_set_generated(proto_tree_add_string(rt, hf_meaning, tvb, 0, 0, meaning));
    proto_item_set_generated(
        proto_tree_add_string(rt, hf_status, tvb, 0, 0, smtpreply_status_name(ci.status)));
    add_rfc_list(rt, pinfo, tvb, ci.rfc);
    if (r->has_esc)
        add_esc(rt, tvb, r, esc_text);
    if (reason) {
        text_for(&t, hf_reason);
        sr_text_put(&t, reason);
        sr_text_put(&t, " (");
        sr_text_put(&t, smtpreply_reason_advice((enum smtpreply_reason)r->reason));
        sr_text_put(&t, ")");
        proto_item_set_generated(add_string_text(rt, hf_reason, tvb, reason, &t));
        proto_item_set_generated(proto_tree_add_string(
            rt, hf_reason_source, tvb, 0, 0,
            smtpreply_reason_source_name((enum smtpreply_reason_source)r->reason_source)));
    }

    if (r->has_cmd) {
        /* A command line without a verb answers as no command (the CLI's
         * null); the request link still stands. */
        if (r->verb[0])
            proto_item_set_generated(proto_tree_add_string(rt, hf_command, tvb, 0, 0, r->verb));
        proto_item_set_generated(proto_tree_add_uint(rt, hf_request_in, tvb, 0, 0, r->request_in));
        if (r->rt_us >= 0) {
            nstime_t delta;
            delta.secs = (time_t)(r->rt_us / 1000000);
            delta.nsecs = (int)(r->rt_us % 1000000) * 1000;
            proto_item_set_generated(proto_tree_add_time(rt, hf_time, tvb, 0, 0, &delta));
        }
    }
    if (r->rcpt)
        proto_item_set_generated(proto_tree_add_string(rt, hf_rcpt, tvb, 0, 0, r->rcpt));
    proto_item_set_generated(proto_tree_add_string(
        rt, hf_stage, tvb, 0, 0, smtpreply_stage_name((enum smtpreply_stage)r->stage)));
    proto_item_set_generated(proto_tree_add_uint(rt, hf_lines, tvb, 0, 0, r->nlines));
    sr_tls_render(rt, tvb, r);
    add_text_lines(rt, pinfo, tvb, r);
    sr_add_anomalies(rt, pinfo, tvb, want_expert, r->anomalies);

    if (!want_expert)
        ;
    else if (ci.cls == 5)
        expert_add_info_format(pinfo, code_item, &ei_permanent, "Permanent failure %s: %s",
                               head.buf, meaning);
    else if (ci.cls == 4)
        expert_add_info_format(pinfo, code_item, &ei_transient, "Transient failure %s: %s",
                               head.buf, meaning);
    else if (!smtpreply_code_valid(r->code))
        expert_add_info_format(pinfo, code_item, &ei_invalid, "Invalid reply code %03u", r->code);

    sr_info_column(pinfo, r);
}

/* ---- registration ---------------------------------------------------- */

/* Fill the value_strings from the knowledge base (written once, there). */
static void
fill_names(void)
{
    struct smtpreply_code_info ci;
    struct smtpreply_esc_info ei;
    static const guint8 esc_classes[] = {2, 4, 5};
    guint i;

    for (i = 0; i < 10; i++) {
        smtpreply_code_explain(i * 100, &ci);
        class_vals[i].value = i;
        class_vals[i].strptr = ci.class_name;
        smtpreply_code_explain(200 + i * 10, &ci);
        category_vals[i].value = i;
        category_vals[i].strptr = ci.category_name;
    }
    for (i = 0; i < G_N_ELEMENTS(esc_classes); i++) {
        struct smtpreply_esc e = {esc_classes[i], 0, 0};
        smtpreply_esc_explain(&e, &ei);
        esc_class_vals[i].value = esc_classes[i];
        esc_class_vals[i].strptr = ei.class_name;
    }
}

void
sr_register_reply(int proto, expert_module_t *expert, module_t *module)
{
    static hf_register_info hf[] = {
        {&hf_reply,
         {"Reply", "smtpreply.reply", FT_NONE, BASE_NONE, NULL, 0x0,
          "One complete SMTP reply (all its lines), on the frame that completed it", HFILL}},
        {&hf_code,
         {"Reply code", "smtpreply.code", FT_UINT16, BASE_DEC, NULL, 0x0,
          "RFC 5321 §4.2 three-digit reply code", HFILL}},
        {&hf_class,
         {"Class", "smtpreply.class", FT_UINT8, BASE_DEC, VALS(class_vals), 0x0,
          "First digit of the reply code (RFC 5321 §4.2.1)", HFILL}},
        {&hf_category,
         {"Category", "smtpreply.category", FT_UINT8, BASE_DEC, VALS(category_vals), 0x0,
          "Second digit of the reply code (RFC 5321 §4.2.1)", HFILL}},
        {&hf_meaning,
         {"Meaning", "smtpreply.meaning", FT_STRING, BASE_NONE, NULL, 0x0,
          "What the reply means: the enhanced code's registry meaning when it fits the code, "
          "else the code's meaning as a reply to its command",
          HFILL}},
        {&hf_status,
         {"Status", "smtpreply.status", FT_STRING, BASE_NONE, NULL, 0x0,
          "standard, registry, historic, non-standard, invalid or unassigned", HFILL}},
        {&hf_rfc,
         {"Defined in", "smtpreply.rfc", FT_STRING, BASE_NONE, NULL, 0x0,
          "RFC section defining the code", HFILL}},
        {&hf_esc,
         {"Enhanced status code", "smtpreply.esc", FT_STRING, BASE_NONE, NULL, 0x0,
          "RFC 3463 class.subject.detail", HFILL}},
        {&hf_esc_class,
         {"Class", "smtpreply.esc.class", FT_UINT8, BASE_DEC, VALS(esc_class_vals), 0x0, NULL,
          HFILL}},
        {&hf_esc_subject,
         {"Subject", "smtpreply.esc.subject", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_esc_detail,
         {"Detail", "smtpreply.esc.detail", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_esc_meaning,
         {"Meaning", "smtpreply.esc.meaning", FT_STRING, BASE_NONE, NULL, 0x0,
          "IANA registry name of the enhanced code (or of its subject or class)", HFILL}},
        {&hf_esc_status,
         {"Status", "smtpreply.esc.status", FT_STRING, BASE_NONE, NULL, 0x0,
          "standard (registered), unassigned or invalid", HFILL}},
        {&hf_reason,
         {"Failure reason", "smtpreply.reason", FT_STRING, BASE_NONE, NULL, 0x0,
          "Why a 4yz or 5yz reply failed: a stable identifier (recipient-unknown, ...)", HFILL}},
        {&hf_reason_source,
         {"Reason from", "smtpreply.reason_source", FT_STRING, BASE_NONE, NULL, 0x0,
          "What decided the reason: text (the reply's wording), enhanced (the "
          "enhanced code) or code (the basic code with its command)",
          HFILL}},
        {&hf_command,
         {"Command", "smtpreply.command", FT_STRING, BASE_NONE, NULL, 0x0,
          "The command this reply answers (uppercase verb)", HFILL}},
        {&hf_request_in,
         {"Request in", "smtpreply.request_in", FT_FRAMENUM, BASE_NONE,
          FRAMENUM_TYPE(FT_FRAMENUM_REQUEST), 0x0, "Frame of the command this reply answers",
          HFILL}},
        {&hf_time,
         {"Response time", "smtpreply.time", FT_RELATIVE_TIME, BASE_NONE, NULL, 0x0,
          "Time from the command to this reply", HFILL}},
        {&hf_rcpt,
         {"Recipient", "smtpreply.rcpt", FT_STRING, BASE_NONE, NULL, 0x0,
          "The address of the RCPT TO this reply answers (PRDR: of its recipient), as written, "
          "without angle brackets and parameters",
          HFILL}},
        {&hf_stage,
         {"Stage", "smtpreply.stage", FT_STRING, BASE_NONE, NULL, 0x0,
          "Which step of the exchange the reply closes (greeting, reply, data-start, data-end, "
          "bdat, auth-challenge, auth-final, unsolicited)",
          HFILL}},
        {&hf_lines,
         {"Lines", "smtpreply.lines", FT_UINT32, BASE_DEC, NULL, 0x0,
          "Number of lines of the reply", HFILL}},
        {&hf_text,
         {"Text", "smtpreply.text", FT_STRING, BASE_NONE, NULL, 0x0,
          "One line of the reply, without its code and separator (the first 16 KiB of a "
          "reply are kept)",
          HFILL}},
        {&hf_anomaly,
         {"Anomaly", "smtpreply.anomaly", FT_STRING, BASE_NONE, NULL, 0x0,
          "What breaks the RFCs here (the analyzer's identifiers)", HFILL}},
    };
    static gint *ett[] = {&ett_reply, &ett_esc};
    static ei_register_info ei[] = {
        {&ei_transient,
         {"smtpreply.transient", PI_RESPONSE_CODE, PI_WARN, "Transient negative reply (4yz)",
          EXPFILL}},
        {&ei_permanent,
         {"smtpreply.permanent", PI_RESPONSE_CODE, PI_ERROR, "Permanent negative reply (5yz)",
          EXPFILL}},
        {&ei_invalid,
         {"smtpreply.invalid", PI_RESPONSE_CODE, PI_ERROR, "Reply code outside RFC 5321 §4.2",
          EXPFILL}},
        {&ei_anomaly, {"smtpreply.anomaly.expert", PI_PROTOCOL, PI_WARN, "SMTP anomaly", EXPFILL}},
    };

    fill_names();
    proto_register_field_array(proto, hf, array_length(hf));
    proto_register_subtree_array(ett, array_length(ett));
    expert_register_field_array(expert, ei, array_length(ei));
    prefs_register_bool_preference(module, "info_meaning", "Add reply meanings to the Info column",
                                   "Append \"[code enhanced: meaning]\" for every reply",
                                   &pref_info_meaning);
    prefs_register_bool_preference(module, "info_reason", "Add failure reasons to the Info column",
                                   "Append \"[code enhanced reason]\" for every 4yz and 5yz "
                                   "reply (with the meaning too when both are on)",
                                   &pref_info_reason);
}
