/* SPDX-License-Identifier: MIT */
/* kbfmt_json.c - knowledge-base entries as JSON (keys per docs/contracts.md,
 * `explain --json`) and small printing helpers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kb.h"
#include "kbfmt.h"

json_t *kbfmt_list_json(const char *list)
{
    json_t *arr = json_array();
    const char *cur = list, *item;
    size_t len;
    while ((item = smtpreply_list_next(&cur, &len)) != NULL) {
        if (len > 0)
            json_array_append_new(arr, json_stringn(item, len));
    }
    return arr;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF), or 0 if the byte starts none. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

json_t *kbfmt_string_lossy(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    if (j)
        return j;
    /* Each bad byte becomes U+FFFD (3 bytes): len * 3 + 1 must not wrap. */
    if (len > (SIZE_MAX - 1) / 3)
        return json_null();
    char *copy = malloc(len * 3 + 1);
    if (!copy)
        return json_null();
    size_t n = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_len(u + i, len - i);
        if (k == 0) {
            memcpy(copy + n, "\xef\xbf\xbd", 3);
            n += 3;
            i++;
        } else {
            memcpy(copy + n, u + i, k);
            n += k;
            i += k;
        }
    }
    j = json_stringn(copy, n);
    free(copy);
    return j ? j : json_null();
}

void kbfmt_print_text(FILE *out, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_len(u + i, len - i);
        if (k == 0 || u[i] < 0x20 || u[i] == 0x7f) {
            fprintf(out, "\\x%02x", u[i]);
            i++;
        } else {
            fwrite(u + i, 1, k, out);
            i += k;
        }
    }
}

const char *kbfmt_retry_word(enum smtpreply_retry r)
{
    static const char *const words[] = {"done", "continue", "later", "never", "abort"};
    return (unsigned)r < sizeof words / sizeof words[0] ? words[r] : "";
}

json_t *kbfmt_code_json(unsigned code)
{
    struct smtpreply_code_info info;
    const char *verbs[SMTPREPLY_CMD__COUNT + 1];
    size_t nverbs;
    json_t *o, *commands, *contexts;
    enum smtpreply_cmd cmd;
    const char *meaning, *rfc;

    if (!smtpreply_code_explain(code, &info))
        return NULL;
    o = json_object();
    json_object_set_new(o, "code", json_integer(code));
    json_object_set_new(o, "class", json_integer(info.cls));
    json_object_set_new(o, "class_name", json_string(info.class_name));
    json_object_set_new(o, "category", json_integer(info.category));
    json_object_set_new(o, "category_name", json_string(info.category_name));
    json_object_set_new(o, "status", json_string(smtpreply_status_name(info.status)));
    json_object_set_new(o, "meaning", json_string(info.meaning));
    json_object_set_new(o, "rfc", kbfmt_list_json(info.rfc));
    commands = json_array();
    nverbs = smtpreply_code_commands(code, verbs, sizeof verbs / sizeof verbs[0]);
    for (size_t i = 0; i < nverbs && i < sizeof verbs / sizeof verbs[0]; i++)
        json_array_append_new(commands, json_string(verbs[i]));
    json_object_set_new(o, "commands", commands);
    json_object_set_new(o, "notes", kbfmt_list_json(info.notes));
    json_object_set_new(o, "retry", json_string(kbfmt_retry_word(info.retry)));
    json_object_set_new(o, "retry_advice", json_string(smtpreply_retry_advice(info.retry)));
    contexts = json_array();
    for (size_t i = 0; smtpreply_code_context(code, i, &cmd, &meaning, &rfc); i++) {
        json_t *c = json_object();
        json_object_set_new(c, "command", json_string(smtpreply_cmd_verb(cmd)));
        json_object_set_new(c, "meaning", json_string(meaning));
        json_object_set_new(c, "rfc", kbfmt_list_json(rfc));
        json_array_append_new(contexts, c);
    }
    json_object_set_new(o, "contexts", contexts);
    json_object_set_new(o, "in_table", json_boolean(info.in_table));
    json_object_set_new(o, "enhanced", json_null());
    return o;
}

json_t *kbfmt_esc_json(const struct smtpreply_esc *e)
{
    struct smtpreply_esc_info info;
    char text[16];
    json_t *o = json_object();
    smtpreply_esc_explain(e, &info);
    smtpreply_esc_format(e, text, sizeof text);
    json_object_set_new(o, "code", json_string(text));
    json_object_set_new(o, "class", json_integer(e->cls));
    json_object_set_new(o, "class_name", json_string(info.class_name));
    json_object_set_new(o, "subject", json_integer(e->subject));
    json_object_set_new(o, "subject_name", json_string(info.subject_name));
    json_object_set_new(o, "detail", json_integer(e->detail));
    json_object_set_new(o, "meaning", json_string(info.meaning));
    json_object_set_new(o, "description", json_string(info.description));
    json_object_set_new(o, "rfc", kbfmt_list_json(info.rfc));
    json_object_set_new(o, "status", json_string(smtpreply_status_name(info.status)));
    json_object_set_new(o, "associated", kbfmt_list_json(info.assoc));
    json_object_set_new(o, "notes", kbfmt_list_json(info.notes));
    return o;
}

void kbfmt_print_list(FILE *out, const char *list, const char *sep)
{
    const char *cur = list, *item;
    size_t len;
    int first = 1;
    while ((item = smtpreply_list_next(&cur, &len)) != NULL) {
        fprintf(out, "%s%.*s", first ? "" : sep, (int)len, item);
        first = 0;
    }
}

int kbfmt_dump(json_t *j, FILE *out)
{
    if (json_dumpf(j, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
        return -1;
    fputc('\n', out);
    return 0;
}
