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

#include <stdbool.h>
#include <stdio.h>

int cmd_explain(int argc, char **argv);
int cmd_codes(int argc, char **argv);
int cmd_transcript(int argc, char **argv);
int cmd_tally(int argc, char **argv);
int cmd_merge(int argc, char **argv);

/* True if s is "--help" or "-h". */
int cli_is_help(const char *s);
/* Prints "smtpreply VERSION" to stdout. */
void cli_print_version(void);

/* One option of a sub-command, as its table lists it.  The table drives
 * both the parser (cli_next) and the option list of --help
 * (cli_print_options). */
struct cli_option {
    int id;                 /* what cli_next returns for it (> 0) */
    const char *name;       /* "--name", or NULL */
    const char *short_name; /* "-n", or NULL */
    const char *metavar;    /* the value's name in --help; NULL: takes no value */
    const char *help;       /* lines separated by '\n' */
    unsigned flags;         /* CLI_* below */
};

/* "-j4": the value may follow the short name when it starts with a digit. */
#define CLI_ATTACHED_NUMBER 1u
/* Listed by --help only: "--", which the parser itself handles. */
#define CLI_DOC_ONLY 2u
/* Printed under a second heading (see cli_print_options). */
#define CLI_GROUP2 4u

/* Ids every command's table may use for the options all of them take. */
enum { CLI_HELP = 1, CLI_VERSION, CLI_FIRST_ID };
/* Braced initialisers read better as written. */
/* clang-format off */
#define CLI_OPT_HELP {CLI_HELP, "--help", "-h", NULL, "this help", 0}
#define CLI_OPT_VERSION {CLI_VERSION, "--version", NULL, NULL, "print the version", 0}
#define CLI_OPT_DASHDASH(what)                                                            \
    {0, "--", NULL, NULL, "the arguments after it are " what ",\neven if they start with -", \
     CLI_DOC_ONLY}
/* clang-format on */

/* A command's options and how it words an unknown one:
 * "PREFIX: unknown WORD 'ARG' (HINT --help)", quotes if quote is set. */
struct cli_spec {
    const char *prefix;            /* "smtpreply explain" and the like */
    const struct cli_option *opts; /* ends with an entry whose id is 0 and name NULL */
    const char *unknown_word;      /* "option" or "argument" */
    bool quote;
    const char *hint; /* "see" or "try" */
    int help_column;  /* where --help starts the help text */
};

/* The parser's state over argv[1..argc-1]. */
struct cli_parser {
    const struct cli_spec *spec;
    int argc;
    char **argv;
    int i;
    bool options_done; /* after "--" */
    /* The last result: */
    const char *value;    /* an option's value, or the argument */
    const char *spelling; /* the option's name as given ("-o", "--output") */
    bool attached;        /* the value came as "-j4" */
    const struct cli_option *opt;
};

enum { CLI_END = 0, CLI_ARG = -1, CLI_ERROR = -2 };

void cli_init(struct cli_parser *p, const struct cli_spec *spec, int argc, char **argv);
/* The next item: an option's id (value set if it takes one), CLI_ARG for
 * an argument that is not an option ("-" is one; so is everything after
 * "--"), CLI_END, or CLI_ERROR after one line on stderr (an unknown option,
 * or "PREFIX: NAME needs a value (see --help)"): a usage error.  Long
 * options take "--name VALUE" and "--name=VALUE", short ones "-n VALUE". */
int cli_next(struct cli_parser *p);
/* The option list of --help: every option of the table whose CLI_GROUP2
 * flag equals group2, one per line, its help text from help_column on. */
void cli_print_options(FILE *out, const struct cli_spec *spec, bool group2);

/* The index of value in names (NULL-terminated), or -1 after
 * "PREFIX: unknown format 'VALUE' (json, text)" on stderr. */
int cli_format(const char *prefix, const char *value, const char *const *names);

#endif
