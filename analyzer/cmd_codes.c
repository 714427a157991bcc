/* SPDX-License-Identifier: MIT */
/*
 * cmd_codes.c - `smtpreply codes [--format text|json|csv]`: the whole
 * knowledge base, basic codes then the enhanced registry, for teaching and
 * for people who want the table.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "kb.h"
#include "kbfmt.h"
#include "smtpreply.h"

enum codes_format { FMT_TEXT, FMT_JSON, FMT_CSV };

enum { OPT_JSON = CLI_FIRST_ID, OPT_CSV, OPT_FORMAT };

static const struct cli_option options[] = {
    {OPT_FORMAT, "--format", NULL, "FORMAT",
     "text (the default), json or csv; also --format=FORMAT", 0},
    {OPT_JSON, "--json", NULL, NULL,
     "the same as --format json: one JSON object\n"
     "{\"codes\": [...], \"enhanced\": [...], \"subjects\": [...]}\n"
     "(each code as `explain --json` prints it)",
     0},
    {OPT_CSV, "--csv", NULL, NULL,
     "the same as --format csv: CSV with the header\n"
     "kind,code,class,category,status,meaning,rfc,commands,notes\n"
     "(kind is basic or enhanced; lists are joined with \"; \")",
     0},
    CLI_OPT_HELP,
    CLI_OPT_VERSION,
    {0, NULL, NULL, NULL, NULL, 0},
};

/* codes takes no arguments: any is "unknown argument", also after "--". */
static const struct cli_spec spec = {"smtpreply codes", options, "argument", false, "see", 14};

static void usage(FILE *out)
{
    fprintf(out, "Usage: smtpreply codes [--format text|json|csv]\n"
                 "\n"
                 "Lists the whole knowledge base: every basic reply code it knows (RFC 5321\n"
                 "and extensions, registry-only, historic, non-standard and invalid codes\n"
                 "seen on web lists), then the IANA enhanced status code registry\n"
                 "(X.0.0 ... X.7.30) and the RFC 3463 subjects.\n"
                 "\n"
                 "Options:\n");
    cli_print_options(out, &spec, false);
}

/* RFC 4180 field: quoted when it holds a comma, quote or line break. */
static void csv_field(FILE *out, const char *s, size_t len)
{
    bool quote = false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r')
            quote = true;
    }
    if (!quote) {
        fwrite(s, 1, len, out);
        return;
    }
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            fputc('"', out);
        fputc(s[i], out);
    }
    fputc('"', out);
}

static void csv_str(FILE *out, const char *s)
{
    csv_field(out, s, strlen(s));
}

/* A '|'-list as one CSV field, items joined by "; ". */
static void csv_list(FILE *out, const char *list)
{
    char buf[4096];
    size_t n = 0;
    const char *cur = list, *item;
    size_t len;
    while ((item = smtpreply_list_next(&cur, &len)) != NULL) {
        if (n > 0 && n + 2 < sizeof buf) {
            memcpy(buf + n, "; ", 2);
            n += 2;
        }
        if (len > sizeof buf - n)
            len = sizeof buf - n;
        memcpy(buf + n, item, len);
        n += len;
    }
    csv_field(out, buf, n);
}

static void commands_joined(unsigned code, char *buf, size_t size)
{
    const char *verbs[SMTPREPLY_CMD__COUNT + 1];
    size_t n = smtpreply_code_commands(code, verbs, sizeof verbs / sizeof verbs[0]);
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && i < sizeof verbs / sizeof verbs[0]; i++) {
        int w = snprintf(buf + used, size - used, "%s%s", i ? "|" : "", verbs[i]);
        if (w < 0 || (size_t)w >= size - used)
            break;
        used += (size_t)w;
    }
}

static int print_csv(FILE *out)
{
    struct smtpreply_code_info info;
    struct smtpreply_esc esc;
    struct smtpreply_esc_info einfo;
    char cmds[512];

    fputs("kind,code,class,category,status,meaning,rfc,commands,notes\n", out);
    for (size_t i = 0; smtpreply_code_at(i, &info); i++) {
        fprintf(out, "basic,%03u,%u,%u,", info.code, info.cls, info.category);
        csv_str(out, smtpreply_status_name(info.status));
        fputc(',', out);
        csv_str(out, info.meaning);
        fputc(',', out);
        csv_list(out, info.rfc);
        fputc(',', out);
        commands_joined(info.code, cmds, sizeof cmds);
        csv_list(out, cmds);
        fputc(',', out);
        csv_list(out, info.notes);
        fputc('\n', out);
    }
    for (size_t i = 0; smtpreply_esc_at(i, &esc, &einfo); i++) {
        fprintf(out, "enhanced,X.%u.%u,,%u,", esc.subject, esc.detail, esc.subject);
        csv_str(out, smtpreply_status_name(einfo.status));
        fputc(',', out);
        csv_str(out, einfo.meaning);
        fputc(',', out);
        csv_list(out, einfo.rfc);
        fputc(',', out);
        csv_list(out, einfo.assoc); /* the registry's associated basic codes */
        fputc(',', out);
        csv_list(out, einfo.notes);
        fputc('\n', out);
    }
    return EXIT_OK;
}

