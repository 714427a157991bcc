/* SPDX-License-Identifier: MIT */
/*
 * cli.c - small helpers every sub-command shares (declared in cli.h).
 * Kept apart from main.c so a sub-command can be linked without main(),
 * as the fuzz target for `explain` does.
 */
#include <stdio.h>
#include <stdbool.h>
#include <string.h>

#include "cli.h"
#include "smtpreply.h"

int cli_is_help(const char *s)
{
    return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0;
}

void cli_print_version(void)
{
    printf("smtpreply %s\n", SMTPREPLY_VERSION);
}

void cli_init(struct cli_parser *p, const struct cli_spec *spec, int argc, char **argv)
{
    memset(p, 0, sizeof *p);
    p->spec = spec;
    p->argc = argc;
    p->argv = argv;
}

/* Whether argument a is option o spelled s ("--name" or "-n"); sets the
 * value of one that takes it.  1: matched, 0: not this one, -1: its value
 * is missing (said on stderr). */
static int match(struct cli_parser *p, const struct cli_option *o, const char *s)
{
    const char *a = p->argv[p->i];
    size_t n = strlen(s);
    bool is_long = s[1] == '-';

    if (strncmp(a, s, n) != 0)
        return 0;
    if (a[n] == '\0') {
        if (o->metavar == NULL)
            return 1;
        if (p->i + 1 >= p->argc) {
            fprintf(stderr, "%s: %s needs a value (see --help)\n", p->spec->prefix, s);
            return -1;
        }
        p->value = p->argv[++p->i];
        return 1;
    }
    if (o->metavar == NULL)
        return 0;
    if (is_long && a[n] == '=') {
        p->value = a + n + 1;
        return 1;
    }
    if (!is_long && (o->flags & CLI_ATTACHED_NUMBER) && a[n] >= '0' && a[n] <= '9') {
        p->value = a + n;
        p->attached = true;
        return 1;
    }
    return 0;
}

int cli_next(struct cli_parser *p)
{
    p->value = NULL;
    p->spelling = NULL;
    p->opt = NULL;
    p->attached = false;
    while (++p->i < p->argc) {
        const char *a = p->argv[p->i];
        if (p->options_done || a[0] != '-' || a[1] == '\0') {
            p->value = a; /* "-" is standard input */
            return CLI_ARG;
        }
        if (strcmp(a, "--") == 0) {
            p->options_done = true;
            continue;
        }
        for (const struct cli_option *o = p->spec->opts; o->id != 0 || o->name; o++) {
            const char *spellings[2] = {o->short_name, o->name};
            if (o->flags & CLI_DOC_ONLY)
                continue;
            for (int k = 0; k < 2; k++) {
                int got = spellings[k] ? match(p, o, spellings[k]) : 0;
                if (got < 0)
                    return CLI_ERROR;
                if (got > 0) {
                    p->opt = o;
                    p->spelling = spellings[k];
                    return o->id;
                }
            }
        }
        fprintf(stderr, "%s: unknown %s %s%s%s (%s --help)\n", p->spec->prefix,
                p->spec->unknown_word, p->spec->quote ? "'" : "", a, p->spec->quote ? "'" : "",
                p->spec->hint);
        return CLI_ERROR;
    }
    return CLI_END;
}

void cli_print_options(FILE *out, const struct cli_spec *spec, bool group2)
{
    for (const struct cli_option *o = spec->opts; o->id != 0 || o->name; o++) {
        if (((o->flags & CLI_GROUP2) != 0) != group2)
            continue;
        char left[80];
        int n = snprintf(left, sizeof left, "  %s%s%s%s%s", o->short_name ? o->short_name : "",
                         o->short_name && o->name ? ", " : "", o->name ? o->name : "",
                         o->metavar ? " " : "", o->metavar ? o->metavar : "");
        const char *h = o->help;
        if (n >= spec->help_column) {
            fprintf(out, "%s\n", left);
            n = 0;
        } else {
            fputs(left, out);
        }
        /* One line of help per '\n', all starting at the help column. */
        for (;;) {
            const char *nl = strchr(h, '\n');
            int len = nl ? (int)(nl - h) : (int)strlen(h);
            fprintf(out, "%*s%.*s\n", spec->help_column - n, "", len, h);
            n = 0;
            if (nl == NULL)
                break;
            h = nl + 1;
        }
    }
}

int cli_format(const char *prefix, const char *value, const char *const *names)
{
    for (int k = 0; names[k]; k++) {
        if (strcmp(value, names[k]) == 0)
            return k;
    }
    fprintf(stderr, "%s: unknown format '%s' (", prefix, value);
    for (int k = 0; names[k]; k++)
        fprintf(stderr, "%s%s", k ? ", " : "", names[k]);
    fputs(")\n", stderr);
    return -1;
}
