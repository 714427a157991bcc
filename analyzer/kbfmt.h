/* SPDX-License-Identifier: MIT */
/*
 * kbfmt.h - the knowledge base as JSON (jansson) and as text, shared by
 * `explain` and `codes` so both print a code the same way.
 */
#ifndef SMTPREPLY_KBFMT_H
#define SMTPREPLY_KBFMT_H

#include <jansson.h>
#include <stdio.h>

#include "smtpreply.h"

/* A '|'-separated list as a JSON array of strings. */
json_t *kbfmt_list_json(const char *list);
/* A string that may not be UTF-8 (user input, server text, file names):
 * bytes that break UTF-8 become U+FFFD; JSON escapes control characters. */
json_t *kbfmt_string_lossy(const char *s, size_t len);
/* Prints server or client text for a terminal: control characters and
 * bytes that break UTF-8 as \xNN, valid UTF-8 as it is. */
void kbfmt_print_text(FILE *out, const char *s, size_t len);
/* The object `explain --json` prints for a basic code (enhanced: null). */
json_t *kbfmt_code_json(unsigned code);
/* The `enhanced` object for an enhanced code of class 2/4/5. */
json_t *kbfmt_esc_json(const struct smtpreply_esc *e);
/* "done", "continue", "later", "never", "abort". */
const char *kbfmt_retry_word(enum smtpreply_retry r);
/* Prints a '|'-separated list joined by `sep`. */
void kbfmt_print_list(FILE *out, const char *list, const char *sep);
/* Prints JSON followed by a newline; returns 0 or -1. */
int kbfmt_dump(json_t *j, FILE *out);

#endif