static int print_json(FILE *out)
{
    struct smtpreply_code_info info;
    struct smtpreply_esc esc;
    struct smtpreply_esc_info einfo;
    unsigned subject;
    const char *name, *rfc, *scope;
    json_t *root = json_object(), *codes = json_array(), *enhanced = json_array(),
           *subjects = json_array();
    char text[32];
    int rc;

    for (size_t i = 0; smtpreply_code_at(i, &info); i++)
        json_array_append_new(codes, kbfmt_code_json(info.code));
    for (size_t i = 0; smtpreply_esc_at(i, &esc, &einfo); i++) {
        json_t *o = json_object();
        snprintf(text, sizeof text, "X.%u.%u", esc.subject, esc.detail);
        json_object_set_new(o, "code", json_string(text));
        json_object_set_new(o, "subject", json_integer(esc.subject));
        json_object_set_new(o, "subject_name", json_string(einfo.subject_name));
        json_object_set_new(o, "detail", json_integer(esc.detail));
        json_object_set_new(o, "meaning", json_string(einfo.meaning));
        json_object_set_new(o, "rfc", kbfmt_list_json(einfo.rfc));
        json_object_set_new(o, "status", json_string(smtpreply_status_name(einfo.status)));
        json_object_set_new(o, "associated", kbfmt_list_json(einfo.assoc));
        json_object_set_new(o, "notes", kbfmt_list_json(einfo.notes));
        json_array_append_new(enhanced, o);
    }
    for (size_t i = 0; smtpreply_esc_subject_at(i, &subject, &name, &rfc, &scope); i++) {
        json_t *o = json_object();
        json_object_set_new(o, "subject", json_integer(subject));
        json_object_set_new(o, "name", json_string(name));
        json_object_set_new(o, "rfc", kbfmt_list_json(rfc));
        json_object_set_new(o, "scope", json_string(scope));
        json_array_append_new(subjects, o);
    }
    json_object_set_new(root, "codes", codes);
    json_object_set_new(root, "enhanced", enhanced);
    json_object_set_new(root, "subjects", subjects);
    rc = kbfmt_dump(root, out);
    json_decref(root);
    return rc == 0 ? EXIT_OK : EXIT_USAGE;
}

static int print_text(FILE *out)
{
    struct smtpreply_code_info info;
    struct smtpreply_esc esc;
    struct smtpreply_esc_info einfo;
    unsigned subject;
    const char *name, *rfc, *scope;

    fputs("Basic reply codes (RFC 5321 §4.2; first digit class, second category)\n\n", out);
    fprintf(out, "%-4s %-13s %s\n", "code", "status", "meaning [RFC]");
    for (size_t i = 0; smtpreply_code_at(i, &info); i++) {
        fprintf(out, "%03u  %-13s %s", info.code, smtpreply_status_name(info.status),
                info.meaning);
        if (info.rfc[0]) {
            fputs(" [", out);
            kbfmt_print_list(out, info.rfc, "; ");
            fputc(']', out);
        }
        fputc('\n', out);
    }
    fputs("\nCodes not listed: first digit 2-5 and second 0-5 are \"unassigned\" (read\n"
          "from the digits); anything else is \"invalid\".\n",
          out);
    fputs("\nEnhanced status code subjects (RFC 3463 §3)\n\n", out);
    for (size_t i = 0; smtpreply_esc_subject_at(i, &subject, &name, &rfc, &scope); i++)
        fprintf(out, "X.%u.YYY  %s: %s\n", subject, name, scope);
    fputs("\nEnhanced status codes (IANA registry, RFC 5248; X is 2, 4 or 5)\n\n", out);
    for (size_t i = 0; smtpreply_esc_at(i, &esc, &einfo); i++) {
        char code[24];
        snprintf(code, sizeof code, "X.%u.%u", esc.subject, esc.detail);
        fprintf(out, "%-7s %s [", code, einfo.meaning);
        kbfmt_print_list(out, einfo.rfc, "; ");
        fputc(']', out);
        if (einfo.assoc[0]) {
            fputs(" basic: ", out);
            kbfmt_print_list(out, einfo.assoc, ", ");
        }
        fputc('\n', out);
    }
    return EXIT_OK;
}

int cmd_codes(int argc, char **argv)
{
    /* In the order of enum codes_format. */
    static const char *const formats[] = {"text", "json", "csv", NULL};
    enum codes_format fmt = FMT_TEXT;
    struct cli_parser cp;
    int id, k;
    cli_init(&cp, &spec, argc, argv);
    while ((id = cli_next(&cp)) != CLI_END) {
        switch (id) {
        case CLI_HELP:
            usage(stdout);
            return EXIT_OK;
        case CLI_VERSION:
            cli_print_version();
            return EXIT_OK;
        case OPT_JSON:
            fmt = FMT_JSON;
            break;
        case OPT_CSV:
            fmt = FMT_CSV;
            break;
        case OPT_FORMAT:
            if ((k = cli_format("smtpreply codes", cp.value, formats)) < 0)
                return EXIT_USAGE;
            fmt = (enum codes_format)k;
            break;
        case CLI_ARG:
            fprintf(stderr, "smtpreply codes: unknown argument %s (see --help)\n", cp.value);
            return EXIT_USAGE;
        default:
            return EXIT_USAGE;
        }
    }
    switch (fmt) {
    case FMT_JSON:
        return print_json(stdout);
    case FMT_CSV:
        return print_csv(stdout);
    case FMT_TEXT:
        break;
    }
    return print_text(stdout);
}
