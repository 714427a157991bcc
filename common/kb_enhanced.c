/* SPDX-License-Identifier: MIT */
/*
 * kb_enhanced.c - enhanced status codes: the strict RFC 3463 parser, the
 * IANA registry (enhanced.def) and the fallbacks RFC 3463 §2 asks for
 * (unknown detail: report the subject; unknown subject: report the class).
 */
#include <stdint.h>

#include "kb.h"
#include "kb_internal.h"
#include "smtpreply.h"

/* The note given to a basic code whose three digits spell a registered
 * enhanced code (lists and NDR readers drop the dots, see the reference
 * §F).  Built at compile time per row and class, so lookups stay static. */
#define DOTTED_NOTE(cls, s, d, name)                                          \
    "Its digits match the enhanced status code " #cls "." #s "." #d " (" name \
    ") written without dots: web lists and NDR readers often print "          \
    "enhanced codes that way."

static const struct esc_row {
    uint16_t subject;
    uint16_t detail;
    const char *name;
    const char *rfc;
    const char *assoc;
    const char *notes;
    const char *dotted[3]; /* classes 2, 4, 5; meaningful for detail <= 9 */
} esc_rows[] = {
#define SMTPREPLY_ESC_SUBJECT(s, name, rfc, scope)
#define SMTPREPLY_ESC(s, d, name, rfc, assoc, notes) \
    {s,                                              \
     d,                                              \
     name,                                           \
     rfc,                                            \
     assoc,                                          \
     notes,                                          \
     {DOTTED_NOTE(2, s, d, name), DOTTED_NOTE(4, s, d, name), DOTTED_NOTE(5, s, d, name)}},
#include "enhanced.def"
#undef SMTPREPLY_ESC
#undef SMTPREPLY_ESC_SUBJECT
};
#define ESC_ROWS (sizeof esc_rows / sizeof esc_rows[0])

static const struct esc_subject {
    uint16_t subject;
    const char *name;
    const char *rfc;
    const char *scope;
} esc_subjects[] = {
#define SMTPREPLY_ESC_SUBJECT(s, name, rfc, scope) {s, name, rfc, scope},
#define SMTPREPLY_ESC(s, d, name, rfc, assoc, notes)
#include "enhanced.def"
#undef SMTPREPLY_ESC
#undef SMTPREPLY_ESC_SUBJECT
};
#define ESC_SUBJECTS (sizeof esc_subjects / sizeof esc_subjects[0])

/* RFC 3463 §3 (D.1 of the reference). */
static const struct {
    const char *name;
    const char *meaning;
} esc_classes[3] = {
    {"Success", "Success: the delivery action succeeded; the detail may report a transformation"},
    {"Persistent Transient Failure",
     "Persistent transient failure: the message is valid but a temporary condition stopped it; "
     "sending again may succeed"},
    {"Permanent Failure",
     "Permanent failure: resending the message as it is will not succeed; the message or the "
     "destination must change"},
};

static int class_index(unsigned cls)
{
    return cls == 2 ? 0 : cls == 4 ? 1 : cls == 5 ? 2 : -1;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* 1-3 digits, no leading zero unless the number is "0"; returns the count
 * of bytes read, 0 if malformed. */
static size_t parse_part(const char *s, size_t len, uint16_t *out)
{
    size_t n = 0;
    unsigned v = 0;
    while (n < len && is_digit(s[n])) {
        if (n == 3)
            return 0; /* a fourth digit: too long */
        v = v * 10u + (unsigned)(s[n] - '0');
        n++;
    }
    if (n == 0 || (n > 1 && s[0] == '0'))
        return 0;
    *out = (uint16_t)v;
    return n;
}

size_t smtpreply_esc_parse(const char *s, size_t len, struct smtpreply_esc *out)
{
    uint16_t subject, detail;
    size_t pos, n;
    if (!s || len < 5 || class_index((unsigned)(s[0] - '0')) < 0 || s[1] != '.')
        return 0;
    pos = 2;
    n = parse_part(s + pos, len - pos, &subject);
    if (n == 0)
        return 0;
    pos += n;
    if (pos >= len || s[pos] != '.')
        return 0;
    pos++;
    n = parse_part(s + pos, len - pos, &detail);
    if (n == 0)
        return 0;
    pos += n;
    /* RFC 2034 §4: the code is followed by one or more spaces (or ends
     * the text); "5.1.1x" or "5.1.1." is not an enhanced code. */
    if (pos < len && s[pos] != ' ' && s[pos] != '\t')
        return 0;
    if (out) {
        out->cls = (uint8_t)(s[0] - '0');
        out->subject = subject;
        out->detail = detail;
    }
    return pos;
}

static char *put_number(char *p, char *end, unsigned v)
{
    char tmp[4];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v && n < sizeof tmp);
    while (n > 0 && p < end)
        *p++ = tmp[--n];
    return p;
}

