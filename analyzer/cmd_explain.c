/* SPDX-License-Identifier: MIT */
/*
 * cmd_explain.c - `smtpreply explain [--format text|json] [--command VERB]
 * ARG...`: what a basic reply code, an enhanced status code or a whole
 * reply means, and why it failed.
 *
 * An ARG (or standard input, for "-") is a code, an enhanced code, or a
 * reply as people paste it: one line, a multi-line reply, transcript lines
 * with "S:" or "<-" prefixes, or a Postfix, Exim or Microsoft log line.
 * The core reads it (smtpreply_read_reply), gives the failure reason
 * (smtpreply_reason_classify) and the meaning that fits the reply and its
 * command (smtpreply_reply_meaning); this file only prints them.
 *
 * Any three-digit number is explained (invalid ones say so, exit 0).  An
 * argument that is none of these gets a one-line error on stderr; the good
 * arguments are still printed and the exit status is 2 (docs/contracts.md,
 * `smtpreply explain`).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "kb.h"
#include "kbfmt.h"
#include "smtpreply.h"

/* The most "-" reads from standard input: far above any real reply (RFC
 * 5321 §4.5.3.1.5 caps a reply line at 512 octets) or log excerpt, small
 * enough to hold in memory. */
#define EXPLAIN_STDIN_MAX (1u << 20)

/* What one argument turned out to be. */
struct explain_arg {
    const char *item; /* the argument (or standard input), blanks before
                                 it and line ends after it trimmed */
    size_t item_len;
    bool has_code; /* a basic code (alone or in a reply) */
    unsigned code;
    bool has_esc;
    struct smtpreply_esc esc;
    bool is_line; /* more than a bare code: a reply with text */
    char *text;   /* the reply's text, every line, joined with '\n'
                                 (owned); NULL when only a code was given */
    size_t text_len;
    unsigned nlines;
    bool has_cmd;             /* the command answered is known */
    bool cmd_from_item;       /* ... and the item named it */
    enum smtpreply_cmd cmd;   /* a verb, CONNECT or DATA_END */
    const char *bad_esc_note; /* text starts like an enhanced code but is not one */
    struct smtpreply_reason_info reason;
};

enum { OPT_JSON = CLI_FIRST_ID, OPT_FORMAT, OPT_COMMAND };

static const struct cli_option options[] = {
    {OPT_FORMAT, "--format", NULL, "FORMAT",
     "text (the default) or json: one JSON object per ARG (an array\n"
     "when there are several); also --format=FORMAT",
     0},
    {OPT_JSON, "--json", NULL, NULL, "the same as --format json", 0},
    {OPT_COMMAND, "--command", NULL, "VERB",
     "the command the replies answer: a verb (EHLO, MAIL, RCPT,\n"
     "DATA, BDAT, AUTH, STARTTLS, VRFY, ...; any case), '.' for\n"
     "the end of the message data, or 'greeting' for the\n"
     "connection greeting; overrides a command a log line names",
     0},
    CLI_OPT_DASHDASH("ARGs"),
    CLI_OPT_HELP,
    CLI_OPT_VERSION,
    {0, NULL, NULL, NULL, NULL, 0},
};

static const struct cli_spec spec = {"smtpreply explain", options, "option", false, "see", 14};

static void usage(FILE *out)
{
    fprintf(out, "Usage: smtpreply explain [--format text|json] [--command VERB] ARG...\n"
                 "\n"
                 "Explains SMTP replies and why they failed.  Each ARG is a basic reply\n"
                 "code (550), an enhanced status code (5.1.1), or a reply in quotes:\n"
                 "one line (\"550 5.1.1 <bob@example.org>: Recipient address rejected\"),\n"
                 "a multi-line reply (lines separated by LF or CRLF), transcript lines\n"
                 "with \"S:\" or \"<-\" prefixes (a \"C:\" or \"->\" line before it names the\n"
                 "command), or an MTA log line: Postfix (\"... said: 550 ... (in reply to\n"
                 "RCPT TO command)\"), Exim (\"SMTP error from remote mail server after\n"
                 "RCPT TO:<...>: 550 ...\", \"host H [IP]: 550 ...\") or Microsoft (\"Remote\n"
                 "Server returned '550 5.1.10 ...'\").  \"-\" reads standard input as one\n"
                 "ARG (at most 1 MiB).\n"
                 "\n"
                 "For each: the failure reason (a stable identifier), which layer decided\n"
                 "it (text, enhanced, code), whether it is permanent, which party must act\n"
                 "and advice; then class and category (RFC 5321 §4.2), the meaning that\n"
                 "fits the reply and its command, its status (standard, registry,\n"
                 "historic, non-standard, invalid, unassigned) with the RFC, the commands\n"
                 "that may return it, retry advice, the enhanced code's meaning (RFC 3463,\n"
                 "IANA registry), meanings specific to a command, and notes on folklore\n"
                 "meanings.  Without a command (from the ARG or --command) a code's reason\n"
                 "is the one its code alone gives.\n"
                 "\n"
                 "Options:\n");
    cli_print_options(out, &spec, false);
    fprintf(out, "\n"
                 "Exit status: 0 all explained; 2 an ARG was not a code or reply (the\n"
                 "others are still printed), standard input could not be read, or a\n"
                 "usage error.\n");
}

