/* SPDX-License-Identifier: MIT */
/*
 * cmd_transcript.c - `smtpreply transcript [--json] FILE|-`: annotate a
 * plain-text SMTP dialogue (RFC "C:/S:" style or swaks output).
 *
 * Every dialogue line is fed to the session engine as its text + CRLF,
 * with the line number as the chunk tag, so each reply can be shown under
 * the command it answers with its meaning, class, anomalies and, for a
 * failure, its reason and advice; each mail transaction ends with a
 * summary of its recipients.  Lines that look like dialogue but are not
 * (a lower-case "c:") are noted where they stand.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "cli.h"
#include "kbfmt.h"
#include "smtpreply.h"
#include "transcript.h"

/* One event kept for printing (texts copied, redacted with --redact: the
 * engine's are transient), or a skipped line (warning != NONE). */
struct item {
    enum smtpreply_event_type type;
    bool virtual_data_end; /* the "." line, placed where the client sent it */
    enum smtpreply_tline_warning warning;
    struct smtpreply_event ev;
    char *text; /* command line, or the skipped line */
    size_t text_len;
    char *full; /* REPLY: every line's text, joined with '\n' */
    size_t full_len;
    char *rcpt; /* REPLY to RCPT / PRDR: the recipient */
    size_t rcpt_len;
    enum smtpreply_cmd rcmd; /* the command as the classifier reads it */
    struct smtpreply_reason_info why;
};

struct run {
    struct item *items;
    size_t n, cap;
    bool oom;
    bool redact;
};

/* A NUL-terminated copy of s[0..n), redacted when asked. */
static char *keep(struct run *r, const char *s, size_t n, size_t *out_len)
{
    *out_len = 0;
    if (!s)
        return NULL;
    size_t cap = r->redact ? SMTPREPLY_REDACT_CAP(n) : n + 1;
    char *p = malloc(cap);
    if (!p) {
        r->oom = true;
        return NULL;
    }
    if (r->redact) {
        *out_len = smtpreply_redact(s, n, p, cap, NULL);
    } else {
        memcpy(p, s, n);
        p[n] = 0;
        *out_len = n;
    }
    return p;
}

static struct item *new_item(struct run *r)
{
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 64;
        struct item *ni = realloc(r->items, ncap * sizeof *ni);
        if (!ni) {
            r->oom = true;
            return NULL;
        }
        r->items = ni;
        r->cap = ncap;
    }
    struct item *it = &r->items[r->n++];
    memset(it, 0, sizeof *it);
    return it;
}

static void on_event(void *user, const struct smtpreply_event *ev)
{
    struct run *r = user;
    struct item *it = new_item(r);
    if (!it)
        return;
    it->type = ev->type;
    it->ev = *ev;
    it->ev.text = NULL;
    it->ev.full_text = NULL;
    it->ev.rcpt = NULL;
    if (ev->type != SMTPREPLY_EV_REPLY) {
        it->text = keep(r, ev->text, ev->text_len, &it->text_len);
        return;
    }
    it->full = keep(r, ev->full_text ? ev->full_text : "", ev->full_text_len, &it->full_len);
    it->rcpt = keep(r, ev->rcpt, ev->rcpt_len, &it->rcpt_len);
    it->rcmd = smtpreply_reply_cmd(ev->has_cmd, ev->cmd.cmd, ev->stage);
    /* The reason is read from the text as sent, not the redacted copy. */
    smtpreply_reason_classify(ev->code, ev->has_esc ? &ev->esc : NULL, it->rcmd, ev->full_text,
                              ev->full_text ? ev->full_text_len : 0, &it->why);
}

static void on_warning(void *user, uint64_t line, enum smtpreply_tline_warning w,
                       const char *text, size_t len)
{
    struct run *r = user;
    struct item *it = new_item(r);
    if (!it)
        return;
    it->warning = w;
    it->ev.tag = line;
    it->text = keep(r, text, len, &it->text_len);
}

