/* SPDX-License-Identifier: MIT */
/*
 * main.c - smtpreply: dispatch to a sub-command.  With no sub-command name
 * the arguments are capture files for `tally`, the main job.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "smtpreply.h"

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    /* It flushes stdout itself and, when that fails, says so and returns
     * EXIT_USAGE: main must not say it a second time. */
    bool reports_write_error;
} commands[] = {
    {"tally", cmd_tally, "tally reply codes per SMTP session in pcap/pcapng captures (default)",
     true},
    {"explain", cmd_explain, "explain reply codes, enhanced codes or whole reply lines", false},
    {"codes", cmd_codes, "list the whole knowledge base (basic and enhanced codes)", false},
    {"transcript", cmd_transcript, "annotate a plain-text SMTP dialogue (RFC C:/S: or swaks)",
     false},
    {"merge", cmd_merge, "combine JSON summaries from separate runs", false},
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: smtpreply [COMMAND] [OPTIONS] ARGS...\n"
                 "\n"
                 "Makes SMTP server replies legible: what each reply code means (RFC 5321,\n"
                 "RFC 3463 enhanced codes), which command it answers, and what looks wrong.\n"
                 "\n"
                 "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n"
                 "Without a command, the arguments are captures for `tally`:\n"
                 "  smtpreply capture.pcap          smtpreply explain 550 5.1.1\n"
                 "\n"
                 "`smtpreply COMMAND --help` describes each command.\n"
                 "Exit status: 0 all read, 1 some input damaged or skipped (results given),\n"
                 "2 usage error or nothing readable.\n");
}

/* Runs what the arguments ask for; *ran is the sub-command, if any. */
static int dispatch(int argc, char **argv, const struct command **ran)
{
    *ran = NULL;
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
        if (strcmp(argv[1], commands[i].name) == 0) {
            *ran = &commands[i];
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    /* A lowercase word that names no file is a mistyped command, not a
     * capture ("smtpreply explian 550"). */
    bool word = argv[1][0] != '\0';
    for (const char *c = argv[1]; *c; c++)
        word &= *c >= 'a' && *c <= 'z';
    if (word && access(argv[1], F_OK) != 0) {
        fprintf(stderr, "smtpreply: unknown command '%s' (commands:", argv[1]);
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
            fprintf(stderr, " %s", commands[i].name);
        fprintf(stderr, "; see --help)\n");
        return EXIT_USAGE;
    }
    /* No sub-command: `smtpreply FILE...` means `smtpreply tally FILE...`. */
    *ran = &commands[0];
    argv[0] = (char *)"tally";
    return cmd_tally(argc, argv);
}

/* A full disk or a broken file system must not pass for success, nor a
 * truncated answer be taken for the whole one.  The error flag records a
 * write that failed at any point of the run, also one whose bytes the
 * failed flush threw away, so it is checked even when the last flush
 * itself has nothing left to write.  errno is then the best cause there
 * is: nothing between that write and here sets it on these paths. */
static int check_stdout(int status, const struct command *ran)
{
    int err = 0;

    if (fflush(stdout) != 0)
        err = errno;
    else if (ferror(stdout))
        err = errno ? errno : EIO;
    if (err == 0)
        return status;
    if (ran && ran->reports_write_error && status == EXIT_USAGE)
        return status;
    fprintf(stderr, "smtpreply: cannot write the output: %s\n", strerror(err));
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    const struct command *ran;
    int status = dispatch(argc, argv, &ran);
    return check_stdout(status, ran);
}
