/* SPDX-License-Identifier: MIT */
/*
 * kb.h - knowledge-base helpers beyond smtpreply.h, for the CLI, the
 * plugin and the session engine.  Same rules: static answers, no
 * allocation.
 */
#ifndef SMTPREPLY_KB_H
#define SMTPREPLY_KB_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpreply.h"

#ifdef __cplusplus
extern "C" {
#endif

/* RFC 3463 §2 / RFC 2034 §4: the enhanced code's class must equal the
 * basic code's first digit.  False for a 3yz code (3 is no enhanced
 * class) and for e == NULL. */
bool smtpreply_esc_class_agrees(unsigned code, const struct smtpreply_esc *e);

/* The "dots removed" heuristic (folklore such as "534" for Exchange's
 * 5.3.4, see docs/knowledge-base.md): if the three digits a,b,c
 * of `code` spell a registered enhanced code a.b.c, returns a sentence
 * saying so (and fills *esc when esc is not NULL); otherwise NULL.  Meant
 * for codes that are not standard; the table's own notes already say it
 * for the codes it lists. */
const char *smtpreply_code_dotted_note(unsigned code, struct smtpreply_esc *esc);

/* Iterate the eight RFC 3463 subjects (idx = 0, 1, ...); false at the end. */
bool smtpreply_esc_subject_at(size_t idx, unsigned *subject, const char **name, const char **rfc,
                              const char **scope);

/* Number of rows in the basic-code table and in the enhanced registry. */
size_t smtpreply_code_count(void);
size_t smtpreply_esc_count(void);

#ifdef __cplusplus
}
#endif
#endif
