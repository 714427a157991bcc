/* SPDX-License-Identifier: MIT */
/*
 * cli.h - the smtpreply command's sub-commands.  Each cmd_* takes the
 * arguments after its name (argv[0] is the sub-command) and returns the
 * process exit status:
 *   0  everything read / explained
 *   1  some input damaged or skipped, results still given (tally)
 *   2  usage error, bad argument, or nothing readable
 */
#ifndef SMTPREPLY_CLI_H
#define SMTPREPLY_CLI_H

#define EXIT_OK 0
#define EXIT_PARTIAL 1
#define EXIT_USAGE 2

int cmd_explain(int argc, char **argv);
int cmd_codes(int argc, char **argv);
int cmd_transcript(int argc, char **argv);
int cmd_tally(int argc, char **argv);
int cmd_merge(int argc, char **argv);

/* True if s is "--help" or "-h". */
int cli_is_help(const char *s);
/* Prints "smtpreply VERSION" to stdout. */
void cli_print_version(void);

/* Reads an option that takes a value, in either GNU spelling: "NAME VALUE"
 * (two arguments; *i moves on to the value) or "NAME=VALUE" (long names).
 * Returns 1 with *value set, 0 if argv[*i] is not this option, -1 after
 * "PREFIX: NAME needs a value" on stderr.  prefix is "smtpreply explain"
 * and the like. */
int cli_option_value(const char *prefix, int argc, char **argv, int *i, const char *name,
                     const char **value);

/* The index of value in names (NULL-terminated), or -1 after
 * "PREFIX: unknown format 'VALUE' (json, text)" on stderr. */
int cli_format(const char *prefix, const char *value, const char *const *names);

#endif
