/* SPDX-License-Identifier: MIT */
/*
 * cmd_explain.c - `smtpreply explain [--format text|json] ARG...`: what a
 * basic reply code, an enhanced status code or a whole reply line means.
 *
 * Any three-digit number is explained (invalid ones say so, exit 0).  An
 * argument that is neither a code, an enhanced code nor a reply line gets
 * a one-line error on stderr; the good arguments are still printed and
 * the exit status is 2 (CONTRACTS.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kb.h"
#include "kbfmt.h"
#include "smtpreply.h"

/* What one argument turned out to be. */
struct explain_arg {
    const char *arg;
    bool has_code;            /* a basic code (alone or in a reply line) */
    unsigned code;
    bool has_esc;
    struct smtpreply_esc esc;
    bool is_line;             /* a reply line with text */
    const char *text;         /* its text (after the code and separator) */
    size_t text_len;
    const char *bad_esc_note; /* text starts like an enhanced code but is not one */
};

enum { OPT_JSON = CLI_FIRST_ID, OPT_FORMAT };

static const struct cli_option options[] = {
    {OPT_FORMAT, "--format", NULL, "FORMAT",
     "text (the default) or json: one JSON object per ARG (an array\n"
     "when there are several); also --format=FORMAT", 0},
    {OPT_JSON, "--json", NULL, NULL, "the same as --format json", 0},
    CLI_OPT_DASHDASH("ARGs"),
    CLI_OPT_HELP,
    CLI_OPT_VERSION,
    {0, NULL, NULL, NULL, NULL, 0},
};

static const struct cli_spec spec = {"smtpreply explain", options, "option", false, "see", 14};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: smtpreply explain [--format text|json] ARG...\n"
            "\n"
            "Explains SMTP reply codes.  Each ARG is a basic reply code (550), an\n"
            "enhanced status code (5.1.1), or a whole reply line in quotes\n"
            "(\"550 5.1.1 <bob@example.org>: Recipient address rejected\").\n"
            "\n"
            "For each: class and category (RFC 5321 §4.2), the RFC meaning, its\n"
            "status (standard, registry, historic, non-standard, invalid,\n"
            "unassigned) with the RFC, the commands that may return it, retry\n"
            "advice, the enhanced code's meaning (RFC 3463, IANA registry), meanings\n"
            "specific to a command, and notes on folklore meanings.\n"
            "\n"
            "Options:\n");
    cli_print_options(out, &spec, false);
    fprintf(out,
            "\n"
            "Exit status: 0 all explained; 2 an ARG was not a code or reply line\n"
            "(the others are still printed), or a usage error.\n");
}

static bool all_digits(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return len > 0;
}

/* Classifies one argument; false (with *why set) if it is none of the
 * three forms. */
static bool classify(const char *arg, struct explain_arg *out, const char **why)
{
    size_t len;
    struct smtpreply_line line;
    size_t n;

    /* Blanks before the code come with copying from logs and quoting in
     * shells; blanks after it already pass as the reply line's separator. */
    while (*arg == ' ' || *arg == '\t')
        arg++;
    len = strlen(arg);
    memset(out, 0, sizeof *out);
    out->arg = arg;
    /* A bare number: three digits are a code (valid or not); any other
     * count of digits is no reply code at all. */
    if (all_digits(arg, len)) {
        if (len != 3) {
            *why = "not a three-digit reply code";
            return false;
        }
    }
    /* An enhanced code, alone or followed by text. */
    n = smtpreply_esc_parse(arg, len, &out->esc);
    if (n > 0) {
        out->has_esc = true;
        return true;
    }
    /* A reply line (or a bare code): three digits, then end, SP or '-'. */
    if (smtpreply_parse_reply_line(arg, len, &line)) {
        out->has_code = true;
        out->code = line.code;
        out->is_line = line.text_len > 0 || line.sep != 0;
        out->text = line.text;
        out->text_len = line.text_len;
        if (line.has_esc) {
            out->has_esc = true;
            out->esc = line.esc;
        } else if (line.bad_esc) {
            out->bad_esc_note = "The text starts like an enhanced status code but breaks "
                                "RFC 3463 §2 (class 2/4/5, 1-3 digits, no leading zeros): "
                                "not read as one.";
        }
        return true;
    }
    /* Say why an enhanced-looking argument failed. */
    if (len >= 2 && arg[1] == '.' && arg[0] >= '0' && arg[0] <= '9')
        *why = "not a valid enhanced status code (RFC 3463: class 2, 4 or 5; subject and "
               "detail of 1-3 digits without leading zeros)";
    else
        *why = "neither a reply code, an enhanced status code nor a reply line";
    return false;
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
        if (a->is_line) {
            json_object_set_new(o, "line", kbfmt_string_lossy(a->arg, strlen(a->arg)));
            json_object_set_new(o, "text", kbfmt_string_lossy(a->text, a->text_len));
        }
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
    fprintf(out, "             class %u %s; subject %u %s\n", e->cls, info.class_name,
            e->subject, info.subject_name[0] ? info.subject_name : "(not defined)");
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

static void print_text(FILE *out, const struct explain_arg *a)
{
    struct smtpreply_code_info info;
    const char *verbs[SMTPREPLY_CMD__COUNT + 1];
    size_t nverbs;
    enum smtpreply_cmd cmd;
    const char *meaning, *rfc, *mismatch = esc_mismatch_note(a);
    const char *cur, *item;
    size_t len;

    if (!a->has_code) {
        char text[16];
        smtpreply_esc_format(&a->esc, text, sizeof text);
        fprintf(out, "%s  (enhanced status code, RFC 3463)\n", text);
        print_esc_text(out, &a->esc);
        return;
    }
    smtpreply_code_explain(a->code, &info);
    if (a->is_line)
        fprintf(out, "reply:       %s\n", a->arg);
    fprintf(out, "%03u  %s\n", a->code, info.meaning);
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

/* Explains each argument in turn (as one JSON array when there are
 * several); 2 if any is neither a code nor a reply line. */
static int explain_args(const char **args, int nargs, bool json)
{
    int status = EXIT_OK, printed = 0;
    json_t *array = NULL, *single = NULL;
    if (json && nargs > 1)
        array = json_array();

    for (int i = 0; i < nargs; i++) {
        struct explain_arg a;
        const char *why = "";
        if (!classify(args[i], &a, &why)) {
            fprintf(stderr, "smtpreply explain: %s: %s\n", args[i], why);
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
        printed++;
    }
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
    bool json = false;
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
    status = explain_args(args, nargs, json);
done:
    free(args);
    return status;
}
