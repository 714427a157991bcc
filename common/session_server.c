/* SPDX-License-Identifier: MIT */
/*
 * session_server.c - the server side of the session engine (see the map
 * in session.c).
 *
 * Map:
 *   - reply_decides: what a paired reply means for the client's held
 *     bytes and mode (body after 354, SASL after 334, TLS after 220);
 *   - reply_complete: a finished reply's checks, stage and pairing with
 *     the oldest pending command, then its event;
 *   - sess_server_line: one reply line into the reply being assembled;
 *   - sess_server_bytes: every server byte, through the TLS probe and
 *     line assembly.
 */
#include <string.h>

#include "smtpreply.h"
#include "kb.h"
#include "session_internal.h"

/* ---------------------------------------------------------------------- */
/* Server side */

static bool esc_equal(const struct smtpreply_esc *a, const struct smtpreply_esc *b)
{
    return a->cls == b->cls && a->subject == b->subject && a->detail == b->detail;
}

/* What the reply means for the client's held bytes and modes. */
static void reply_decides(struct smtpreply_session *s, const struct pending *pc, unsigned code,
                          enum smtpreply_stage stage)
{
    bool hold_released = s->c.mode == C_HOLD && s->held.seq == pc->ref.seq;
    switch (pc->ref.cmd) {
    case SMTPREPLY_CMD_DATA:
        if (pc->flags & PF_BODY_FORCED)
            return; /* the body was assumed already */
        if (!hold_released)
            return;
        if (code == 354) {
            sess_body_start(s);
            if (s->c.resync) { /* a gap hit the held bytes: the body is cut */
                s->c.resync = false;
                s->c.body.gap = true;
            }
        } else {
            /* Refused (503/554...): no body follows (RFC 5321 §3.3). */
            s->c.mode = C_CMD;
            if (s->held.len)
                s->c.flag_next_cmd = true;
        }
        sess_held_release(s);
        break;
    case SMTPREPLY_CMD_AUTH:
        if (!hold_released)
            return;
        s->c.mode = stage == SMTPREPLY_STAGE_AUTH_CHALLENGE ? C_SASL : C_CMD;
        /* RFC 4954 §4: AUTH must end a pipelined group unless it carries an
         * initial response; commands sent after it before a final reply
         * broke that rule. */
        if (s->c.mode == C_CMD && !(pc->flags & PF_HAS_IR) && s->held.len)
            s->c.flag_next_cmd = true;
        sess_held_release(s);
        break;
    case SMTPREPLY_CMD_BDAT:
        /* RFC 3030 §2: the server answers a BDAT once its chunk is in.  A
         * refusal before the first chunk octet refuses the command line
         * itself; the client's next bytes say whether a chunk follows. */
        if (code / 100 == 4 || code / 100 == 5)
            sess_bdat_refused(s, pc->ref.seq);
        break;
    case SMTPREPLY_CMD_STARTTLS:
        if (!hold_released)
            return;
        s->c.mode = C_CMD;
        if (code / 100 == 2 && !(s->stats.flags & SMTPREPLY_SESSION_DECRYPTED)) {
            /* RFC 3207 §4.2: TLS starts now, unless the capture was
             * decrypted (inside TLS a second one starts nothing). */
            s->probe[SMTPREPLY_DIR_CLIENT].active = true;
            s->probe[SMTPREPLY_DIR_CLIENT].n = 0;
            s->c.tls = CT_STARTTLS; /* after STARTTLS's 220 */
            s->srv.probe_after = true;
        } else if (s->held.len) {
            s->c.flag_next_cmd = true;
        }
        sess_held_release(s);
        break;
    default:
        break;
    }
}

/* Does the greeting's text run into a reply to `cmd`: a valid code that
 * `cmd` may get, then '-', SP or the end, glued to a letter before it
 * ("...ESMTP AAAA250-mx.example")?  A server that wrote its greeting
 * without CRLF and then its EHLO answer makes one such line. */
static bool glued_reply(const char *t, size_t n, enum smtpreply_cmd cmd)
{
    for (size_t k = 1; k + 3 <= n; k++) {
        char prev = t[k - 1];
        if (!((prev >= 'A' && prev <= 'Z') || (prev >= 'a' && prev <= 'z')))
            continue;
        if (t[k] < '0' || t[k] > '9' || t[k + 1] < '0' || t[k + 1] > '9' || t[k + 2] < '0' ||
            t[k + 2] > '9')
            continue;
        if (k + 3 < n && t[k + 3] != '-' && t[k + 3] != ' ')
            continue;
        unsigned code = (unsigned)(t[k] - '0') * 100 + (unsigned)(t[k + 1] - '0') * 10 +
                        (unsigned)(t[k + 2] - '0');
        if (smtpreply_code_valid(code) && smtpreply_cmd_expects(cmd, code))
            return true;
    }
    return false;
}