char *smtpreply_esc_format(const struct smtpreply_esc *e, char *buf, size_t size)
{
    char *p = buf, *end;
    if (!buf || size == 0)
        return buf;
    end = buf + size - 1; /* room for the NUL */
    if (!e || size < 12) {
        buf[0] = '\0';
        return buf;
    }
    p = put_number(p, end, e->cls % 10u);
    *p++ = '.';
    p = put_number(p, end, e->subject % 1000u);
    *p++ = '.';
    p = put_number(p, end, e->detail % 1000u);
    *p = '\0';
    return buf;
}

static const struct esc_row *find_row(unsigned subject, unsigned detail)
{
    size_t lo = 0, hi = ESC_ROWS;
    unsigned key = subject * 1000u + detail;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        unsigned k = esc_rows[mid].subject * 1000u + esc_rows[mid].detail;
        if (k == key)
            return &esc_rows[mid];
        if (k < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static const struct esc_subject *find_subject(unsigned subject)
{
    for (size_t i = 0; i < ESC_SUBJECTS; i++) {
        if (esc_subjects[i].subject == subject)
            return &esc_subjects[i];
    }
    return NULL;
}

void smtpreply_esc_explain(const struct smtpreply_esc *e, struct smtpreply_esc_info *out)
{
    int ci = e ? class_index(e->cls) : -1;
    const struct esc_subject *subj;
    const struct esc_row *row;

    out->assoc = "";
    out->notes = "";
    if (ci < 0 || e->subject > 999 || e->detail > 999) {
        out->status = SMTPREPLY_STATUS_INVALID;
        out->class_name = "Invalid";
        out->subject_name = "";
        out->meaning = "Invalid enhanced status code: RFC 3463 §2 allows class 2, 4 or 5 and "
                       "subject and detail of 1-3 digits";
        out->description = "";
        out->rfc = "RFC 3463 §2";
        return;
    }
    out->class_name = esc_classes[ci].name;
    subj = find_subject(e->subject);
    row = find_row(e->subject, e->detail);
    if (row) {
        out->status = SMTPREPLY_STATUS_STANDARD;
        out->subject_name = subj ? subj->name : "";
        out->meaning = row->name;
        out->description = subj ? subj->scope : "";
        out->rfc = row->rfc;
        out->assoc = row->assoc;
        out->notes = row->notes;
    } else if (subj) {
        /* RFC 3463 §2: report the subject when the detail is unknown. */
        out->status = SMTPREPLY_STATUS_UNASSIGNED;
        out->subject_name = subj->name;
        out->meaning = subj->name;
        out->description = subj->scope;
        out->rfc = subj->rfc;
        out->notes = "Detail not in the IANA registry: explained by its subject (RFC 3463 §2); "
                     "vendors (e.g. Exchange) use many private details.";
    } else {
        /* RFC 3463 §2: report the class when the subject is unknown. */
        out->status = SMTPREPLY_STATUS_UNASSIGNED;
        out->subject_name = "";
        out->meaning = esc_classes[ci].meaning;
        out->description = "";
        out->rfc = "RFC 3463 §3";
        out->notes = "Subject not defined by RFC 3463: explained by its class (RFC 3463 §2).";
    }
}

bool smtpreply_esc_at(size_t idx, struct smtpreply_esc *code, struct smtpreply_esc_info *out)
{
    const struct esc_row *row;
    const struct esc_subject *subj;
    if (idx >= ESC_ROWS)
        return false;
    row = &esc_rows[idx];
    subj = find_subject(row->subject);
    if (code) {
        code->cls = 0; /* "X": the registry row covers every class */
        code->subject = row->subject;
        code->detail = row->detail;
    }
    if (out) {
        out->status = SMTPREPLY_STATUS_STANDARD;
        out->class_name = "";
        out->subject_name = subj ? subj->name : "";
        out->meaning = row->name;
        out->description = subj ? subj->scope : "";
        out->rfc = row->rfc;
        out->assoc = row->assoc;
        out->notes = row->notes;
    }
    return true;
}

bool smtpreply_esc_subject_at(size_t idx, unsigned *subject, const char **name, const char **rfc,
                              const char **scope)
{
    if (idx >= ESC_SUBJECTS)
        return false;
    *subject = esc_subjects[idx].subject;
    *name = esc_subjects[idx].name;
    *rfc = esc_subjects[idx].rfc;
    *scope = esc_subjects[idx].scope;
    return true;
}

bool smtpreply_esc_class_agrees(unsigned code, const struct smtpreply_esc *e)
{
    return e && code / 100u == e->cls;
}

const char *smtpreply_code_dotted_note(unsigned code, struct smtpreply_esc *esc)
{
    int ci = class_index(code / 100u);
    const struct esc_row *row;
    if (code > 999 || ci < 0)
        return NULL;
    row = find_row(code / 10u % 10u, code % 10u);
    if (!row)
        return NULL;
    if (esc) {
        esc->cls = (uint8_t)(code / 100u);
        esc->subject = row->subject;
        esc->detail = row->detail;
    }
    return row->dotted[ci];
}

size_t smtpreply_esc_count(void)
{
    return ESC_ROWS;
}
