/* SPDX-License-Identifier: MIT */
/* cmd_tally.c - placeholder until its issue lands: says so and fails. */
#include <stdio.h>

#include "cli.h"

int cmd_tally(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "smtpreply tally: not implemented yet\n");
    return EXIT_USAGE;
}
