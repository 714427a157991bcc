/* SPDX-License-Identifier: MIT */
/*
 * kb_codes.c - basic reply codes: the table (reply_codes.def), the
 * command-specific meanings (code_contexts.def), and the explanation of
 * any number 0..999 from its digits, as RFC 5321 §4.2 tells clients to do
 * with codes they do not know.
 */
#include <stdint.h>

#include "kb.h"
#include "kb_internal.h"
#include "smtpreply.h"

static const struct code_row {
    uint16_t code;
    enum smtpreply_status status;
    const char *meaning;
    const char *rfc;
    const char *notes;
} code_rows[] = {
#define SMTPREPLY_CODE(code, status, meaning, rfc, notes) \
    {code, SMTPREPLY_STATUS_##status, meaning, rfc, notes},
#include "reply_codes.def"
#undef SMTPREPLY_CODE
};
#define CODE_ROWS (sizeof code_rows / sizeof code_rows[0])

static const struct context_row {
    uint16_t code;
    enum smtpreply_cmd cmd;
    const char *meaning;
    const char *rfc;
} context_rows[] = {
#define SMTPREPLY_CODE_CONTEXT(code, cmd, meaning, rfc) {code, SMTPREPLY_CMD_##cmd, meaning, rfc},
#include "code_contexts.def"
#undef SMTPREPLY_CODE_CONTEXT
};
#define CONTEXT_ROWS (sizeof context_rows / sizeof context_rows[0])

static const char *const status_names[SMTPREPLY_STATUS__COUNT] = {
    [SMTPREPLY_STATUS_STANDARD] = "standard", [SMTPREPLY_STATUS_REGISTRY] = "registry",
    [SMTPREPLY_STATUS_HISTORIC] = "historic", [SMTPREPLY_STATUS_NON_STANDARD] = "non-standard",
    [SMTPREPLY_STATUS_INVALID] = "invalid",   [SMTPREPLY_STATUS_UNASSIGNED] = "unassigned",
};

const char *smtpreply_status_name(enum smtpreply_status st)
{
    return (unsigned)st < SMTPREPLY_STATUS__COUNT ? status_names[st] : "";
}

const char *smtpreply_retry_advice(enum smtpreply_retry r)
{
    switch (r) {
    case SMTPREPLY_RETRY_DONE:
        return "Completed: nothing to retry.";
    case SMTPREPLY_RETRY_CONTINUE:
        return "Intermediate: the client goes on and sends what was asked for "
               "(message data, SASL response).";
    case SMTPREPLY_RETRY_LATER:
        return "Transient: the same command may succeed later; a client keeps the message "
               "and retries (RFC 5321 §4.2.1, §4.5.4.1).";
    case SMTPREPLY_RETRY_NEVER:
        return "Permanent: do not repeat the request unchanged; something (address, "
               "message, credentials, policy) must change first (RFC 5321 §4.2.1).";
    case SMTPREPLY_RETRY_ABORT:
        return "Invalid reply code (first digit not 2-5): a client treats it as a fatal "
               "error and ends the transaction (RFC 5321 §4.2).";
    }
    return "";
}

/* RFC 5321 §4.2.1: first digit. */
static const char *const class_names[10] = {
    "Invalid",
    "Invalid",
    "Positive Completion",
    "Positive Intermediate",
    "Transient Negative Completion",
    "Permanent Negative Completion",
    "Invalid",
    "Invalid",
    "Invalid",
    "Invalid",
};
/* RFC 5321 §4.2.1: second digit. */
static const char *const category_names[10] = {
    "Syntax",      "Information", "Connections", "Unspecified", "Unspecified",
    "Mail system", "Invalid",     "Invalid",     "Invalid",     "Invalid",
};

/* Meanings of codes defined nowhere, from their digits (RFC 5321 §4.2:
 * "interpret by the first digit"), one string per class and category. */
#define CLS_2 "positive completion (2yz): the requested action was completed"
#define CLS_3 "positive intermediate (3yz): accepted, the server waits for more input"
#define CLS_4 "transient negative completion (4yz): not done, the condition is temporary"
#define CLS_5 "permanent negative completion (5yz): not done, do not repeat unchanged"
#define CAT_0 "category syntax (x0z)"
#define CAT_1 "category information (x1z)"
#define CAT_2 "category connections (x2z)"
#define CAT_3 "unspecified category (x3z)"
#define CAT_4 "unspecified category (x4z)"
#define CAT_5 "category mail system (x5z)"
#define DERIVED(c, k) "Unassigned code, read from its digits: " CLS_##c "; " CAT_##k
#define DERIVED_ROW(c)                                                                           \
    {                                                                                            \
        DERIVED(c, 0), DERIVED(c, 1), DERIVED(c, 2), DERIVED(c, 3), DERIVED(c, 4), DERIVED(c, 5) \
    }
static const char *const derived_meaning[4][6] = {
    DERIVED_ROW(2),
    DERIVED_ROW(3),
    DERIVED_ROW(4),
    DERIVED_ROW(5),
};
#define BAD_FIRST(d) \
    "Invalid reply code: first digit " #d " is not 2-5 (RFC 5321 §4.2); not an SMTP reply"
static const char *const invalid_first[10] = {
    BAD_FIRST(0), BAD_FIRST(1), "",           "",           "",
    "",           BAD_FIRST(6), BAD_FIRST(7), BAD_FIRST(8), BAD_FIRST(9),
};
#define BAD_SECOND(d) \
    "Invalid reply code: second digit " #d " is above 5 (RFC 5321 §4.2 Reply-code ABNF)"
static const char *const invalid_second[10] = {
    "", "", "", "", "", "", BAD_SECOND(6), BAD_SECOND(7), BAD_SECOND(8), BAD_SECOND(9),
};

static const char *derived_for(unsigned code)
{
    unsigned cls = code / 100u, cat = code / 10u % 10u;
    if (cls < 2 || cls > 5)
        return invalid_first[cls];
    if (cat > 5)
        return invalid_second[cat];
    return derived_meaning[cls - 2][cat];
}

static enum smtpreply_retry retry_for(unsigned code)
{
    static const enum smtpreply_retry by_class[4] = {
        SMTPREPLY_RETRY_DONE,
        SMTPREPLY_RETRY_CONTINUE,
        SMTPREPLY_RETRY_LATER,
        SMTPREPLY_RETRY_NEVER,
    };
    /* RFC 5321 §4.2: clients interpret codes they do not know "by the first
     * digit only" (so 471 is transient even though its second digit breaks
     * the grammar); only out-of-range first digits are fatal errors. */
    if (code > 999 || code / 100u < 2u || code / 100u > 5u)
        return SMTPREPLY_RETRY_ABORT;
    return by_class[code / 100u - 2u];
}

static const struct code_row *find_code(unsigned code)
{
    size_t lo = 0, hi = CODE_ROWS;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (code_rows[mid].code == code)
            return &code_rows[mid];
        if (code_rows[mid].code < code)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void fill_info(unsigned code, const struct code_row *row, struct smtpreply_code_info *out)
{
    out->code = code;
    out->cls = code / 100u;
    out->category = code / 10u % 10u;
    out->class_name = class_names[out->cls];
    out->category_name = category_names[out->category];
    if (row) {
        out->status = row->status;
        out->meaning = row->meaning;
        out->rfc = row->rfc;
        out->notes = row->notes;
        out->in_table = true;
    } else {
        const char *dotted = smtpreply_code_dotted_note(code, NULL);
        out->status =
            smtpreply_code_valid(code) ? SMTPREPLY_STATUS_UNASSIGNED : SMTPREPLY_STATUS_INVALID;
        out->meaning = derived_for(code);
        out->rfc = "";
        out->notes = dotted ? dotted : "";
        out->in_table = false;
    }
    out->retry = retry_for(code);
}

bool smtpreply_code_explain(unsigned code, struct smtpreply_code_info *out)
{
    if (code > 999)
        return false;
    fill_info(code, find_code(code), out);
    return true;
}

bool smtpreply_code_at(size_t idx, struct smtpreply_code_info *out)
{
    if (idx >= CODE_ROWS)
        return false;
    fill_info(code_rows[idx].code, &code_rows[idx], out);
    return true;
}

size_t smtpreply_code_count(void)
{
    return CODE_ROWS;
}

const char *smtpreply_code_meaning_for(unsigned code, enum smtpreply_cmd c)
{
    const struct code_row *row;
    if (code > 999)
        return "";
    for (size_t i = 0; i < CONTEXT_ROWS; i++) {
        if (context_rows[i].code == code && context_rows[i].cmd == c)
            return context_rows[i].meaning;
    }
    row = find_code(code);
    return row ? row->meaning : derived_for(code);
}

bool smtpreply_code_context(unsigned code, size_t idx, enum smtpreply_cmd *cmd,
                            const char **meaning, const char **rfc)
{
    for (size_t i = 0; i < CONTEXT_ROWS; i++) {
        if (context_rows[i].code != code)
            continue;
        if (idx-- == 0) {
            *cmd = context_rows[i].cmd;
            *meaning = context_rows[i].meaning;
            *rfc = context_rows[i].rfc;
            return true;
        }
    }
    return false;
}

size_t smtpreply_code_commands(unsigned code, const char **verbs, size_t max)
{
    size_t n = 0;
    if (kb_code_any_command(code)) {
        if (n < max)
            verbs[n] = "ANY";
        n++;
    }
    for (unsigned c = 0; c < SMTPREPLY_CMD_UNKNOWN; c++) {
        if (!kb_cmd_lists((enum smtpreply_cmd)c, code))
            continue;
        if (n < max)
            verbs[n] = smtpreply_cmd_verb((enum smtpreply_cmd)c);
        n++;
    }
    return n;
}

const char *smtpreply_list_next(const char **cursor, size_t *len)
{
    const char *item, *p;
    if (!cursor || !*cursor || **cursor == '\0')
        return NULL;
    item = p = *cursor;
    while (*p != '\0' && *p != '|')
        p++;
    *len = (size_t)(p - item);
    *cursor = *p == '|' ? p + 1 : p;
    return item;
}