/* --command VERB: a verb the core knows, "." or "greeting"; false for
 * anything else, including the pseudo-commands' own names. */
static bool parse_command(const char *v, enum smtpreply_cmd *cmd)
{
    size_t len = strlen(v);
    if (strcmp(v, ".") == 0) {
        *cmd = SMTPREPLY_CMD_DATA_END;
        return true;
    }
    if (len == 8 && strncasecmp(v, "greeting", 8) == 0) {
        *cmd = SMTPREPLY_CMD_CONNECT;
        return true;
    }
    *cmd = smtpreply_cmd_from_verb(v, len);
    return *cmd != SMTPREPLY_CMD_UNKNOWN && *cmd != SMTPREPLY_CMD_CONNECT &&
           *cmd != SMTPREPLY_CMD_DATA_END && *cmd < SMTPREPLY_CMD__COUNT;
}

/* Reads standard input whole (at most EXPLAIN_STDIN_MAX bytes); NULL after
 * a one-line error naming it. */
static char *read_stdin(size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fprintf(stderr, "smtpreply explain: -: out of memory\n");
        return NULL;
    }
    for (;;) {
        size_t got;
        if (n == cap) {
            char *nb;
            if (cap > EXPLAIN_STDIN_MAX) {
                fprintf(stderr, "smtpreply explain: -: standard input is larger than %u bytes\n",
                        EXPLAIN_STDIN_MAX);
                free(buf);
                return NULL;
            }
            cap *= 2;
            nb = realloc(buf, cap);
            if (!nb) {
                fprintf(stderr, "smtpreply explain: -: out of memory\n");
                free(buf);
                return NULL;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, stdin);
        n += got;
        if (n > EXPLAIN_STDIN_MAX) {
            fprintf(stderr, "smtpreply explain: -: standard input is larger than %u bytes\n",
                    EXPLAIN_STDIN_MAX);
            free(buf);
            return NULL;
        }
        if (got == 0) {
            if (ferror(stdin)) {
                fprintf(stderr, "smtpreply explain: -: cannot read standard input: %s\n",
                        strerror(errno));
                free(buf);
                return NULL;
            }
            break;
        }
    }
    *len = n;
    return buf;
}

static bool all_digits(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return len > 0;
}

/* Does the reply's first line start like an enhanced code that breaks
 * RFC 3463 §2 ("5.01.1")?  The core's line parser decides, on the code
 * and the first line rebuilt. */
static bool first_line_bad_esc(unsigned code, const char *text, size_t len)
{
    char line[80];
    size_t n = 0;
    struct smtpreply_line l;
    n = (size_t)snprintf(line, sizeof line, "%03u ", code);
    for (size_t i = 0; i < len && text[i] != '\n' && n + 1 < sizeof line; i++)
        line[n++] = text[i];
    return smtpreply_parse_reply_line(line, n, &l) && l.bad_esc;
}

/* The reason of the argument: the core's classifier on what was read.  An
 * enhanced code alone has no basic code; it is classified with a code of
 * its class that no table names (X99), so that only the enhanced code
 * (and any text after it) decides, and when that has no say the reason is
 * `other`, still from the enhanced code. */
