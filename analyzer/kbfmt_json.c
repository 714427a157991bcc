/* SPDX-License-Identifier: MIT */
/* kbfmt_json.c - knowledge-base entries as JSON (keys per CONTRACTS.md,
 * `explain --json`) and small printing helpers. */
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

json_t *kbfmt_string_lossy(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    char *copy;
    if (j)
        return j;
    copy = malloc(len + 1);
    if (!copy)
        return json_null();
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        copy[i] = (c >= 0x80 || c == 0) ? '?' : (char)c;
    }
    j = json_stringn(copy, len);
    free(copy);
    return j ? j : json_null();
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
