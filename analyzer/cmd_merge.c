/* SPDX-License-Identifier: MIT */
/* cmd_merge.c - placeholder until its issue lands: says so and fails. */
#include <stdio.h>

#include "cli.h"

int cmd_merge(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "smtpreply merge: not implemented yet\n");
    return EXIT_USAGE;
}