/* The same in the bytes cut from an over-long last line, if any. */
static bool glued_tail(const struct smtpreply_session *s, enum smtpreply_cmd cmd)
{
    const struct line_asm *l = &s->line[SMTPREPLY_DIR_SERVER];
    size_t n = l->tail_n;
    while (n && (l->tail[n - 1] == '\r' || l->tail[n - 1] == '\n'))
        n--;
    return n && glued_reply((const char *)l->tail, n, cmd);
}

/* The transaction's accepted recipients are forgotten (new MAIL, RSET, or
 * the end of data answered). */
static void accepted_clear(struct rcpt_store *a)
{
    a->len = a->count = a->next = 0;
}

/* A RCPT's reply: its address for the event; an accepted one is kept for
 * PRDR's per-recipient replies, as a 2-byte length and the bytes. */
static void rcpt_reply(struct smtpreply_session *s, const struct pending *pc, unsigned code,
                       struct smtpreply_event *ev)
{
    bool known = (pc->flags & PF_RCPT) && pc->rcpt_off <= s->rcpts.len &&
                 pc->rcpt_len <= s->rcpts.len - pc->rcpt_off;
    if (known) {
        /* An empty address (RCPT TO:<>) may come before the store has a
         * buffer. */
        ev->rcpt = s->rcpts.buf ? (const char *)s->rcpts.buf + pc->rcpt_off : "";
        ev->rcpt_len = pc->rcpt_len;
    }
    if (code / 100 != 2)
        return;
    s->accepted.count++;
    uint16_t n = known ? pc->rcpt_len : 0;
    uint32_t mark = s->accepted.len;
    if (sess_store_append(s, &s->accepted, &n, sizeof n) &&
        !sess_store_append(s, &s->accepted, ev->rcpt, n)) {
        s->accepted.len = mark; /* no room for the bytes: an empty record */
        n = 0;
        sess_store_append(s, &s->accepted, &n, sizeof n);
    }
}

/* PRDR: the next accepted recipient's address, in RCPT order. */
static void prdr_rcpt(struct smtpreply_session *s, struct smtpreply_event *ev)
{
    struct rcpt_store *a = &s->accepted;
    uint16_t n;
    if (a->next + sizeof n > a->len)
        return;
    memcpy(&n, a->buf + a->next, sizeof n);
    a->next += (uint32_t)sizeof n;
    if (n > a->len - a->next)
        return;
    if (n) {
        ev->rcpt = (const char *)a->buf + a->next;
        ev->rcpt_len = n;
    }
    a->next += n;
}

/* Adds one line's text to the reply's full text ('\n' between lines),
 * as far as REPLY_TEXT_MAX allows; what does not fit marks it cut. */
static void reply_text_add(struct smtpreply_session *s, const char *p, size_t n)
{
    struct rcpt_store *t = &s->srv.reply.text;
    if (s->srv.reply.text_cut)
        return;
    if (s->srv.reply.nlines > 1 && !sess_store_append(s, t, "\n", 1)) {
        s->srv.reply.text_cut = true;
        return;
    }
    size_t room = REPLY_TEXT_MAX - t->len;
    size_t take = n < room ? n : room;
    if ((take && !sess_store_append(s, t, p, take)) || take < n)
        s->srv.reply.text_cut = true;
}