static void classify_reason(struct explain_arg *a)
{
    enum smtpreply_cmd cmd = a->has_cmd ? a->cmd : SMTPREPLY_CMD_UNKNOWN;
    if (a->has_code) {
        smtpreply_reason_classify(a->code, a->has_esc ? &a->esc : NULL, cmd, a->text,
                                  a->text ? a->text_len : 0, &a->reason);
        return;
    }
    smtpreply_reason_classify(a->esc.cls * 100u + 99u, &a->esc, cmd, a->text,
                              a->text ? a->text_len : 0, &a->reason);
    if (a->reason.source == SMTPREPLY_REASON_SOURCE_CODE) {
        a->reason.source = SMTPREPLY_REASON_SOURCE_ENHANCED;
        a->reason.source_name = smtpreply_reason_source_name(a->reason.source);
    }
}

/* Reads one item; false (with *why set) if it holds no code or reply. */
static bool classify(const char *item, size_t len, bool has_cmd, enum smtpreply_cmd cmd,
                     struct explain_arg *out, const char **why)
{
    struct smtpreply_pasted p;
    size_t n;

    memset(out, 0, sizeof *out);
    /* Blanks before the code come with copying from logs and quoting in
     * shells; line ends after it with files and pipes.  Blanks after it
     * pass as the reply line's separator. */
    while (len > 0 && (*item == ' ' || *item == '\t')) {
        item++;
        len--;
    }
    while (len > 0 && (item[len - 1] == '\n' || item[len - 1] == '\r'))
        len--;
    out->item = item;
    out->item_len = len;
    out->has_cmd = has_cmd;
    out->cmd = cmd;
    /* A bare number: three digits are a code (valid or not); any other
     * count of digits is no reply code at all. */
    if (all_digits(item, len) && len != 3) {
        *why = "not a three-digit reply code";
        return false;
    }
    /* An enhanced code, alone or followed by text. */
    n = smtpreply_esc_parse(item, len, &out->esc);
    if (n > 0) {
        out->has_esc = true;
        while (n < len && (item[n] == ' ' || item[n] == '\t'))
            n++;
        if (n < len) {
            out->text = malloc(len - n + 1);
            if (out->text) {
                memcpy(out->text, item + n, len - n);
                out->text[len - n] = '\0';
                out->text_len = len - n;
            }
        }
        classify_reason(out);
        return true;
    }
    /* A reply: one line or several, prefixed lines, or a log line. */
    out->text = malloc(len + 1);
    if (!out->text) {
        *why = "out of memory";
        return false;
    }
    if (!smtpreply_read_reply(item, len, out->text, len + 1, &p)) {
        free(out->text);
        out->text = NULL;
        /* Say why an enhanced-looking argument failed. */
        if (len >= 2 && item[1] == '.' && item[0] >= '0' && item[0] <= '9')
            *why = "not a valid enhanced status code (RFC 3463: class 2, 4 or 5; subject and "
                   "detail of 1-3 digits without leading zeros)";
        else
            *why = "neither a reply code, an enhanced status code nor a reply";
        return false;
    }
    out->has_code = true;
    out->code = p.code;
    out->has_esc = p.has_esc;
    out->esc = p.esc;
    out->text_len = p.text_len;
    out->nlines = p.nlines;
    out->is_line = !(len == 3 && all_digits(item, len));
    if (!out->is_line) {
        free(out->text);
        out->text = NULL;
        out->text_len = 0;
    }
    if (!has_cmd && p.has_cmd) {
        out->has_cmd = true;
        out->cmd_from_item = true;
        out->cmd = p.cmd;
    }
    if (!p.has_esc && out->text && first_line_bad_esc(p.code, out->text, out->text_len))
        out->bad_esc_note = "The text starts like an enhanced status code but breaks "
                            "RFC 3463 §2 (class 2/4/5, 1-3 digits, no leading zeros): "
                            "not read as one.";
    classify_reason(out);
    return true;
}

/* The command and stage as `--replies` names them (docs/contracts.md):
 * the verb (DATA for the end of data, null for the greeting) and the
 * session engine's stage word; both null when the command is not known. */
static const char *arg_verb(const struct explain_arg *a)
{
    if (!a->has_cmd || a->cmd == SMTPREPLY_CMD_CONNECT)
        return NULL;
    return smtpreply_cmd_verb(a->cmd == SMTPREPLY_CMD_DATA_END ? SMTPREPLY_CMD_DATA : a->cmd);
}

