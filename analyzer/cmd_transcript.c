/* SPDX-License-Identifier: MIT */
/*
 * cmd_transcript.c - `smtpreply transcript [--json] FILE|-`: annotate a
 * plain-text SMTP dialogue (RFC "C:/S:" style or swaks output).
 *
 * Every dialogue line is fed to the session engine as its text + CRLF,
 * with the line number as the chunk tag, so each reply can be shown under
 * the command it answers with its meaning, class and anomalies.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "kbfmt.h"
#include "smtpreply.h"
#include "transcript.h"

/* One event kept for printing (text copied: the engine's is transient). */
struct item {
    enum smtpreply_event_type type;
    bool virtual_data_end; /* the "." line, placed where the client sent it */
    struct smtpreply_event ev;
    char *text;
};

struct run {
    struct item *items;
    size_t n, cap;
    bool oom;
};

static void on_event(void *user, const struct smtpreply_event *ev)
{
    struct run *r = user;
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 64;
        struct item *ni = realloc(r->items, ncap * sizeof *ni);
        if (!ni) {
            r->oom = true;
            return;
        }
        r->items = ni;
        r->cap = ncap;
    }
    struct item *it = &r->items[r->n];
    memset(it, 0, sizeof *it);
    it->type = ev->type;
    it->ev = *ev;
    it->ev.text = NULL;
    if (ev->text) {
        it->text = malloc(ev->text_len + 1);
        if (it->text) {
            memcpy(it->text, ev->text, ev->text_len);
            it->text[ev->text_len] = 0;
        }
    }
    r->n++;
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

enum { OPT_JSON = CLI_FIRST_ID, OPT_FORMAT };

static const struct cli_option options[] = {
    {OPT_FORMAT, "--format", NULL, "text|json",
     "text (default) or one JSON object:\n"
     "{\"replies\": [...], \"unanswered\": [...], \"anomalies\": [...]}", 0},
    {OPT_JSON, "--json", NULL, NULL, "same as --format json", 0},
    {0, "--", NULL, NULL, "the argument after it is the dialogue,\neven if it starts with -",
     CLI_DOC_ONLY},
    CLI_OPT_HELP,
    CLI_OPT_VERSION,
    {0, NULL, NULL, NULL, NULL, 0},
};

static const struct cli_spec spec = {"smtpreply transcript", options, "option", false, "try",
                                     22};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: smtpreply transcript [--json|--format text|json] FILE|-\n"
            "\n"
            "Annotates a plain-text SMTP dialogue: each reply under the command it\n"
            "answers, with its meaning, class and anomalies.  Formats:\n"
            "  RFC style  'C: EHLO x' / 'S: 250 ok' (each line stands for text + CRLF)\n"
            "  swaks      its output: ' -> ', '<-  ', ' ~> ', '<~  ', '**> ', '<** ' ...\n"
            "             ('===', '***' and --show-raw-text dumps are not dialogue)\n"
            "Other lines (blank, '#' comments, prose) are ignored.\n"
            "\n");
    cli_print_options(out, &spec, false);
    fprintf(out,
            "\n"
            "Exit status: 0 annotated, 2 usage error, unreadable file or no dialogue.\n");
}

static enum smtpreply_cmd meaning_cmd(const struct smtpreply_event *ev)
{
    if (ev->stage == SMTPREPLY_STAGE_GREETING)
        return SMTPREPLY_CMD_CONNECT;
    return ev->has_cmd ? ev->cmd.cmd : SMTPREPLY_CMD_UNKNOWN;
}

static json_t *anomaly_array(smtpreply_anomaly_set set)
{
    json_t *a = json_array();
    for (unsigned i = 0; i < SMTPREPLY_ANOM__COUNT; i++)
        if (set & ((smtpreply_anomaly_set)1u << i))
            json_array_append_new(a, json_string(smtpreply_anomaly_name((enum smtpreply_anomaly)i)));
    return a;
}

static const char *class_name(unsigned code)
{
    struct smtpreply_code_info info;
    if (smtpreply_code_explain(code, &info) && info.class_name)
        return info.class_name;
    return "";
}

/* An entry of the top-level "anomalies": one that belongs to no reply. */
static json_t *lone_anomaly(enum smtpreply_anomaly a, enum smtpreply_dir dir, uint64_t line)
{
    json_t *o = json_object();
    json_object_set_new(o, "anomaly", json_string(smtpreply_anomaly_name(a)));
    json_object_set_new(o, "side", json_string(dir == SMTPREPLY_DIR_CLIENT ? "client" : "server"));
    json_object_set_new(o, "line", json_integer((json_int_t)line));
    return o;
}