static void reply_complete(struct smtpreply_session *s, const char *text, size_t text_len,
                           int64_t ts, uint64_t tag)
{
    unsigned code = s->srv.reply.code;
    smtpreply_anomaly_set flags = s->srv.reply.anomalies;
    s->srv.reply.active = false;

    struct smtpreply_event ev;
    sess_event_init(&ev, SMTPREPLY_EV_REPLY, ts, tag);
    ev.code = code;
    ev.nlines = s->srv.reply.nlines;
    ev.has_esc = s->srv.reply.has_esc;
    ev.esc = s->srv.reply.esc;
    ev.first_tag = s->srv.reply.first_tag;
    ev.text = text;
    ev.text_len = text_len;
    ev.full_text = s->srv.reply.text.buf ? (const char *)s->srv.reply.text.buf : "";
    ev.full_text_len = s->srv.reply.text.len;
    ev.full_text_cut = s->srv.reply.text_cut;

    bool valid = smtpreply_code_valid(code);
    if (!valid)
        flags |= ANOM(INVALID_CODE);
    if (ev.has_esc) {
        if (code / 100 == 3)
            flags |= ANOM(ESC_ON_3XX);
        else if (valid && !smtpreply_esc_class_agrees(code, &ev.esc))
            flags |= ANOM(ESC_CLASS_MISMATCH);
    }

    if (s->c.mode == C_BODY && s->c.body.gap) {
        /* The server answers: the body's end was in the lost bytes. */
        line_reset(&s->line[SMTPREPLY_DIR_CLIENT]);
        sess_body_end(s, 0, ts, tag);
    }
    if (s->srv.gap_drop) {
        /* The first reply after lost server bytes.  A 334 while AUTH is
         * the oldest command waiting (RFC 4954 §4), or a 354 while DATA is
         * (RFC 5321 §4.3.2), can answer nothing else, so the lost bytes
         * did not answer it and the pairing holds.  Otherwise the commands
         * that waited at the gap are dropped: their replies may be lost. */
        struct pending *f = fifo_front(s);
        bool holds = f && ((code == 334 && f->ref.cmd == SMTPREPLY_CMD_AUTH) ||
                           (code == 354 && f->ref.cmd == SMTPREPLY_CMD_DATA));
        for (uint32_t n = s->srv.gap_drop; !holds && n && s->fifo_count; n--)
            fifo_pop(s);
        s->srv.gap_drop = 0;
        if (!s->fifo_count)
            s->rcpts.len = 0;
    }
    if (!s->fifo_count && s->srv.any_reply && code != 421 && s->c.mode == C_CMD && !s->c.resync &&
        s->line[SMTPREPLY_DIR_CLIENT].total) {
        /* Nothing waits, but the client has sent part of a line: a reply
         * (other than 421, which may come unasked, RFC 5321 §3.8) shows
         * the server took that line as a command, as servers do with the
         * last line at end of input.  It is the command answered, and
         * keeps the tag of the chunk its first byte came in. */
        sess_client_line(s, false, ts, s->line[SMTPREPLY_DIR_CLIENT].first_tag);
    }
    struct pending *front = fifo_front(s);
    struct pending pc;
    memset(&pc, 0, sizeof pc);
    uint64_t glued = 0;
    s->srv.glued_seq = 0; /* a reply came: the glued answer was not taken */
    bool first = !s->srv.any_reply;
    s->srv.any_reply = true;
    bool greeting_code = smtpreply_code_is_greeting(code);
    if (first && s->srv.greet_strict && front && !greeting_code) {
        /* The server speaks first (RFC 5321 §3.1), but this reply cannot be
         * a greeting and a command is waiting: the server never greeted
         * (or the greeting is not in the record), and this is the answer. */
        flags |= ANOM(GREETING_MISSING);
    }
    /* Without the greeting rule (mid-stream, an excerpt), a first 220 is
     * still the greeting unless it can be STARTTLS's answer. */
    bool looks_greeting = code == 220 && (front ? front->ref.cmd != SMTPREPLY_CMD_STARTTLS
                                                : s->stats.commands == 0);
    if (first && ((s->srv.greet_strict && (!front || greeting_code)) || looks_greeting)) {
        /* The first reply is the greeting even if an eager client already
         * sent a command (RFC 5321 §3.1: the server speaks first). */
        ev.stage = SMTPREPLY_STAGE_GREETING;
        if (!greeting_code)
            flags |= ANOM(GREETING_UNEXPECTED);
        /* An eager client's EHLO/HELO is waiting and the greeting line runs
         * into its answer: if the client's next command comes before any
         * other reply, that answer was this line (the client read it:
         * RFC 2920 §3.1 makes EHLO end a group); client_command decides. */
        if (front &&
            (front->ref.cmd == SMTPREPLY_CMD_EHLO || front->ref.cmd == SMTPREPLY_CMD_HELO) &&
            (glued_reply(text, text_len, front->ref.cmd) || glued_tail(s, front->ref.cmd)))
            glued = front->ref.seq;
    } else if (!front) {
        ev.stage = SMTPREPLY_STAGE_UNSOLICITED;
        /* 421 may come at any time when the server must close (§3.8);
         * after a gap or mid-stream start, replies to unseen commands are expected. */
        if (code != 421 && !s->srv.suppress_nocmd && !s->c.resync)
            flags |= ANOM(NO_COMMAND_PENDING);
        /* After a client-side gap, before guessing from the next verb: a
         * 354 says the lost bytes held DATA, so what follows is its body
         * (judged line by line as after a gap in a body: a "." line, a
         * verb line or the next reply ends it, and that reply answers the
         * end of data). */
        if (code == 354 && s->c.mode == C_CMD && s->c.resync) {
            s->c.resync = false;
            sess_body_start(s);
            s->c.body.gap = true;
        }
    } else {
        pc = *front;
        ev.has_cmd = true;
        ev.cmd = pc.ref;
        ev.rt_us = ts - pc.ref.ts_us;
        s->srv.suppress_nocmd = false; /* pairing is established */
        bool keep = false;
        enum smtpreply_cmd expect_cmd = pc.ref.cmd;
        switch (pc.ref.cmd) {
        case SMTPREPLY_CMD_DATA:
            ev.stage = SMTPREPLY_STAGE_DATA_START;
            break;
        case SMTPREPLY_CMD_DATA_END:
            /* draft-hall-prdr-00 §3: with PRDR, the end of data may get 353,
             * then one reply per accepted recipient (in RCPT order), then
             * the reply for the message; all answer the end of data. */
            ev.stage = SMTPREPLY_STAGE_DATA_END;
            if (pc.flags & PF_PRDR_STARTED) {
                if (s->accepted.done < s->accepted.count) {
                    s->accepted.done++;
                    ev.stage = SMTPREPLY_STAGE_PRDR_RCPT;
                    prdr_rcpt(s, &ev);
                    keep = true;
                }
            } else if ((pc.flags & PF_PRDR) && code == 353) {
                ev.stage = SMTPREPLY_STAGE_PRDR_START;
                front->flags |= PF_PRDR_STARTED;
                s->accepted.next = 0;
                s->accepted.done = 0;
                keep = true;
            }
            if (ev.stage != SMTPREPLY_STAGE_DATA_END)
                expect_cmd = SMTPREPLY_CMD_UNKNOWN; /* 353, then any recipient's code */
            break;
        case SMTPREPLY_CMD_RCPT:
            ev.stage = SMTPREPLY_STAGE_REPLY;
            rcpt_reply(s, &pc, code, &ev);
            break;
        case SMTPREPLY_CMD_BDAT:
            ev.stage = SMTPREPLY_STAGE_BDAT;
            break;
        case SMTPREPLY_CMD_AUTH:
            if (code == 334 && !(pc.flags & PF_SASL_CANCEL)) {
                ev.stage = SMTPREPLY_STAGE_AUTH_CHALLENGE;
                keep = true; /* the exchange goes on */
            } else {
                ev.stage = SMTPREPLY_STAGE_AUTH_FINAL;
            }
            break;
        default:
            ev.stage = SMTPREPLY_STAGE_REPLY;
            break;
        }
        if (valid) {
            if (pc.flags & PF_SASL_CANCEL) {
                if (code != 501) /* RFC 4954 §4: "*" cancels, the server answers 501 */
                    flags |= ANOM(CODE_UNEXPECTED);
            } else if (!smtpreply_cmd_expects(expect_cmd, code)) {
                flags |= ANOM(CODE_UNEXPECTED);
            }
        }
        if (pc.ref.cmd == SMTPREPLY_CMD_DATA && code == 354 && s->c.mode == C_HOLD &&
            s->held.seq == pc.ref.seq && s->held.len)
            flags |= ANOM(DATA_BEFORE_354);
        if (!keep)
            fifo_pop(s);
    }
    ev.anomalies = flags;
    s->stats.replies++;
    s->srv.glued_seq = glued;
    sess_emit(s, &ev);
    if (ev.has_cmd) {
        enum smtpreply_cmd c = pc.ref.cmd;
        if ((c == SMTPREPLY_CMD_MAIL && code / 100 == 2) || c == SMTPREPLY_CMD_RSET ||
            ev.stage == SMTPREPLY_STAGE_DATA_END)
            accepted_clear(&s->accepted); /* a transaction starts or ends */
    }
    if (!s->fifo_count)
        s->rcpts.len = 0; /* no RCPT waits: its addresses are done with */
    if (ev.has_cmd)
        reply_decides(s, &pc, code, ev.stage);
    if (s->srv.probe_after) {
        s->srv.probe_after = false;
        s->probe[SMTPREPLY_DIR_SERVER].active = true;
        s->probe[SMTPREPLY_DIR_SERVER].n = 0;
    }
}

