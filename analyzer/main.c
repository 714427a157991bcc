/* SPDX-License-Identifier: MIT */
/*
 * main.c - smtpreply: dispatch to a sub-command.  With no sub-command name
 * the arguments are capture files for `tally`, the main job.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "smtpreply.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"tally", cmd_tally, "tally reply codes per SMTP session in pcap/pcapng captures (default)"},
    {"explain", cmd_explain, "explain reply codes, enhanced codes or whole reply lines"},
    {"codes", cmd_codes, "list the whole knowledge base (basic and enhanced codes)"},
    {"transcript", cmd_transcript, "annotate a plain-text SMTP dialogue (RFC C:/S: or swaks)"},
    {"merge", cmd_merge, "combine JSON summaries from separate runs"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: smtpreply [COMMAND] [OPTIONS] ARGS...\n"
            "\n"
            "Makes SMTP server replies legible: what each reply code means (RFC 5321,\n"
            "RFC 3463 enhanced codes), which command it answers, and what looks wrong.\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\n"
            "Without a command, the arguments are captures for `tally`:\n"
            "  smtpreply capture.pcap          smtpreply explain 550 5.1.1\n"
            "\n"
            "`smtpreply COMMAND --help` describes each command.\n"
            "Exit status: 0 all read, 1 some input damaged or skipped (results given),\n"
            "2 usage error or nothing readable.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (cli_is_help(argv[1])) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        cli_print_version();
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    /* No sub-command: `smtpreply FILE...` means `smtpreply tally FILE...`. */
    argv[0] = (char *)"tally";
    return cmd_tally(argc, argv);
}
