/* SPDX-License-Identifier: MIT */
/*
 * events.c - what the core reports about a flow (commands, replies,
 * unanswered commands, TLS, anomalies) added into the flow's summary, and
 * with --replies one JSON line per reply.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "kbfmt.h"
#include "tally_int.h"

/* ------------------------------------------------------------------ */
/* addresses                                                          */

static void endpoint_str(uint8_t family, const uint8_t *addr, uint16_t port, char *buf,
                         size_t size)
{
    char a[INET6_ADDRSTRLEN];
    if (family == 4) {
        inet_ntop(AF_INET, addr, a, sizeof a);
        snprintf(buf, size, "%s:%u", a, port);
    } else {
        inet_ntop(AF_INET6, addr, a, sizeof a);
        snprintf(buf, size, "[%s]:%u", a, port);
    }
}

/* ------------------------------------------------------------------ */
/* events                                                             */

/* What a reply line shows of the reply's text and recipient: as sent, or
 * with --redact the copies whose local parts are hashed. */
struct shown {
    const char *text, *rcpt;
    size_t text_len, rcpt_len;
};

/* b = p[0..n) with every address's local part replaced (--redact). */
static const char *redacted(struct sbuf *b, const char *p, size_t n, size_t *len)
{
    b->n = 0;
    if (!sb_reserve(b, SMTPREPLY_REDACT_CAP(n))) {
        *len = 0;
        return "";
    }
    *len = smtpreply_redact(p, n, b->p, b->cap, NULL);
    return b->p;
}

/* Notes a failure for the text report (the first of each reason, at most
 * SESSION_NOTES a session); note gets its one-line text either way. */
static void fail_note(struct job *j, struct summary *s, const struct smtpreply_event *ev,
                      const struct smtpreply_reason_info *ri, char *note)
{
    const char *t = ev->full_text ? ev->full_text : "";
    size_t len = ev->full_text ? ev->full_text_len : 0;
    if (j->opt->redact)
        t = redacted(&j->red_text, t, len, &len);
    note_text(note, t, len);
    for (unsigned i = 0; i < s->nnotes; i++)
        if (s->notes[i].reason == ri->reason)
            return;
    if (s->nnotes < SESSION_NOTES) {
        struct fail_note *n = &s->notes[s->nnotes++];
        n->code = (uint16_t)ev->code;
        n->reason = (uint8_t)ri->reason;
        memcpy(n->text, note, sizeof n->text);
    }
}

void emit_line(struct job *j, const char *p, size_t n, size_t at, uint64_t id)
{
    if (j->direct)
        out_spliced(j->direct->fp, p, n, at, j->direct->id_base + id);
    else
        spool_line(j->spool, p, n, at, id);
}

/* Writes out the line just made in j->line, or holds it until its
 * session has its number (ready: the line already shows it). */
static void line_out(struct job *j, const struct flow *f, bool ready, size_t at)
{
    const struct sbuf *b = &j->line;
    if (!ready)
        order_hold_line(j, f, b->p, b->n, at);
    else if (j->direct)
        fwrite(b->p, 1, b->n, j->direct->fp);
    else
        spool_line(j->spool, b->p, b->n, at, 0);
}

/* One --replies line, written straight as JSON (jsonw.c: what jansson
 * would dump, keys sorted, without an object per line).  The reply's text
 * is kept as sent: bytes that break UTF-8 become U+FFFD and JSON escapes
 * the rest.  The session number is the file's own (a -j worker cannot
 * know the files before); the writer, or the spool's replay, adds the
 * files before.  A line whose session has no number yet says 0 and waits
 * (order.c). */