void sess_server_line(struct smtpreply_session *s, bool bare_lf, int64_t ts, uint64_t tag)
{
    struct line_asm *l = &s->line[SMTPREPLY_DIR_SERVER];
    smtpreply_anomaly_set flags = sess_line_end_anomalies(s, l, bare_lf);
    if (l->total + 2 > RFC_REPLY_LINE_MAX)
        flags |= ANOM(REPLY_LINE_TOO_LONG);
    uint64_t first_tag = l->first_tag;
    uint32_t len = l->len;
    line_reset(l);

    struct smtpreply_line rl;
    if (!smtpreply_parse_reply_line((const char *)l->buf, len, &rl)) {
        if (s->srv.resync)
            return; /* still looking for a reply line */
        flags |= ANOM(NOT_A_REPLY);
        flags &= ~ANOM(REPLY_LINE_TOO_LONG);
        if (s->srv.reply.active)
            s->srv.reply.anomalies |= flags; /* inside a multi-line reply: noted, ignored */
        else
            sess_emit_anomaly_set(s, flags, SMTPREPLY_DIR_SERVER, ts, tag);
        return;
    }
    s->srv.resync = false;
    /* RFC 4954 §4: "334 " (code, space, nothing) is the empty challenge. */
    if (rl.text_len == 0 && !(rl.code == 334 && rl.sep == ' '))
        flags |= ANOM(BARE_CODE);
    if (rl.bad_esc)
        flags |= ANOM(ESC_MALFORMED);

    struct pending *front = fifo_front(s);
    if (front && front->ref.cmd == SMTPREPLY_CMD_EHLO) {
        /* RFC 5321 §4.1.1.1: EHLO's reply lists one extension per line. */
        if (!s->srv.reply.active)
            s->srv.prdr_offered = false;
        if (rl.text_len >= 4 && (rl.text_len == 4 || rl.text[4] == ' ') &&
            (rl.text[0] | 0x20) == 'p' && (rl.text[1] | 0x20) == 'r' &&
            (rl.text[2] | 0x20) == 'd' && (rl.text[3] | 0x20) == 'r')
            s->srv.prdr_offered = true;
    }
    if (!s->srv.reply.active) {
        s->srv.reply.active = true;
        s->srv.reply.code = rl.code;
        s->srv.reply.nlines = 0;
        s->srv.reply.has_esc = false;
        s->srv.reply.anomalies = 0;
        s->srv.reply.first_tag = first_tag;
        s->srv.reply.text.len = 0;
        s->srv.reply.text_cut = false;
    } else if (rl.code != s->srv.reply.code) {
        flags |= ANOM(CODE_MISMATCH);
    }
    /* The last line's code is the one clients act on (they read to the
     * final line); the mismatch is flagged. */
    s->srv.reply.code = rl.code;
    s->srv.reply.nlines++;
    reply_text_add(s, rl.text, rl.text_len);
    if (s->srv.reply.nlines > s->lim.max_reply_lines && s->lim.max_reply_lines) {
        if (s->srv.reply.nlines == s->lim.max_reply_lines + 1)
            s->stats.lines_cut++;
        flags |= ANOM(TOO_MANY_LINES);
    }
    if (rl.has_esc) {
        if (!s->srv.reply.has_esc) {
            s->srv.reply.has_esc = true;
            s->srv.reply.esc = rl.esc;
        } else if (!esc_equal(&s->srv.reply.esc, &rl.esc)) {
            flags |= ANOM(ESC_INCONSISTENT);
        }
    }
    s->srv.reply.anomalies |= flags;
    if (rl.sep != '-')
        reply_complete(s, rl.text, rl.text_len, ts, tag);
}

void sess_server_bytes(struct smtpreply_session *s, const uint8_t *p, size_t n, int64_t ts,
                       uint64_t tag)
{
    size_t i = 0;
    while (i < n && sess_parsing(s)) {
        if (s->probe[SMTPREPLY_DIR_SERVER].active) {
            i += sess_probe_bytes(s, SMTPREPLY_DIR_SERVER, p + i, n - i, ts, tag);
            continue;
        }
        bool done, bare;
        i += sess_line_take(s, &s->line[SMTPREPLY_DIR_SERVER], p + i, n - i, tag, &done, &bare);
        if (done)
            sess_server_line(s, bare, ts, tag);
    }
    if (i < n)
        sess_tls_rest(s, SMTPREPLY_DIR_SERVER, p + i, n - i, ts, tag);
}