static const char *arg_stage(const struct explain_arg *a)
{
    enum smtpreply_stage st;
    if (!a->has_cmd)
        return NULL;
    switch (a->cmd) {
    case SMTPREPLY_CMD_CONNECT:
        st = SMTPREPLY_STAGE_GREETING;
        break;
    case SMTPREPLY_CMD_DATA:
        st = SMTPREPLY_STAGE_DATA_START;
        break;
    case SMTPREPLY_CMD_DATA_END:
        st = SMTPREPLY_STAGE_DATA_END;
        break;
    case SMTPREPLY_CMD_BDAT:
        st = SMTPREPLY_STAGE_BDAT;
        break;
    case SMTPREPLY_CMD_AUTH:
        st = a->has_code && a->code == 334 ? SMTPREPLY_STAGE_AUTH_CHALLENGE
                                           : SMTPREPLY_STAGE_AUTH_FINAL;
        break;
    default:
        st = SMTPREPLY_STAGE_REPLY;
        break;
    }
    return smtpreply_stage_name(st);
}

/* The meaning that fits: the core's, once a reply text or a command says
 * more than the bare code. */
static const char *arg_meaning(const struct explain_arg *a)
{
    return smtpreply_reply_meaning(a->has_cmd ? a->cmd : SMTPREPLY_CMD_UNKNOWN, a->code,
                                   a->has_esc ? &a->esc : NULL);
}

static json_t *string_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* The keys every object gains: reason, reason_source, permanent, party,
 * advice, command, stage, text. */
static void add_reason_json(json_t *o, const struct explain_arg *a)
{
    const struct smtpreply_reason_info *r = &a->reason;
    json_object_set_new(o, "reason", string_or_null(r->failure ? r->name : NULL));
    json_object_set_new(o, "reason_source", string_or_null(r->failure ? r->source_name : NULL));
    json_object_set_new(o, "permanent", r->failure ? json_boolean(r->permanent) : json_null());
    json_object_set_new(o, "party", string_or_null(r->failure ? r->party_name : NULL));
    json_object_set_new(o, "advice", string_or_null(r->failure ? r->advice : NULL));
    json_object_set_new(o, "command", string_or_null(arg_verb(a)));
    json_object_set_new(o, "stage", string_or_null(arg_stage(a)));
    json_object_set_new(o, "text",
                        a->text ? kbfmt_string_lossy(a->text, a->text_len) : json_null());
}

static void append_note(json_t *obj, const char *note)
{
    json_array_append_new(json_object_get(obj, "notes"), json_string(note));
}

/* The mismatch notes for a reply line whose enhanced code disagrees with
 * its basic code (RFC 2034 §4). */
static const char *esc_mismatch_note(const struct explain_arg *a)
{
    static char note[256];
    if (!a->has_code || !a->has_esc)
        return NULL;
    if (a->code / 100 == 3)
        return "This line carries an enhanced status code on a 3yz reply anyway; RFC 2034 "
               "§4 gives them only to 2yz, 4yz and 5yz replies.";
    if (!smtpreply_esc_class_agrees(a->code, &a->esc)) {
        snprintf(note, sizeof note,
                 "Mismatch: enhanced class %u differs from the reply code's first digit %u; "
                 "RFC 2034 §4 requires them to agree.",
                 a->esc.cls, a->code / 100);
        return note;
    }
    return NULL;
}