static void reply_line_json(struct job *j, const struct flow *f, const struct smtpreply_event *ev,
                            enum smtpreply_cmd rcmd, const struct smtpreply_reason_info *ri,
                            const struct shown *sh)
{
    const struct summary *s = f->sum;
    struct sbuf *b = &j->line;
    char esc[16];
    b->n = 0;
    sb_puts(b, "{\"anomalies\":[");
    bool first = true;
    for (smtpreply_anomaly_set set = ev->anomalies; set; set &= set - 1) {
        unsigned i = (unsigned)__builtin_ctzll((unsigned long long)set);
        if (i >= SMTPREPLY_ANOM__COUNT)
            continue;
        if (!first)
            sb_putc(b, ',');
        first = false;
        jw_cstr(b, smtpreply_anomaly_name((enum smtpreply_anomaly)i));
    }
    sb_puts(b, "],\"class\":");
    jw_uint(b, ev->code / 100);
    sb_puts(b, ",\"client\":");
    jw_cstr(b, s->client);
    sb_puts(b, ",\"code\":");
    jw_uint(b, ev->code);
    sb_puts(b, ",\"command\":");
    jw_cstr(b, ev->has_cmd && ev->cmd.verb[0] ? ev->cmd.verb : NULL);
    sb_puts(b, ",\"enhanced\":");
    jw_cstr(b, ev->has_esc ? smtpreply_esc_format(&ev->esc, esc, sizeof esc) : NULL);
    sb_puts(b, ",\"file\":");
    jw_cstr(b, j->fr->path);
    sb_puts(b, ",\"frame\":");
    jw_uint(b, ev->tag);
    sb_puts(b, ",\"meaning\":");
    jw_cstr(b, smtpreply_reply_meaning(rcmd, ev->code, ev->has_esc ? &ev->esc : NULL));
    sb_puts(b, ",\"rcpt\":");
    if (sh->rcpt)
        jw_str(b, sh->rcpt, sh->rcpt_len);
    else
        sb_puts(b, "null");
    sb_puts(b, ",\"reason\":");
    jw_cstr(b, ri->name);
    sb_puts(b, ",\"reason_source\":");
    jw_cstr(b, ri->source_name);
    sb_puts(b, ",\"rt_ms\":");
    if (ev->rt_us >= 0)
        jw_real(b, (double)ev->rt_us / 1000.0);
    else
        sb_puts(b, "null");
    sb_puts(b, ",\"server\":");
    jw_cstr(b, s->server);
    sb_puts(b, ",\"session\":");
    size_t at = b->n;
    bool ready = order_ready(j, f);
    jw_uint(b, ready ? s->id + (j->direct ? j->direct->id_base : 0) : 0);
    sb_puts(b, ",\"stage\":");
    jw_cstr(b, smtpreply_stage_name(ev->stage));
    sb_puts(b, ",\"text\":");
    jw_str(b, sh->text, sh->text_len);
    sb_puts(b, ev->tls ? ",\"tls\":true" : ",\"tls\":false");
    sb_puts(b, ",\"ts\":");
    jw_fixed(b, ev->ts_us, 6);
    sb_puts(b, "}\n");
    line_out(j, f, ready, at);
}

/* One --replies --format csv row (REPLIES_CSV_HEADER); the session
 * number is spliced as in reply_line_json. */
static void reply_line_csv(struct job *j, const struct flow *f, const struct smtpreply_event *ev,
                           const struct smtpreply_reason_info *ri, const struct shown *sh)
{
    const struct summary *s = f->sum;
    struct sbuf *b = &j->line;
    char esc[16];
    b->n = 0;
    sb_json(b, fixed_json(ev->ts_us, 6), JSON_ENCODE_ANY | JSON_COMPACT);
    sb_putc(b, ',');
    sb_csv_text(b, j->fr->path, strlen(j->fr->path));
    sb_putc(b, ',');
    size_t at = b->n;
    bool ready = order_ready(j, f);
    sb_printf(b, "%" PRIu64 ",%" PRIu64 ",",
              ready ? s->id + (j->direct ? j->direct->id_base : 0) : 0, ev->tag);
    sb_csv_text(b, s->client, strlen(s->client));
    sb_putc(b, ',');
    sb_csv_text(b, s->server, strlen(s->server));
    sb_putc(b, ',');
    if (ev->has_cmd && ev->cmd.verb[0])
        sb_csv_text(b, ev->cmd.verb, strlen(ev->cmd.verb));
    sb_putc(b, ',');
    if (sh->rcpt)
        sb_csv_text(b, sh->rcpt, sh->rcpt_len);
    sb_printf(b, ",%u,%s,%s,", ev->code,
              ev->has_esc ? smtpreply_esc_format(&ev->esc, esc, sizeof esc) : "",
              ri->name ? ri->name : "");
    sb_csv_text(b, sh->text, sh->text_len);
    sb_putc(b, '\n');
    line_out(j, f, ready, at);
}

