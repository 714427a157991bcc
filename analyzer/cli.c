/* SPDX-License-Identifier: MIT */
/*
 * cli.c - small helpers every sub-command shares (declared in cli.h).
 * Kept apart from main.c so a sub-command can be linked without main(),
 * as the fuzz target for `explain` does.
 */
#include <stdio.h>
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

int cli_option_value(const char *prefix, int argc, char **argv, int *i, const char *name,
                     const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(name);

    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=' && name[0] == '-' && name[1] == '-') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: %s needs a value (see --help)\n", prefix, name);
        return -1;
    }
    *value = argv[++*i];
    return 1;
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