static json_t *arg_json(const struct explain_arg *a)
{
    json_t *o;
    const char *mismatch = esc_mismatch_note(a);

    if (a->has_code) {
        o = kbfmt_code_json(a->code);
        if (a->has_esc)
            json_object_set_new(o, "enhanced", kbfmt_esc_json(&a->esc));
        if (a->is_line || a->has_cmd)
            json_object_set_new(o, "meaning", json_string(arg_meaning(a)));
        if (a->is_line)
            json_object_set_new(o, "line", kbfmt_string_lossy(a->item, a->item_len));
        add_reason_json(o, a);
        if (mismatch)
            append_note(o, mismatch);
        if (a->bad_esc_note)
            append_note(o, a->bad_esc_note);
        return o;
    }
    /* An enhanced code alone: class, status and meaning are its own; the
     * category is its subject (the enhanced code's second number). */
    {
        struct smtpreply_esc_info info;
        json_t *esc = kbfmt_esc_json(&a->esc);
        smtpreply_esc_explain(&a->esc, &info);
        o = json_object();
        json_object_set_new(o, "code", json_null());
        json_object_set_new(o, "class", json_integer(a->esc.cls));
        json_object_set_new(o, "class_name", json_string(info.class_name));
        json_object_set_new(o, "category", json_integer(a->esc.subject));
        json_object_set_new(o, "category_name", json_string(info.subject_name));
        json_object_set_new(o, "status", json_string(smtpreply_status_name(info.status)));
        json_object_set_new(o, "meaning", json_string(info.meaning));
        json_object_set_new(o, "rfc", kbfmt_list_json(info.rfc));
        json_object_set_new(o, "commands", json_array());
        json_object_set_new(o, "notes", kbfmt_list_json(info.notes));
        json_object_set_new(o, "enhanced", esc);
        add_reason_json(o, a);
        return o;
    }
}

static void print_esc_text(FILE *out, const struct smtpreply_esc *e)
{
    struct smtpreply_esc_info info;
    char text[16];
    smtpreply_esc_explain(e, &info);
    smtpreply_esc_format(e, text, sizeof text);
    fprintf(out, "  enhanced:  %s %s\n", text, info.meaning);
    fprintf(out, "             class %u %s; subject %u %s\n", e->cls, info.class_name, e->subject,
            info.subject_name[0] ? info.subject_name : "(not defined)");
    fprintf(out, "             status %s", smtpreply_status_name(info.status));
    if (info.rfc[0]) {
        fputs(" (", out);
        kbfmt_print_list(out, info.rfc, "; ");
        fputc(')', out);
    }
    fputc('\n', out);
    if (info.description[0])
        fprintf(out, "             %s\n", info.description);
    if (info.assoc[0]) {
        fputs("             usual basic codes: ", out);
        kbfmt_print_list(out, info.assoc, ", ");
        fputc('\n', out);
    }
    {
        const char *cur = info.notes, *item;
        size_t len;
        while ((item = smtpreply_list_next(&cur, &len)) != NULL)
            fprintf(out, "             note: %.*s\n", (int)len, item);
    }
}

/* "the recipient must act" and the like, for the text output. */
static const char *party_phrase(enum smtpreply_party p)
{
    switch (p) {
    case SMTPREPLY_PARTY_RECIPIENT:
        return "the recipient must act";
    case SMTPREPLY_PARTY_SENDER_SETUP:
        return "the sender must fix its setup";
    case SMTPREPLY_PARTY_SENDER_REPUTATION:
        return "the sender's reputation is the problem";
    case SMTPREPLY_PARTY_MESSAGE:
        return "the message must change";
    case SMTPREPLY_PARTY_CLIENT:
        return "the client software must act";
    case SMTPREPLY_PARTY_RECEIVER:
        return "the receiving system must act";
    default:
        return "no party named";
    }
}

/* The reason and the advice, first of all. */
static void print_reason_text(FILE *out, const struct explain_arg *a)
{
    const struct smtpreply_reason_info *r = &a->reason;
    const char *verb = arg_verb(a), *stage = arg_stage(a);
    if (r->failure) {
        fprintf(out, "reason: %s (%s; %s; %s)\n", r->name, r->source_name,
                r->permanent ? "permanent" : "temporary", party_phrase(r->party));
        fprintf(out, "advice: %s\n", r->advice);
        if (r->basis)
            fprintf(out, "  basis:     %s%s%s%s\n", r->basis, r->pattern ? " (text has \"" : "",
                    r->pattern ? r->pattern : "", r->pattern ? "\")" : "");
    } else {
        fputs("reason: none (not a failure: only 4yz and 5yz replies have one)\n", out);
    }
    if (stage)
        fprintf(out, "  answers:   %s (stage %s)\n", verb ? verb : "the connection", stage);
    else if (a->has_code)
        fputs("  answers:   command not known (give --command VERB)\n", out);
}