/* The host name a 220 greeting gives: its text's first word. */
static void greeting_name(struct summary *s, const struct smtpreply_event *ev)
{
    const char *t = ev->full_text;
    size_t n = 0, len = ev->full_text ? ev->full_text_len : 0;
    while (n < len && n < sizeof s->name - 1 && t[n] != ' ' && t[n] != '\n' && t[n] != '\t' &&
           t[n] != '\r')
        n++;
    memcpy(s->name, t, n);
    s->name[n] = 0;
}

/* Names the client and the server once the core knows which is which. */
static void fill_endpoints(struct flow *f)
{
    struct smtpreply_conn_stats cs;
    struct summary *s = f->sum;
    smtpreply_conn_stats(f->conn, &cs);
    const uint8_t *ca = cs.server_is_b ? f->key.a : f->key.b;
    const uint8_t *sa = cs.server_is_b ? f->key.b : f->key.a;
    uint16_t cp = cs.server_is_b ? f->key.pa : f->key.pb;
    uint16_t sp = cs.server_is_b ? f->key.pb : f->key.pa;
    endpoint_str(f->key.family, ca, cp, s->client, sizeof s->client);
    endpoint_str(f->key.family, sa, sp, s->server, sizeof s->server);
}

/* The summary is made when the flow turns out to be SMTP, so the many
 * flows that never do (scans, SYN floods, other protocols) cost no more
 * than their table entry and connection state. */
struct summary *flow_summary(struct flow *f)
{
    if (f->sum == NULL) {
        f->sum = calloc(1, sizeof *f->sum);
        if (f->sum) {
            f->sum->start_ns = f->start_ns;
            fill_endpoints(f);
            order_flow_listed(f->job, f);
        }
    }
    return f->sum;
}

/* The table of recipient domains: the writer's, or a -j worker's own. */
static struct dest *domain_of(struct job *j, const char *addr, size_t len)
{
    char dom[DEST_KEY_MAX + 1];
    if (!rcpt_domain(addr, len, dom, sizeof dom))
        return NULL;
    return dest_get(j->direct ? &j->direct->domains : &j->domains, dom, strlen(dom));
}