static int print_json(const struct run *r, bool encrypted)
{
    json_t *root = json_object();
    json_t *replies = json_array();
    json_t *unanswered = json_array();
    json_t *others = json_array();
    for (size_t i = 0; i < r->n; i++) {
        const struct item *it = &r->items[i];
        const struct smtpreply_event *ev = &it->ev;
        if (it->type == SMTPREPLY_EV_REPLY) {
            json_t *o = json_object();
            json_object_set_new(o, "command", ev->has_cmd ? json_string(ev->cmd.verb) : json_null());
            json_object_set_new(o, "code", json_integer(ev->code));
            if (ev->has_esc) {
                char esc[16];
                struct smtpreply_esc_info ei;
                smtpreply_esc_explain(&ev->esc, &ei);
                json_object_set_new(o, "enhanced",
                                    json_string(smtpreply_esc_format(&ev->esc, esc, sizeof esc)));
                json_object_set_new(o, "enhanced_meaning", json_string(ei.meaning ? ei.meaning : ""));
            } else {
                json_object_set_new(o, "enhanced", json_null());
            }
            json_object_set_new(o, "class", json_integer(ev->code / 100));
            json_object_set_new(o, "class_name", json_string(class_name(ev->code)));
            json_object_set_new(o, "meaning",
                                json_string(smtpreply_code_meaning_for(ev->code, meaning_cmd(ev))));
            json_object_set_new(o, "anomalies", anomaly_array(ev->anomalies));
            json_object_set_new(o, "stage", json_string(smtpreply_stage_name(ev->stage)));
            json_object_set_new(o, "lines", json_integer(ev->nlines));
            json_object_set_new(o, "text", kbfmt_string_lossy(it->text ? it->text : "",
                                                              it->text ? ev->text_len : 0));
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
                json_t *o = lone_anomaly((enum smtpreply_anomaly)a, SMTPREPLY_DIR_CLIENT, ev->tag);
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

static void print_reply(const struct item *it)
{
    const struct smtpreply_event *ev = &it->ev;
    char esc[16] = "";
    if (ev->has_esc)
        smtpreply_esc_format(&ev->esc, esc, sizeof esc);
    printf("    S: %03u ", ev->code);
    if (it->text)
        kbfmt_print_text(stdout, it->text, ev->text_len);
    if (ev->nlines > 1)
        printf("   (last of %u lines)", ev->nlines);
    printf("\n");
    printf("       %s: %s\n", smtpreply_stage_name(ev->stage),
           smtpreply_code_meaning_for(ev->code, meaning_cmd(ev)));
    printf("       class %u, %s\n", ev->code / 100, class_name(ev->code));
    if (ev->has_esc) {
        struct smtpreply_esc_info ei;
        smtpreply_esc_explain(&ev->esc, &ei);
        printf("       enhanced %s: %s\n", esc, ei.meaning ? ei.meaning : "");
    }
    print_anomalies(ev->anomalies, "       ");
}

/* Replies appear under the command they answer; the greeting, unsolicited
 * replies, lone anomalies and TLS appear where they happened. */
static void print_text(const struct run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        const struct item *it = &r->items[i];
        const struct smtpreply_event *ev = &it->ev;
        switch (it->type) {
        case SMTPREPLY_EV_COMMAND:
            if (it->virtual_data_end) {
                printf("C: .   (end of message data)   [line %llu]\n",
                       (unsigned long long)ev->cmd.tag);
            } else {
                printf("C: ");
                if (it->text)
                    kbfmt_print_text(stdout, it->text, ev->text_len);
                printf("   [line %llu]\n", (unsigned long long)ev->tag);
            }
            print_anomalies(ev->anomalies, "    ");
            for (size_t j = 0; j < r->n; j++)
                if (r->items[j].type == SMTPREPLY_EV_REPLY && r->items[j].ev.has_cmd &&
                    r->items[j].ev.cmd.seq == ev->cmd.seq)
                    print_reply(&r->items[j]);
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
            printf("unanswered: %s   [line %llu]\n", ev->cmd.verb, (unsigned long long)ev->cmd.tag);
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
}

/* The end of data has no COMMAND event: place a virtual one before the
 * first command the client sent after it (sequence numbers say where). */
static void place_data_ends(struct run *r)
{
    for (size_t i = 0; i < r->n && !r->oom; i++) {
        if (r->items[i].type != SMTPREPLY_EV_REPLY || !r->items[i].ev.has_cmd ||
            r->items[i].ev.cmd.cmd != SMTPREPLY_CMD_DATA_END)
            continue;
        uint64_t seq = r->items[i].ev.cmd.seq;
        size_t at = i;
        for (size_t j = 0; j < i; j++)
            if (r->items[j].type == SMTPREPLY_EV_COMMAND && r->items[j].ev.cmd.seq > seq) {
                at = j;
                break;
            }
        struct smtpreply_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = SMTPREPLY_EV_COMMAND;
        ev.has_cmd = true;
        ev.cmd = r->items[i].ev.cmd;
        on_event(r, &ev);
        if (r->oom)
            return;
        struct item v = r->items[r->n - 1];
        v.virtual_data_end = true;
        memmove(&r->items[at + 1], &r->items[at], (r->n - 1 - at) * sizeof v);
        r->items[at] = v;
        i++; /* the reply moved one place on */
    }
}

int cmd_transcript(int argc, char **argv)
{
    bool json = false;
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
    struct smtpreply_transcript_result res;
    smtpreply_transcript_run(buf, len, on_event, &r, &res);
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
        rc = json ? print_json(&r, res.encrypted) : (print_text(&r), EXIT_OK);
    }
    for (size_t i = 0; i < r.n; i++)
        free(r.items[i].text);
    free(r.items);
    return rc;
}