/* The item as given, one line each, escaped for a terminal. */
static void print_item_text(FILE *out, const struct explain_arg *a)
{
    size_t i = 0;
    const char *label = "reply:       ";
    while (i <= a->item_len) {
        const char *nl = i < a->item_len ? memchr(a->item + i, '\n', a->item_len - i) : NULL;
        size_t e = nl ? (size_t)(nl - a->item) : a->item_len, te = e;
        if (te > i && a->item[te - 1] == '\r')
            te--;
        fputs(label, out);
        kbfmt_print_text(out, a->item + i, te - i);
        fputc('\n', out);
        label = "             ";
        if (!nl)
            break;
        i = e + 1;
    }
    /* What was read from it, unless the item is the reply's own lines
     * (it starts with the code and names no command). */
    if (a->text && a->nlines > 0 &&
        (a->cmd_from_item || a->item_len < 3 || (unsigned)(a->item[0] - '0') != a->code / 100 ||
         (unsigned)(a->item[1] - '0') != a->code / 10 % 10 ||
         (unsigned)(a->item[2] - '0') != a->code % 10)) {
        label = "  text:      ";
        i = 0;
        while (i <= a->text_len) {
            const char *nl = i < a->text_len ? memchr(a->text + i, '\n', a->text_len - i) : NULL;
            size_t e = nl ? (size_t)(nl - a->text) : a->text_len;
            fputs(label, out);
            kbfmt_print_text(out, a->text + i, e - i);
            fputc('\n', out);
            label = "             ";
            if (!nl)
                break;
            i = e + 1;
        }
    }
}

static void print_text(FILE *out, const struct explain_arg *a)
{
    struct smtpreply_code_info info;
    const char *verbs[SMTPREPLY_CMD__COUNT + 1];
    size_t nverbs;
    enum smtpreply_cmd cmd;
    const char *meaning, *rfc, *mismatch = esc_mismatch_note(a);
    const char *cur, *item;
    size_t len;

    print_reason_text(out, a);
    if (!a->has_code) {
        char text[16];
        smtpreply_esc_format(&a->esc, text, sizeof text);
        fprintf(out, "%s  (enhanced status code, RFC 3463)\n", text);
        print_esc_text(out, &a->esc);
        return;
    }
    smtpreply_code_explain(a->code, &info);
    if (a->is_line)
        print_item_text(out, a);
    fprintf(out, "%03u  %s\n", a->code, a->is_line || a->has_cmd ? arg_meaning(a) : info.meaning);
    fprintf(out, "  class:     %u %s\n", info.cls, info.class_name);
    fprintf(out, "  category:  %u %s\n", info.category, info.category_name);
    fprintf(out, "  status:    %s", smtpreply_status_name(info.status));
    if (info.rfc[0]) {
        fputs(" (", out);
        kbfmt_print_list(out, info.rfc, "; ");
        fputc(')', out);
    } else if (info.status == SMTPREPLY_STATUS_NON_STANDARD) {
        fputs(" (in no RFC)", out);
    } else if (info.status == SMTPREPLY_STATUS_UNASSIGNED) {
        fputs(" (defined nowhere: read from its digits, RFC 5321 §4.2)", out);
    }
    fputc('\n', out);
    nverbs = smtpreply_code_commands(a->code, verbs, sizeof verbs / sizeof verbs[0]);
    fputs("  commands:  ", out);
    if (nverbs == 0)
        fputs("none listed by any RFC", out);
    for (size_t i = 0; i < nverbs && i < sizeof verbs / sizeof verbs[0]; i++)
        fprintf(out, "%s%s", i ? ", " : "",
                strcmp(verbs[i], "ANY") == 0 ? "any command" : verbs[i]);
    fputc('\n', out);
    fprintf(out, "  retry:     %s\n", smtpreply_retry_advice(info.retry));
    if (a->has_esc)
        print_esc_text(out, &a->esc);
    if (smtpreply_code_context(a->code, 0, &cmd, &meaning, &rfc)) {
        fputs("  by command:\n", out);
        for (size_t i = 0; smtpreply_code_context(a->code, i, &cmd, &meaning, &rfc); i++) {
            fprintf(out, "    %-9s %s (", smtpreply_cmd_verb(cmd), meaning);
            kbfmt_print_list(out, rfc, "; ");
            fputs(")\n", out);
        }
    }
    if (info.notes[0] || mismatch || a->bad_esc_note) {
        fputs("  notes:\n", out);
        cur = info.notes;
        while ((item = smtpreply_list_next(&cur, &len)) != NULL)
            fprintf(out, "    - %.*s\n", (int)len, item);
        if (mismatch)
            fprintf(out, "    - %s\n", mismatch);
        if (a->bad_esc_note)
            fprintf(out, "    - %s\n", a->bad_esc_note);
    }
}