void flow_on_event(void *user, const struct smtpreply_event *ev)
{
    struct flow *f = user;
    struct summary *s = flow_summary(f);
    if (s == NULL)
        return;
    /* Only the set bits: most events carry none. */
    for (smtpreply_anomaly_set set = ev->anomalies; set; set &= set - 1) {
        unsigned i = (unsigned)__builtin_ctzll((unsigned long long)set);
        if (i < SMTPREPLY_ANOM__COUNT)
            s->anomalies[i]++;
    }
    switch (ev->type) {
    case SMTPREPLY_EV_COMMAND:
        s->commands++;
        f->last_cmd_starttls = ev->cmd.cmd == SMTPREPLY_CMD_STARTTLS;
        if (ev->cmd.cmd == SMTPREPLY_CMD_RCPT && ev->text) {
            const char *addr;
            size_t alen;
            struct dest *d;
            if (rcpt_from_command(ev->text, ev->text_len, &addr, &alen) &&
                (d = domain_of(f->job, addr, alen)) != NULL)
                d->rcpts++;
        }
        break;
    case SMTPREPLY_EV_REPLY:
        s->replies++;
        count_add(&s->codes, ev->code, 1);
        if (ev->has_esc)
            count_add(&s->enhanced, esc_key(&ev->esc), 1);
        if (ev->rt_us >= 0) {
            int64_t us = ev->rt_us;
            if (s->rt_n == 0 || us < s->rt_min_us)
                s->rt_min_us = us;
            if (s->rt_n == 0 || us > s->rt_max_us)
                s->rt_max_us = us;
            /* A bounded sample: the median is exact up to RT_SAMPLES
             * timed replies per session; past that, each later reply
             * replaces a deterministic slot (still bounded memory). */
            size_t slot = (size_t)(s->rt_n % RT_SAMPLES);
            if (slot >= f->rt_cap) {
                uint32_t cap = f->rt_cap ? f->rt_cap * 2 : 16;
                if (cap > RT_SAMPLES)
                    cap = RT_SAMPLES;
                int64_t *v = realloc(f->rt, cap * sizeof *v);
                if (v != NULL) {
                    f->rt = v;
                    f->rt_cap = cap;
                }
            }
            if (slot < f->rt_cap)
                f->rt[slot] = us;
            s->rt_n++;
        }
        {
            enum smtpreply_cmd rcmd = smtpreply_reply_cmd(ev->has_cmd, ev->cmd.cmd, ev->stage);
            struct smtpreply_reason_info ri = {0};
            if (ev->code >= 400 && ev->code < 600) {
                smtpreply_reason_classify(ev->code, ev->has_esc ? &ev->esc : NULL, rcmd,
                                          ev->full_text, ev->full_text ? ev->full_text_len : 0,
                                          &ri);
                if (ri.reason != SMTPREPLY_REASON_NONE)
                    count_add(&s->reasons, (uint32_t)ri.reason, 1);
            }
            /* The text report shows failures: a note per reason. */
            char note[NOTE_TEXT + 4] = "";
            if (ri.reason != SMTPREPLY_REASON_NONE && f->job->opt->format == FMT_TEXT &&
                !f->job->opt->replies)
                fail_note(f->job, s, ev, &ri, note);
            struct dest *d;
            if (ev->rcpt && (d = domain_of(f->job, ev->rcpt, ev->rcpt_len)) != NULL) {
                d->replies++;
                count_add(&d->codes, ev->code, 1);
                if (ri.reason != SMTPREPLY_REASON_NONE) {
                    count_add(&d->reasons, (uint32_t)ri.reason, 1);
                    if (note[0])
                        dest_example(d, ri.reason, note);
                }
            }
            if (ev->stage == SMTPREPLY_STAGE_GREETING && ev->code == 220 && s->name[0] == 0)
                greeting_name(s, ev);
            if (f->job->opt->replies) {
                struct job *j = f->job;
                struct shown sh = {ev->full_text ? ev->full_text : "", ev->rcpt,
                                   ev->full_text ? ev->full_text_len : 0, ev->rcpt_len};
                if (j->opt->redact) {
                    sh.text = redacted(&j->red_text, sh.text, sh.text_len, &sh.text_len);
                    if (sh.rcpt)
                        sh.rcpt = redacted(&j->red_rcpt, sh.rcpt, sh.rcpt_len, &sh.rcpt_len);
                }
                if (j->opt->format == FMT_CSV)
                    reply_line_csv(j, f, ev, &ri, &sh);
                else
                    reply_line_json(j, f, ev, rcmd, &ri, &sh);
            }
        }
        break;
    case SMTPREPLY_EV_UNANSWERED:
        s->unanswered++;
        break;
    case SMTPREPLY_EV_TLS:
        if (f->last_cmd_starttls)
            s->starttls = true;
        else
            s->implicit_tls = true;
        tls_flow_started(f);
        break;
    case SMTPREPLY_EV_ANOMALY:
        break;
    }
}