static int read_all(const char *path, char **out, size_t *out_len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return errno ? errno : EIO;
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    int err = 0;
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f))
                err = errno ? errno : EIO;
            break;
        }
        if (len == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (f != stdin)
        fclose(f);
    if (!buf)
        return ENOMEM;
    if (err) {
        free(buf);
        return err;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

enum { OPT_JSON = CLI_FIRST_ID, OPT_FORMAT, OPT_REDACT };

static const struct cli_option options[] = {
    {OPT_FORMAT, "--format", NULL, "text|json",
     "text (default) or one JSON object:\n"
     "{\"replies\": [...], \"unanswered\": [...], \"anomalies\": [...],\n"
     " \"transactions\": [...], \"warnings\": [...], \"encrypted\": B}",
     0},
    {OPT_JSON, "--json", NULL, NULL, "same as --format json", 0},
    {OPT_REDACT, "--redact", NULL, NULL,
     "replace the local part of every mail address (in\n"
     "commands, reply texts and recipients) with a short\n"
     "stable hash (h-XXXXXXXX); domains stay",
     0},
    {0, "--", NULL, NULL, "the argument after it is the dialogue,\neven if it starts with -",
     CLI_DOC_ONLY},
    CLI_OPT_HELP,
    CLI_OPT_VERSION,
    {0, NULL, NULL, NULL, NULL, 0},
};

static const struct cli_spec spec = {"smtpreply transcript", options, "option", false, "try", 22};

static void usage(FILE *out)
{
    fprintf(out, "Usage: smtpreply transcript [--json|--format text|json] [--redact] FILE|-\n"
                 "\n"
                 "Annotates a plain-text SMTP dialogue: each reply under the command it\n"
                 "answers, with its meaning, class and anomalies; each failure (4xx, 5xx)\n"
                 "with its reason and advice; each mail transaction closed by a summary of\n"
                 "its recipients (accepted, deferred, refused, and why).  Formats:\n"
                 "  RFC style  'C: EHLO x' / 'S: 250 ok' (each line stands for text + CRLF;\n"
                 "             a client line may end in '<CRLF>' notation, a reply's text\n"
                 "             is kept whole)\n"
                 "  swaks      its output: ' -> ', '<-  ', ' ~> ', '<~  ', '**> ', '<** ' ...\n"
                 "             ('===', '***' and --show-raw-text dumps are not dialogue)\n"
                 "Other lines (blank, '#' comments, prose) are ignored.  A line that looks\n"
                 "like dialogue but is not (a lower-case 'c:' or 's:', a reply or command\n"
                 "without its prefix) is ignored with a warning in the output: a '?' note\n"
                 "where it stands, or an entry of \"warnings\" in the JSON.\n"
                 "\n");
    cli_print_options(out, &spec, false);
    fprintf(out, "\n"
                 "Exit status: 0 annotated, 2 usage error, unreadable file or no dialogue.\n");
}

static json_t *anomaly_array(smtpreply_anomaly_set set)
{
    json_t *a = json_array();
    for (unsigned i = 0; i < SMTPREPLY_ANOM__COUNT; i++)
        if (set & ((smtpreply_anomaly_set)1u << i))
            json_array_append_new(a,
                                  json_string(smtpreply_anomaly_name((enum smtpreply_anomaly)i)));
    return a;
}

static const char *class_name(unsigned code)
{
    struct smtpreply_code_info info;
    if (smtpreply_code_explain(code, &info) && info.class_name)
        return info.class_name;
    return "";
}

static const char *meaning(const struct item *it)
{
    return smtpreply_reply_meaning(it->rcmd, it->ev.code, it->ev.has_esc ? &it->ev.esc : NULL);
}

/* ---- Transactions: MAIL up to the end of its message, RSET, the next
 * MAIL, EHLO/HELO (RFC 5321 §4.1.4) or QUIT ---- */

enum rstatus { RS_ACCEPTED, RS_DEFERRED, RS_REFUSED, RS_UNANSWERED, RS_NOT_SENT };
static const char *const rstatus_name[] = {"accepted", "deferred", "refused", "unanswered",
                                           "not-sent"};

struct trans {
    size_t mail;         /* item of the MAIL command */
    size_t close;        /* item of the command that closed it, or SIZE_MAX */
    size_t message;      /* item of the message's final reply, or SIZE_MAX */
    size_t data_refused; /* item of a failed DATA / BDAT reply, or SIZE_MAX */
    uint64_t lo, hi;     /* command sequence numbers it covers: [lo, hi) */
    size_t end;          /* items [mail, end) hold all its replies */
    bool printed;
};

static bool closes(enum smtpreply_cmd c)
{
    return c == SMTPREPLY_CMD_MAIL || c == SMTPREPLY_CMD_RSET || c == SMTPREPLY_CMD_QUIT ||
           c == SMTPREPLY_CMD_EHLO || c == SMTPREPLY_CMD_HELO;
}

/* Is the BDAT command that reply item i answers the last chunk?  The
 * command's event comes before its reply. */
static bool is_bdat_last(const struct run *r, size_t i)
{
    uint64_t seq = r->items[i].ev.cmd.seq;
    while (i-- > 0) {
        const struct item *it = &r->items[i];
        if (it->type == SMTPREPLY_EV_COMMAND && !it->warning && !it->virtual_data_end &&
            it->ev.cmd.seq == seq)
            return it->ev.cmd.cmd == SMTPREPLY_CMD_BDAT && it->text_len >= 5 &&
                   strncasecmp(it->text + it->text_len - 5, " LAST", 5) == 0;
    }
    return false;
}

/* The transaction (index into t[0..n), sorted by lo) whose range holds
 * command sequence number seq, or SIZE_MAX. */
static size_t trans_of(const struct trans *t, size_t n, uint64_t seq)
{
    size_t lo = 0, hi = n;
    while (lo < hi) { /* first with t.lo > seq */
        size_t mid = lo + (hi - lo) / 2;
        if (t[mid].lo <= seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && seq < t[lo - 1].hi ? lo - 1 : SIZE_MAX;
}

/* Fills t[] (at most cap) from the items; returns how many.  Linear but
 * for a binary search per reply. */
static size_t find_transactions(const struct run *r, struct trans *t, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct item *it = &r->items[i];
        if (it->type != SMTPREPLY_EV_COMMAND || it->warning || it->virtual_data_end ||
            !closes(it->ev.cmd.cmd))
            continue;
        if (n > 0 && t[n - 1].close == SIZE_MAX) {
            t[n - 1].close = i;
            t[n - 1].hi = it->ev.cmd.seq;
        }
        if (it->ev.cmd.cmd == SMTPREPLY_CMD_MAIL && n < cap) {
            t[n] = (struct trans){i,          SIZE_MAX, SIZE_MAX, SIZE_MAX, it->ev.cmd.seq,
                                  UINT64_MAX, i + 1,    false};
            n++;
        }
    }
    for (size_t i = 0; i < r->n; i++) {
        const struct item *it = &r->items[i];
        if (it->type != SMTPREPLY_EV_REPLY || it->warning || !it->ev.has_cmd)
            continue;
        size_t k = trans_of(t, n, it->ev.cmd.seq);
        if (k == SIZE_MAX)
            continue;
        t[k].end = i + 1;
        unsigned cls = it->ev.code / 100;
        if (it->ev.stage == SMTPREPLY_STAGE_DATA_END ||
            (it->ev.stage == SMTPREPLY_STAGE_BDAT && (cls >= 4 || is_bdat_last(r, i))))
            t[k].message = i;
        else if (it->ev.stage == SMTPREPLY_STAGE_DATA_START && cls >= 4)
            t[k].data_refused = i;
    }
    return n;
}

/* The outcome of one RCPT reply's recipient in transaction t; *by gets the
 * item whose reply decided it (SIZE_MAX: none). */
static enum rstatus recipient_status(const struct run *r, const struct trans *t, size_t rc,
                                     size_t *by)
{
    const struct item *rcpt = &r->items[rc];
    unsigned cls = rcpt->ev.code / 100;
    *by = rc;
    if (cls == 4)
        return RS_DEFERRED;
    if (cls == 5)
        return RS_REFUSED;
    /* PRDR: the recipient's own reply to the data decides. */
    for (size_t i = rc + 1; rcpt->rcpt && i < t->end; i++) {
        const struct item *it = &r->items[i];
        if (it->type == SMTPREPLY_EV_REPLY && !it->warning &&
            it->ev.stage == SMTPREPLY_STAGE_PRDR_RCPT && it->ev.has_cmd &&
            it->ev.cmd.seq >= t->lo && it->ev.cmd.seq < t->hi && it->rcpt &&
            it->rcpt_len == rcpt->rcpt_len && memcmp(it->rcpt, rcpt->rcpt, it->rcpt_len) == 0) {
            *by = i;
            cls = it->ev.code / 100;
            return cls == 2 ? RS_ACCEPTED : cls == 4 ? RS_DEFERRED : RS_REFUSED;
        }
    }
    if (t->message != SIZE_MAX) {
        *by = t->message;
        cls = r->items[t->message].ev.code / 100;
        return cls == 2 ? RS_ACCEPTED : cls == 4 ? RS_DEFERRED : RS_REFUSED;
    }
    *by = t->data_refused;
    return RS_NOT_SENT;
}

static bool is_rcpt_reply(const struct item *it, const struct trans *t)
{
    return it->type == SMTPREPLY_EV_REPLY && !it->warning && it->ev.has_cmd &&
           it->ev.cmd.cmd == SMTPREPLY_CMD_RCPT && it->ev.cmd.seq >= t->lo &&
           it->ev.cmd.seq < t->hi;
}

static const char *closed_by(const struct run *r, const struct trans *t)
{
    if (t->message != SIZE_MAX)
        return "end of data";
    if (t->close != SIZE_MAX)
        return r->items[t->close].ev.cmd.verb;
    return "end of dialogue";
}

static json_t *reply_brief(const struct item *it)
{
    json_t *o = json_object();
    char esc[16];
    json_object_set_new(o, "code", json_integer(it->ev.code));
    json_object_set_new(o, "enhanced",
                        it->ev.has_esc
                            ? json_string(smtpreply_esc_format(&it->ev.esc, esc, sizeof esc))
                            : json_null());
    json_object_set_new(o, "reason", it->why.name ? json_string(it->why.name) : json_null());
    json_object_set_new(o, "line", json_integer((json_int_t)it->ev.tag));
    return o;
}

static json_t *transactions_json(const struct run *r, const struct trans *t, size_t nt)
{
    json_t *a = json_array();
    for (size_t k = 0; k < nt; k++) {
        json_t *o = json_object(), *rc = json_array();
        json_object_set_new(o, "line", json_integer((json_int_t)r->items[t[k].mail].ev.tag));
        json_object_set_new(o, "closed_by", json_string(closed_by(r, &t[k])));
        for (size_t i = t[k].mail; i < t[k].end; i++) {
            size_t by;
            if (!is_rcpt_reply(&r->items[i], &t[k]))
                continue;
            enum rstatus st = recipient_status(r, &t[k], i, &by);
            json_t *x = json_object();
            const struct item *it = &r->items[i];
            json_object_set_new(x, "rcpt",
                                it->rcpt ? kbfmt_string_lossy(it->rcpt, it->rcpt_len)
                                         : json_null());
            json_object_set_new(x, "status", json_string(rstatus_name[st]));
            json_object_set_new(x, "reply",
                                by == SIZE_MAX ? json_null() : reply_brief(&r->items[by]));
            json_array_append_new(rc, x);
        }
        json_object_set_new(o, "recipients", rc);
        json_object_set_new(o, "message",
                            t[k].message == SIZE_MAX ? json_null()
                                                     : reply_brief(&r->items[t[k].message]));
        json_array_append_new(a, o);
    }
    return a;
}

static void print_transaction(const struct run *r, struct trans *t)
{
    unsigned count[5] = {0}, any = 0;
    size_t by;
    t->printed = true;
    for (size_t i = t->mail; i < t->end; i++)
        if (is_rcpt_reply(&r->items[i], t))
            count[recipient_status(r, t, i, &by)]++;
    printf("  == transaction from line %llu, closed by %s:",
           (unsigned long long)r->items[t->mail].ev.tag, closed_by(r, t));
    for (int s = 0; s < 5; s++)
        if (count[s])
            printf("%s %u %s", any++ ? "," : "", count[s], rstatus_name[s]);
    if (!any)
        printf(" no recipients");
    printf("\n");
    for (size_t i = t->mail; i < t->end; i++) {
        if (!is_rcpt_reply(&r->items[i], t))
            continue;
        const struct item *rc = &r->items[i];
        enum rstatus st = recipient_status(r, t, i, &by);
        printf("     %-10s ", rstatus_name[st]);
        if (rc->rcpt)
            kbfmt_print_text(stdout, rc->rcpt, rc->rcpt_len);
        else
            printf("(recipient not known)");
        if (by != SIZE_MAX && r->items[by].why.name) {
            char esc[16] = "";
            const struct item *b = &r->items[by];
            if (b->ev.has_esc)
                smtpreply_esc_format(&b->ev.esc, esc, sizeof esc);
            printf(": %s (%03u%s%s, line %llu)", b->why.name, b->ev.code, *esc ? " " : "", esc,
                   (unsigned long long)b->ev.tag);
        }
        printf("\n");
    }
    if (t->message != SIZE_MAX) {
        const struct item *m = &r->items[t->message];
        printf("     message    %03u %s%s%s\n", m->ev.code,
               m->ev.code / 100 == 2   ? "accepted"
               : m->ev.code / 100 == 4 ? "deferred"
                                       : "refused",
               m->why.name ? ": " : "", m->why.name ? m->why.name : "");
    } else {
        printf("     message    not sent\n");
    }
}

/* An entry of the top-level "anomalies": one that belongs to no reply. */
static json_t *lone_anomaly(enum smtpreply_anomaly a, enum smtpreply_dir dir, uint64_t line)
{
    json_t *o = json_object();
    json_object_set_new(o, "anomaly", json_string(smtpreply_anomaly_name(a)));
    json_object_set_new(o, "side",
                        json_string(dir == SMTPREPLY_DIR_CLIENT ? "client" : "server"));
    json_object_set_new(o, "line", json_integer((json_int_t)line));
    return o;
}

static const char *warning_text(enum smtpreply_tline_warning w)
{
    switch (w) {
    case SMTPREPLY_TWARN_LOWER_PREFIX:
        return "the prefixes are upper case, \"C:\" and \"S:\"";
    case SMTPREPLY_TWARN_BARE_REPLY:
        return "a reply line without \"S:\"";
    case SMTPREPLY_TWARN_BARE_COMMAND:
        return "a command without \"C:\"";
    case SMTPREPLY_TWARN_NONE:
        break;
    }
    return "";
}

static int print_json(const struct run *r, bool encrypted, const struct trans *t, size_t nt)
{
    json_t *root = json_object();
    json_t *replies = json_array();
    json_t *unanswered = json_array();
    json_t *others = json_array();
    json_t *warnings = json_array();
    for (size_t i = 0; i < r->n; i++) {
        const struct item *it = &r->items[i];
        const struct smtpreply_event *ev = &it->ev;
        if (it->warning) {
            json_t *o = json_object();
            json_object_set_new(o, "line", json_integer((json_int_t)ev->tag));
            json_object_set_new(o, "warning",
                                json_string(smtpreply_tline_warning_name(it->warning)));
            json_object_set_new(o, "text",
                                kbfmt_string_lossy(it->text ? it->text : "", it->text_len));
            json_array_append_new(warnings, o);
        } else if (it->type == SMTPREPLY_EV_REPLY) {
            json_t *o = json_object();
            json_object_set_new(o, "command",
                                ev->has_cmd ? json_string(ev->cmd.verb) : json_null());
            json_object_set_new(o, "code", json_integer(ev->code));
            if (ev->has_esc) {
                char esc[16];
                struct smtpreply_esc_info ei;
                smtpreply_esc_explain(&ev->esc, &ei);
                json_object_set_new(o, "enhanced",
                                    json_string(smtpreply_esc_format(&ev->esc, esc, sizeof esc)));
                json_object_set_new(o, "enhanced_meaning",
                                    json_string(ei.meaning ? ei.meaning : ""));
            } else {
                json_object_set_new(o, "enhanced", json_null());
            }
            json_object_set_new(o, "class", json_integer(ev->code / 100));
            json_object_set_new(o, "class_name", json_string(class_name(ev->code)));
            json_object_set_new(o, "meaning", json_string(meaning(it)));
            json_object_set_new(o, "anomalies", anomaly_array(ev->anomalies));
            json_object_set_new(o, "stage", json_string(smtpreply_stage_name(ev->stage)));
            json_object_set_new(o, "lines", json_integer(ev->nlines));
            json_object_set_new(o, "text",
                                kbfmt_string_lossy(it->full ? it->full : "", it->full_len));
            json_object_set_new(o, "reason",
                                it->why.name ? json_string(it->why.name) : json_null());
            json_object_set_new(o, "reason_source",
                                it->why.source_name ? json_string(it->why.source_name)
                                                    : json_null());
            json_object_set_new(o, "rcpt",
                                it->rcpt ? kbfmt_string_lossy(it->rcpt, it->rcpt_len)
                                         : json_null());
            json_object_set_new(o, "line", json_integer((json_int_t)ev->tag));
            json_object_set_new(o, "first_line", json_integer((json_int_t)ev->first_tag));
            if (ev->has_cmd)
                json_object_set_new(o, "command_line", json_integer((json_int_t)ev->cmd.tag));
            json_array_append_new(replies, o);
        } else if (it->type == SMTPREPLY_EV_UNANSWERED) {
            json_array_append_new(unanswered, json_string(ev->cmd.verb));
        } else if (it->type == SMTPREPLY_EV_COMMAND && !it->virtual_data_end) {
            /* A command's own anomalies (too long, pipelined after a command
             * that must end the group) belong to no reply: list them here. */
            for (unsigned a = 0; a < SMTPREPLY_ANOM__COUNT; a++) {
                if (!(ev->anomalies & ((smtpreply_anomaly_set)1u << a)))
                    continue;
                json_t *o =
                    lone_anomaly((enum smtpreply_anomaly)a, SMTPREPLY_DIR_CLIENT, ev->tag);
                json_object_set_new(o, "command", json_string(ev->cmd.verb));
                json_array_append_new(others, o);
            }
        } else if (it->type == SMTPREPLY_EV_ANOMALY) {
            json_array_append_new(others, lone_anomaly(ev->anomaly, ev->dir, ev->tag));
        }
    }
    json_object_set_new(root, "replies", replies);
    json_object_set_new(root, "unanswered", unanswered);
    json_object_set_new(root, "anomalies", others);
    json_object_set_new(root, "transactions", transactions_json(r, t, nt));
    json_object_set_new(root, "warnings", warnings);
    json_object_set_new(root, "encrypted", json_boolean(encrypted));
    int rc = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    fputc('\n', stdout);
    json_decref(root);
    return rc == 0 ? EXIT_OK : EXIT_USAGE;
}

static void print_anomalies(smtpreply_anomaly_set set, const char *indent)
{
    for (unsigned i = 0; i < SMTPREPLY_ANOM__COUNT; i++)
        if (set & ((smtpreply_anomaly_set)1u << i))
            printf("%s! %s: %s\n", indent, smtpreply_anomaly_name((enum smtpreply_anomaly)i),
                   smtpreply_anomaly_description((enum smtpreply_anomaly)i));
}

/* Every line of the reply, as "S: 250-text" ... "S: 250 text". */
static void print_reply_lines(const struct item *it)
{
    const char *p = it->full ? it->full : "";
    size_t left = it->full_len;
    for (;;) {
        const char *nl = memchr(p, '\n', left);
        size_t l = nl ? (size_t)(nl - p) : left;
        printf("    S: %03u%c", it->ev.code, nl ? '-' : ' ');
        kbfmt_print_text(stdout, p, l);
        if (!nl)
            break;
        printf("\n");
        p += l + 1;
        left -= l + 1;
    }
    if (it->ev.full_text_cut)
        printf("   (text cut)");
    printf("\n");
}

static void print_reply(const struct item *it)
{
    const struct smtpreply_event *ev = &it->ev;
    char esc[16] = "";
    if (ev->has_esc)
        smtpreply_esc_format(&ev->esc, esc, sizeof esc);
    print_reply_lines(it);
    printf("       %s: %s\n", smtpreply_stage_name(ev->stage), meaning(it));
    printf("       class %u, %s\n", ev->code / 100, class_name(ev->code));
    if (ev->has_esc) {
        struct smtpreply_esc_info ei;
        smtpreply_esc_explain(&ev->esc, &ei);
        printf("       enhanced %s: %s\n", esc, ei.meaning ? ei.meaning : "");
    }
    if (it->why.name) {
        static const char *const by[] = {"", "the reply text", "the enhanced code",
                                         "the code and the command"};
        printf("       reason %s (%s; decided by %s; to act: %s)\n", it->why.name,
               it->why.permanent ? "permanent" : "temporary",
               (unsigned)it->why.source < 4 ? by[it->why.source] : "", it->why.party_name);
        printf("       advice: %s\n", it->why.advice);
    }
    print_anomalies(ev->anomalies, "       ");
}

/* Replies appear under the command they answer; the greeting, unsolicited
 * replies, lone anomalies, skipped lines and TLS appear where they
 * happened; a transaction's summary follows its end of data, or comes
 * before the command that closed it. */
static bool is_cmd_reply(const struct item *it)
{
    return it->type == SMTPREPLY_EV_REPLY && !it->warning && it->ev.has_cmd;
}

/* Replies by the sequence number of their command, in event order. */
struct byseq {
    uint64_t seq;
    size_t i;
};

static int cmp_byseq(const void *pa, const void *pb)
{
    const struct byseq *a = pa, *b = pb;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

static void print_text(const struct run *r, struct trans *t, size_t nt)
{
    /* Without memory for the index, each command scans every item. */
    struct byseq *idx = malloc((r->n + 1) * sizeof *idx);
    size_t nidx = 0, kc = 0, km = 0;
    for (size_t i = 0; idx && i < r->n; i++)
        if (is_cmd_reply(&r->items[i]))
            idx[nidx++] = (struct byseq){r->items[i].ev.cmd.seq, i};
    if (idx)
        qsort(idx, nidx, sizeof *idx, cmp_byseq);
    for (size_t i = 0; i < r->n; i++) {
        const struct item *it = &r->items[i];
        const struct smtpreply_event *ev = &it->ev;
        if (it->warning) {
            printf("? line %llu ignored (%s: %s): ", (unsigned long long)ev->tag,
                   smtpreply_tline_warning_name(it->warning), warning_text(it->warning));
            if (it->text)
                kbfmt_print_text(stdout, it->text, it->text_len);
            printf("\n");
            continue;
        }
        switch (it->type) {
        case SMTPREPLY_EV_COMMAND:
            /* Transactions close in item order, one per closing command. */
            while (kc < nt && t[kc].close < i)
                kc++;
            if (kc < nt && t[kc].close == i && !t[kc].printed)
                print_transaction(r, &t[kc]);
            if (it->virtual_data_end) {
                printf("C: .   (end of message data)   [line %llu]\n",
                       (unsigned long long)ev->cmd.tag);
            } else {
                printf("C: ");
                if (it->text)
                    kbfmt_print_text(stdout, it->text, it->text_len);
                printf("   [line %llu]\n", (unsigned long long)ev->tag);
            }
            print_anomalies(ev->anomalies, "    ");
            if (idx) {
                size_t lo = 0, hi = nidx;
                while (lo < hi) { /* first entry with this sequence number */
                    size_t mid = lo + (hi - lo) / 2;
                    if (idx[mid].seq < ev->cmd.seq)
                        lo = mid + 1;
                    else
                        hi = mid;
                }
                for (; lo < nidx && idx[lo].seq == ev->cmd.seq; lo++)
                    print_reply(&r->items[idx[lo].i]);
            } else {
                for (size_t j = 0; j < r->n; j++)
                    if (is_cmd_reply(&r->items[j]) && r->items[j].ev.cmd.seq == ev->cmd.seq)
                        print_reply(&r->items[j]);
            }
            /* Messages end in sequence order too. */
            while (km < nt && (t[km].message == SIZE_MAX ||
                               r->items[t[km].message].ev.cmd.seq < ev->cmd.seq))
                km++;
            if (km < nt && !t[km].printed && r->items[t[km].message].ev.cmd.seq == ev->cmd.seq &&
                (it->virtual_data_end || ev->cmd.cmd == SMTPREPLY_CMD_BDAT))
                print_transaction(r, &t[km]);
            break;
        case SMTPREPLY_EV_REPLY:
            if (!ev->has_cmd) {
                printf("%s   [line %llu]\n",
                       ev->stage == SMTPREPLY_STAGE_GREETING ? "(greeting)" : "(unsolicited)",
                       (unsigned long long)ev->tag);
                print_reply(it);
            }
            break;
        case SMTPREPLY_EV_UNANSWERED:
            printf("unanswered: %s   [line %llu]\n", ev->cmd.verb,
                   (unsigned long long)ev->cmd.tag);
            break;
        case SMTPREPLY_EV_ANOMALY:
            printf("! %s (%s, line %llu): %s\n", smtpreply_anomaly_name(ev->anomaly),
                   ev->dir == SMTPREPLY_DIR_CLIENT ? "client" : "server",
                   (unsigned long long)ev->tag, smtpreply_anomaly_description(ev->anomaly));
            break;
        case SMTPREPLY_EV_TLS:
            printf("-- TLS from here on (line %llu): the rest is encrypted --\n",
                   (unsigned long long)ev->tag);
            break;
        }
    }
    for (size_t k = 0; k < nt; k++)
        if (!t[k].printed)
            print_transaction(r, &t[k]);
    free(idx);
}

/* The end of data has no COMMAND event: place a virtual one before the
 * first command the client sent after it (sequence numbers say where),
 * one per end of data however many replies answer it (PRDR: 353, one per
 * recipient, then the message's).  Two passes, linear: where each goes,
 * then one merge into a new array. */
static void place_data_ends(struct run *r)
{
    size_t *at = NULL, *src = NULL, na = 0, from = 0;
    uint64_t last = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct item *it = &r->items[i];
        if (it->type != SMTPREPLY_EV_REPLY || it->warning || !it->ev.has_cmd ||
            it->ev.cmd.cmd != SMTPREPLY_CMD_DATA_END || (na > 0 && it->ev.cmd.seq <= last))
            continue;
        uint64_t seq = last = it->ev.cmd.seq;
        size_t pos = i;
        for (size_t j = from; j < i; j++)
            if (r->items[j].type == SMTPREPLY_EV_COMMAND && !r->items[j].warning &&
                r->items[j].ev.cmd.seq > seq) {
                pos = j;
                break;
            }
        from = pos;
        if (!at) {
            at = malloc(r->n * sizeof *at);
            src = malloc(r->n * sizeof *src);
            if (!at || !src) {
                r->oom = true;
                break;
            }
        }
        at[na] = pos;
        src[na++] = i;
    }
    struct item *ni = r->oom || na == 0 ? NULL : malloc((r->n + na) * sizeof *ni);
    if (na > 0 && !r->oom && !ni)
        r->oom = true;
    if (ni) {
        size_t out = 0, a = 0;
        for (size_t k = 0; k <= r->n; k++) {
            for (; a < na && at[a] == k; a++) {
                struct item *v = &ni[out++];
                memset(v, 0, sizeof *v);
                v->type = SMTPREPLY_EV_COMMAND;
                v->virtual_data_end = true;
                v->ev.type = SMTPREPLY_EV_COMMAND;
                v->ev.has_cmd = true;
                v->ev.cmd = r->items[src[a]].ev.cmd;
            }
            if (k < r->n)
                ni[out++] = r->items[k];
        }
        free(r->items);
        r->items = ni;
        r->n = r->cap = out;
    }
    free(at);
    free(src);
}

int cmd_transcript(int argc, char **argv)
{
    bool json = false, redact = false;
    const char *path = NULL;
    struct cli_parser cp;
    int id;
    cli_init(&cp, &spec, argc, argv);
    while ((id = cli_next(&cp)) != CLI_END) {
        static const char *const names[] = {"text", "json", NULL};
        int k;
        switch (id) {
        case CLI_ARG:
            if (path) {
                fprintf(stderr, "smtpreply transcript: one dialogue at a time (got %s and %s)\n",
                        path, cp.value);
                return EXIT_USAGE;
            }
            path = cp.value;
            break;
        case CLI_HELP:
            usage(stdout);
            return EXIT_OK;
        case CLI_VERSION:
            cli_print_version();
            return EXIT_OK;
        case OPT_JSON:
            json = true;
            break;
        case OPT_REDACT:
            redact = true;
            break;
        case OPT_FORMAT:
            k = cli_format("smtpreply transcript", cp.value, names);
            if (k < 0)
                return EXIT_USAGE;
            json = k == 1;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (!path) {
        fprintf(stderr, "smtpreply transcript: no dialogue given (a file, or - for standard "
                        "input; see smtpreply transcript --help)\n");
        return EXIT_USAGE;
    }

    char *buf = NULL;
    size_t len = 0;
    int err = read_all(path, &buf, &len);
    if (err) {
        fprintf(stderr, "smtpreply transcript: %s: %s\n", strcmp(path, "-") ? path : "stdin",
                strerror(err));
        return EXIT_USAGE;
    }

    struct run r;
    memset(&r, 0, sizeof r);
    r.redact = redact;
    struct smtpreply_transcript_result res;
    smtpreply_transcript_run_warn(buf, len, on_event, on_warning, &r, &res);
    free(buf);
    r.oom |= res.oom;

    int rc = EXIT_OK;
    if (res.dialogue == 0) {
        fprintf(stderr, "smtpreply transcript: %s: no dialogue lines (C:/S: or swaks) found\n",
                strcmp(path, "-") ? path : "stdin");
        rc = EXIT_USAGE;
    } else if (r.oom) {
        fprintf(stderr, "smtpreply transcript: out of memory\n");
        rc = EXIT_USAGE;
    } else {
        place_data_ends(&r);
        struct trans *t = r.oom ? NULL : malloc((r.n + 1) * sizeof *t);
        if (!t) {
            fprintf(stderr, "smtpreply transcript: out of memory\n");
            rc = EXIT_USAGE;
        } else {
            size_t nt = find_transactions(&r, t, r.n + 1);
            rc = json ? print_json(&r, res.encrypted, t, nt) : (print_text(&r, t, nt), EXIT_OK);
            free(t);
        }
    }
    for (size_t i = 0; i < r.n; i++) {
        free(r.items[i].text);
        free(r.items[i].full);
        free(r.items[i].rcpt);
    }
    free(r.items);
    return rc;
}