/* "smtpreply explain: ITEM: WHY" on one line: the item's control
 * characters escaped and a long one cut, so a pasted multi-line reply
 * still gives one line. */
static void print_error(const char *item, const char *why)
{
    size_t len = strlen(item), show = len > 120 ? 120 : len;
    fputs("smtpreply explain: ", stderr);
    kbfmt_print_text(stderr, item, show);
    fprintf(stderr, "%s: %s\n", show < len ? "..." : "", why);
}

/* Explains each argument in turn (as one JSON array when there are
 * several); 2 if any is neither a code nor a reply, or "-" could not be
 * read.  Standard input is read once; a second "-" gets the same item. */
static int explain_args(const char **args, int nargs, bool json, bool has_cmd,
                        enum smtpreply_cmd cmd)
{
    int status = EXIT_OK, printed = 0;
    json_t *array = NULL, *single = NULL;
    char *in = NULL;
    size_t in_len = 0;
    bool in_read = false, in_bad = false;
    if (json && nargs > 1)
        array = json_array();

    for (int i = 0; i < nargs; i++) {
        struct explain_arg a;
        const char *why = "", *item = args[i];
        size_t len = strlen(args[i]);
        if (strcmp(args[i], "-") == 0) {
            if (!in_read) {
                in_read = true;
                in = read_stdin(&in_len);
                in_bad = in == NULL;
            }
            if (in_bad) {
                status = EXIT_USAGE;
                continue;
            }
            item = in;
            len = in_len;
        }
        if (!classify(item, len, has_cmd, cmd, &a, &why)) {
            print_error(item == in ? "- (standard input)" : args[i], why);
            status = EXIT_USAGE;
            continue;
        }
        if (json) {
            json_t *o = arg_json(&a);
            if (array)
                json_array_append_new(array, o);
            else
                single = o;
        } else {
            if (printed)
                fputc('\n', stdout);
            print_text(stdout, &a);
        }
        free(a.text);
        printed++;
    }
    free(in);
    if (array) {
        kbfmt_dump(array, stdout);
        json_decref(array);
    } else if (single) {
        kbfmt_dump(single, stdout);
        json_decref(single);
    }
    return status;
}

int cmd_explain(int argc, char **argv)
{
    static const char *const formats[] = {"text", "json", NULL};
    bool json = false, has_cmd = false;
    enum smtpreply_cmd cmd = SMTPREPLY_CMD_UNKNOWN;
    int status = EXIT_OK, nargs = 0;
    const char **args = calloc((size_t)argc + 1, sizeof *args);

    if (args == NULL) {
        fprintf(stderr, "smtpreply explain: out of memory\n");
        return EXIT_USAGE;
    }
    struct cli_parser cp;
    int id;
    cli_init(&cp, &spec, argc, argv);
    while ((id = cli_next(&cp)) != CLI_END) {
        int k;
        switch (id) {
        case CLI_ARG:
            args[nargs++] = cp.value;
            break;
        case CLI_HELP:
            usage(stdout);
            goto done;
        case CLI_VERSION:
            cli_print_version();
            goto done;
        case OPT_JSON:
            json = true;
            break;
        case OPT_FORMAT:
            k = cli_format("smtpreply explain", cp.value, formats);
            if (k < 0) {
                status = EXIT_USAGE;
                goto done;
            }
            json = k == 1;
            break;
        case OPT_COMMAND:
            if (!parse_command(cp.value, &cmd)) {
                fprintf(stderr,
                        "smtpreply explain: unknown command '%s' for --command (a verb such as "
                        "RCPT, '.' for the end of data, or 'greeting')\n",
                        cp.value);
                status = EXIT_USAGE;
                goto done;
            }
            has_cmd = true;
            break;
        default:
            status = EXIT_USAGE;
            goto done;
        }
    }
    if (nargs == 0) {
        /* One line: the whole help would bury the mistake. */
        fprintf(stderr, "smtpreply explain: no code given (see smtpreply explain --help)\n");
        status = EXIT_USAGE;
        goto done;
    }
    status = explain_args(args, nargs, json, has_cmd, cmd);
done:
    free(args);
    return status;
}
