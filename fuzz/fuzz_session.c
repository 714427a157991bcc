/* SPDX-License-Identifier: MIT */
/*
 * fuzz_session.c - the session engine on arbitrary dialogues.
 *
 * Input: byte 0 picks flags and small limits (so the caps are hit);
 * the rest is a script of records [ctl][len][len bytes]: ctl bit 0 is the
 * direction, bit 1 a gap of `len` bytes instead of data.  Properties:
 *   - no crash, leak or sanitizer report; every event is well formed;
 *   - split invariance: fed whole and byte by byte (and split in two at a
 *     position taken from the input), the event streams hash alike;
 *   - heap use never exceeds the bound stated in docs/session-engine.md.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpreply.h"

struct acc {
    uint64_t h;
    uint64_t n;
    int bad;
};

static void mix(struct acc *a, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        a->h = (a->h ^ b[i]) * 1099511628211ull;
}

static void on_event(void *user, const struct smtpreply_event *ev)
{
    struct acc *a = user;
    a->n++;
    uint32_t t = (uint32_t)ev->type;
    mix(a, &t, sizeof t);
    mix(a, &ev->anomalies, sizeof ev->anomalies);
    mix(a, &ev->tag, sizeof ev->tag);
    mix(a, &ev->ts_us, sizeof ev->ts_us);
    if (ev->text_len && !ev->text)
        a->bad = 1;
    if (ev->text_len)
        mix(a, ev->text, ev->text_len);
    if (ev->has_cmd) {
        mix(a, &ev->cmd.seq, sizeof ev->cmd.seq);
        mix(a, ev->cmd.verb, strnlen(ev->cmd.verb, sizeof ev->cmd.verb));
        if (strnlen(ev->cmd.verb, sizeof ev->cmd.verb) == sizeof ev->cmd.verb)
            a->bad = 1; /* verb must be NUL-terminated */
    }
    if (ev->type == SMTPREPLY_EV_REPLY) {
        if (ev->code > 999 || ev->nlines == 0 || (unsigned)ev->stage >= SMTPREPLY_STAGE__COUNT)
            a->bad = 1;
        mix(a, &ev->code, sizeof ev->code);
        mix(a, &ev->nlines, sizeof ev->nlines);
        uint32_t stage = (uint32_t)ev->stage;
        mix(a, &stage, sizeof stage);
        mix(a, &ev->first_tag, sizeof ev->first_tag);
        mix(a, &ev->rt_us, sizeof ev->rt_us);
        if (ev->rcpt) { /* a RCPT's or PRDR recipient's address, at most 256 bytes */
            if (ev->rcpt_len > 256)
                a->bad = 1;
            mix(a, ev->rcpt, ev->rcpt_len);
        }
        if (ev->has_esc) { /* field by field: the struct has a padding byte */
            mix(a, &ev->esc.cls, sizeof ev->esc.cls);
            mix(a, &ev->esc.subject, sizeof ev->esc.subject);
            mix(a, &ev->esc.detail, sizeof ev->esc.detail);
        }
    }
    if (ev->type != SMTPREPLY_EV_REPLY && ev->rcpt)
        a->bad = 1;
    if (ev->type == SMTPREPLY_EV_ANOMALY && (unsigned)ev->anomaly >= SMTPREPLY_ANOM__COUNT)
        a->bad = 1;
    if (ev->anomalies >> SMTPREPLY_ANOM__COUNT)
        a->bad = 1;
}

/* mode 0: whole records; 1: byte by byte; 2: each record split at `cut`. */
static uint64_t run(const uint8_t *data, size_t size, int mode, size_t cut, struct acc *a,
                    size_t *peak)
{
    struct smtpreply_limits lim;
    smtpreply_limits_default(&lim);
    uint8_t f = data[0];
    if (f & 0x02) {
        lim.max_line = 8 + (f >> 4);
        lim.max_pending = 1 + (f >> 5);
        lim.max_reply_lines = 1 + (f >> 6);
        lim.max_held = 4 + (f >> 4);
    }
    struct smtpreply_session *s =
        smtpreply_session_new(&lim, NULL, NULL, on_event, a,
                              (f & 1) ? SMTPREPLY_SESSION_MIDSTREAM : 0);
    if (!s)
        return 0;
    size_t i = 1;
    uint64_t rec = 0;
    *peak = 0;
    while (i + 2 <= size) {
        uint8_t ctl = data[i];
        size_t len = data[i + 1];
        i += 2;
        if (len > size - i)
            len = size - i;
        enum smtpreply_dir dir = (ctl & 1) ? SMTPREPLY_DIR_SERVER : SMTPREPLY_DIR_CLIENT;
        rec++;
        if (ctl & 2) {
            smtpreply_session_gap(s, dir, len, (int64_t)rec, rec);
            continue; /* a gap record carries no bytes */
        }
        const uint8_t *p = data + i;
        if (mode == 0) {
            smtpreply_session_feed(s, dir, p, len, (int64_t)rec, rec);
        } else if (mode == 1) {
            for (size_t k = 0; k < len; k++)
                smtpreply_session_feed(s, dir, p + k, 1, (int64_t)rec, rec);
        } else {
            size_t c = cut < len ? cut : len;
            smtpreply_session_feed(s, dir, p, c, (int64_t)rec, rec);
            smtpreply_session_feed(s, dir, p + c, len - c, (int64_t)rec, rec);
        }
        i += len;
        size_t now = smtpreply_session_stats(s)->bytes_allocated;
        if (now > *peak)
            *peak = now;
    }
    smtpreply_session_finish(s, (int64_t)rec + 1, rec + 1);
    smtpreply_session_finish(s, (int64_t)rec + 2, rec + 2); /* idempotent */
    const struct smtpreply_session_stats *st = smtpreply_session_stats(s);
    mix(a, &st->commands, sizeof st->commands);
    mix(a, &st->replies, sizeof st->replies);
    mix(a, &st->unanswered, sizeof st->unanswered);
    mix(a, &st->flags, sizeof st->flags);
    size_t bound = 1024 + 2 * (size_t)lim.max_line + (size_t)lim.max_held +
                   (size_t)lim.max_pending * 64 + 512 +
                   2 * 16384; /* the two recipient-address stores */
    if (*peak > bound)
        a->bad = 1;
    smtpreply_session_free(s);
    return a->h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t peak;
    struct acc whole = {14695981039346656037ull, 0, 0};
    struct acc bytes = whole, split = whole;
    run(data, size, 0, 0, &whole, &peak);
    if (whole.bad)
        abort();
    if (size <= 8192) {
        run(data, size, 1, 0, &bytes, &peak);
        run(data, size, 2, (size_t)data[0] * 3u % 97u, &split, &peak);
        if (bytes.h != whole.h || split.h != whole.h || bytes.n != whole.n)
            abort(); /* results depend on where chunks split */
    }
    return 0;
}
