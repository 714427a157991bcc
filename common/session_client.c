/* SPDX-License-Identifier: MIT */
/*
 * session_client.c - the client side of the session engine (see the map
 * in session.c).
 *
 * Map:
 *   - held bytes: client bytes kept, as tagged records, while a reply
 *     decides what they are (after DATA, AUTH, STARTTLS); released or
 *     forced when max_held overflows;
 *   - command lines: verb, line limits, pipelining rules, queueing in the
 *     FIFO, and the mode each command starts (HOLD, BDAT);
 *   - SASL response lines (RFC 4954 section 4);
 *   - the DATA body (scanned without copying) and its "." end;
 *   - sess_client_bytes: the mode machine that routes every client byte.
 */
#include <string.h>

#include "smtpreply.h"
#include "session_internal.h"

/* ---------------------------------------------------------------------- */
/* Held bytes */

/* Each record: tag (8 bytes), time (8), length (4), then the bytes.  At
 * most HELD_RECORDS of them; a later chunk joins the last record, which
 * then takes the newest chunk's tag and time (as all held bytes did before
 * records existed). */
#define HELD_HDR 20u
#define HELD_RECORDS 16u

static void held_hdr_put(uint8_t *h, uint64_t tag, int64_t ts, uint32_t len)
{
    memcpy(h, &tag, 8);
    memcpy(h + 8, &ts, 8);
    memcpy(h + 16, &len, 4);
}

static void held_hdr_get(const uint8_t *h, uint64_t *tag, int64_t *ts, uint32_t *len)
{
    memcpy(tag, h, 8);
    memcpy(ts, h + 8, 8);
    memcpy(len, h + 16, 4);
}

void sess_held_clear(struct smtpreply_session *s)
{
    s->held.len = 0;
    s->held.payload = 0;
    s->held.records = 0;
    s->held.last = 0;
}

static bool held_append(struct smtpreply_session *s, const uint8_t *p, size_t n, int64_t ts,
                        uint64_t tag)
{
    if (n > (size_t)s->lim.max_held - s->held.payload)
        return false;
    if (n == 0)
        return true;
    uint64_t last_tag = 0;
    int64_t last_ts = 0;
    uint32_t last_len = 0;
    if (s->held.records)
        held_hdr_get(s->held.buf + s->held.last, &last_tag, &last_ts, &last_len);
    bool join = s->held.records && (last_tag == tag || s->held.records >= HELD_RECORDS);
    /* In 64 bits: a caller's max_held near UINT32_MAX must not wrap. */
    uint64_t need64 = (uint64_t)s->held.len + n + (join ? 0 : HELD_HDR);
    uint64_t max_cap64 = (uint64_t)s->lim.max_held + HELD_RECORDS * HELD_HDR;
    uint32_t max_cap = max_cap64 > UINT32_MAX ? UINT32_MAX : (uint32_t)max_cap64;
    if (need64 > max_cap)
        return false; /* the overflow path takes it */
    uint32_t need = (uint32_t)need64;
    if (need > s->held.cap) {
        uint32_t ncap = s->held.cap ? s->held.cap : 256;
        if (ncap > max_cap)
            ncap = max_cap;
        while (ncap < need)
            ncap = ncap > max_cap / 2 ? max_cap : ncap * 2;
        uint8_t *b = sess_mem(s, s->held.buf, s->held.cap, ncap);
        if (!b)
            return false;
        s->held.buf = b;
        s->held.cap = ncap;
    }
    if (join) {
        held_hdr_put(s->held.buf + s->held.last, tag, ts, last_len + (uint32_t)n);
    } else {
        s->held.last = s->held.len;
        held_hdr_put(s->held.buf + s->held.len, tag, ts, (uint32_t)n);
        s->held.len += HELD_HDR;
        s->held.records++;
    }
    memcpy(s->held.buf + s->held.len, p, n);
    s->held.len += (uint32_t)n;
    s->held.payload += (uint32_t)n;
    return true;
}

/* Re-feed the held bytes in the client mode just chosen, each record with
 * its own tag and time.  The buffer is detached first: interpreting it may
 * start a new hold, which then takes the remaining records. */
void sess_held_release(struct smtpreply_session *s)
{
    uint8_t *b = s->held.buf;
    uint32_t len = s->held.len, cap = s->held.cap;
    s->held.buf = NULL;
    s->held.cap = 0;
    sess_held_clear(s);
    for (uint32_t off = 0; off + HELD_HDR <= len;) {
        uint64_t tag;
        int64_t ts;
        uint32_t n;
        held_hdr_get(b + off, &tag, &ts, &n);
        off += HELD_HDR;
        if (n > len - off)
            n = len - off; /* cannot happen; bounds the read regardless */
        sess_client_bytes(s, b + off, n, ts, tag);
        off += n;
    }
    if (!s->held.buf && b) {
        s->held.buf = b; /* keep the buffer for the next hold */
        s->held.cap = cap;
    } else if (b) {
        sess_mem(s, b, cap, 0);
    }
}

void sess_tls_stash(struct smtpreply_session *s, const uint8_t *p, size_t n, int64_t ts,
                    uint64_t tag)
{
    if (!s->tls.fn || s->tls.stash_off || !s->probe[SMTPREPLY_DIR_SERVER].active)
        return; /* no sink, or the server already spoke plaintext */
    if (!p || s->tls.stash_lost || !held_append(s, p, n, ts, tag)) {
        /* Past max_held, or lost (p NULL): the handshake is cut; only its
         * length counts. */
        s->tls.stash_lost += s->tls.stash_lost ? n : s->held.payload + n;
        sess_held_clear(s);
    }
}

void sess_tls_stash_out(struct smtpreply_session *s)
{
    if (s->tls.stash_lost) {
        int64_t ts = 0;
        uint64_t tag = 0;
        s->tls.fn(s->tls.user, SMTPREPLY_DIR_CLIENT, NULL, 0, s->tls.stash_lost, ts, tag);
    } else {
        const uint8_t *b = s->held.buf;
        for (uint32_t off = 0; b && off + HELD_HDR <= s->held.len;) {
            uint64_t tag;
            int64_t ts;
            uint32_t n;
            held_hdr_get(b + off, &tag, &ts, &n);
            off += HELD_HDR;
            if (n > s->held.len - off)
                n = s->held.len - off;
            s->tls.fn(s->tls.user, SMTPREPLY_DIR_CLIENT, b + off, n, 0, ts, tag);
            off += n;
        }
    }
    sess_tls_stash_drop(s);
}

void sess_tls_stash_drop(struct smtpreply_session *s)
{
    sess_held_clear(s);
    s->tls.stash_lost = 0;
    s->tls.stash_off = true;
}

static void start_hold(struct smtpreply_session *s, uint64_t seq)
{
    s->c.mode = C_HOLD;
    s->held.seq = seq;
    sess_held_clear(s);
}

/* ---------------------------------------------------------------------- */
/* Client side */

static bool must_end_group(enum smtpreply_cmd c)
{
    /* RFC 2920 §3.1, RFC 3207 §4.2 (STARTTLS), RFC 4954 §4 (AUTH). */
    switch (c) {
    case SMTPREPLY_CMD_EHLO:
    case SMTPREPLY_CMD_DATA:
    case SMTPREPLY_CMD_VRFY:
    case SMTPREPLY_CMD_EXPN:
    case SMTPREPLY_CMD_TURN:
    case SMTPREPLY_CMD_QUIT:
    case SMTPREPLY_CMD_NOOP:
    case SMTPREPLY_CMD_STARTTLS:
        return true;
    default:
        return false;
    }
}

static void uppercase_verb(char *dst, size_t dstsize, const uint8_t *src, size_t len)
{
    size_t n = len < dstsize - 1 ? len : dstsize - 1;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = src[i];
        dst[i] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
    }
    dst[n] = 0;
}

/* RFC 3030 §2: bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CRLF,
 * chunk-size = 1*DIGIT, end-marker = "LAST".  A size takes 1 to 19 digits
 * and at most 2^63-1 (what a client can count; "0" is valid, as BDAT 0
 * LAST ends a message).  Repeated spaces are tolerated, as servers split
 * on blanks.  False for anything else: then no chunk is read. */
static bool parse_bdat(const uint8_t *p, size_t len, size_t verb_len, uint64_t *size)
{
    size_t i = verb_len;
    if (i >= len || p[i] != ' ')
        return false;
    while (i < len && p[i] == ' ')
        i++;
    size_t start = i;
    uint64_t v = 0;
    while (i < len && p[i] >= '0' && p[i] <= '9') {
        if (i - start == 19)
            return false;
        v = v * 10 + (uint64_t)(p[i] - '0'); /* 19 digits fit in 64 bits */
        i++;
    }
    if (i == start || v > (uint64_t)INT64_MAX)
        return false;
    if (i < len && p[i] != ' ')
        return false;
    while (i < len && p[i] == ' ')
        i++;
    if (i < len) {
        static const char last[4] = {'L', 'A', 'S', 'T'};
        if (len - i < 4)
            return false;
        for (size_t k = 0; k < 4; k++)
            if ((p[i + k] & 0xDFu) != (uint8_t)last[k])
                return false;
        i += 4;
        while (i < len && p[i] == ' ')
            i++;
        if (i < len)
            return false;
    }
    *size = v;
    return true;
}

/* Case-insensitive: does p[0..n) start with the uppercase word w? */
static bool starts_word(const uint8_t *p, size_t n, const char *w)
{
    size_t k = strlen(w);
    if (n < k)
        return false;
    for (size_t i = 0; i < k; i++)
        if ((p[i] >= 'a' && p[i] <= 'z' ? p[i] - 32 : p[i]) != (uint8_t)w[i])
            return false;
    return true;
}

/* "MAIL FROM:<a> ... PRDR ...": the PRDR parameter (draft-hall-prdr-00 §3). */
static bool mail_asks_prdr(const uint8_t *p, size_t len)
{
    const uint8_t *gt = memchr(p, '>', len);
    size_t i = gt ? (size_t)(gt - p) + 1 : len;
    while (i < len) {
        while (i < len && p[i] == ' ')
            i++;
        size_t start = i;
        while (i < len && p[i] != ' ')
            i++;
        if (i - start == 4 && starts_word(p + start, 4, "PRDR"))
            return true;
    }
    return false;
}

void sess_rcpt_keep(struct smtpreply_session *s, struct pending *q, const uint8_t *p, size_t len)
{
    size_t i = 4; /* after "RCPT" */
    while (i < len && p[i] == ' ')
        i++;
    if (!starts_word(p + i, len - i, "TO:"))
        return;
    i += 3;
    while (i < len && p[i] == ' ')
        i++;
    size_t start = i, end;
    if (i < len && p[i] == '<') {
        start = ++i;
        const uint8_t *gt = memchr(p + i, '>', len - i);
        end = gt ? (size_t)(gt - p) : len;
    } else {
        while (i < len && p[i] != ' ')
            i++;
        end = i;
    }
    size_t n = end - start;
    if (n > RCPT_ADDR_MAX)
        n = RCPT_ADDR_MAX;
    uint32_t off = s->rcpts.len;
    if (!sess_store_append(s, &s->rcpts, p + start, n))
        return;
    q->flags |= PF_RCPT;
    q->rcpt_off = off;
    q->rcpt_len = (uint16_t)n;
}

static void client_command(struct smtpreply_session *s, const uint8_t *p, size_t len,
                           uint64_t total, smtpreply_anomaly_set flags, int64_t ts, uint64_t tag)
{
    /* Servers split the line on blanks (Postfix, Exim), so " QUIT" is QUIT. */
    while (len > 0 && (p[0] == ' ' || p[0] == '\t')) {
        p++;
        len--;
    }
    size_t vlen = smtpreply_parse_command_verb((const char *)p, len);
    enum smtpreply_cmd cmd = smtpreply_cmd_from_verb((const char *)p, vlen);
    if (vlen < len && p[vlen] != ' ')
        cmd = SMTPREPLY_CMD_UNKNOWN; /* "MAIL:" or "DATA\t" is no verb we know */

    if (s->c.resync) {
        if (cmd == SMTPREPLY_CMD_UNKNOWN)
            return; /* still looking for a line we can trust */
        s->c.resync = false;
    }

    uint64_t limit = RFC_COMMAND_LINE_MAX;
    if (cmd == SMTPREPLY_CMD_AUTH)
        limit = RFC_AUTH_LINE_MAX;
    else if (cmd == SMTPREPLY_CMD_MAIL || cmd == SMTPREPLY_CMD_RCPT)
        limit = RFC_MAIL_LINE_MAX;
    if (total + 2 > limit)
        flags |= ANOM(COMMAND_LINE_TOO_LONG);

    uint64_t bdat_size = 0;
    bool bdat_ok = false;
    if (cmd == SMTPREPLY_CMD_BDAT) {
        bdat_ok = parse_bdat(p, len, vlen, &bdat_size);
        if (!bdat_ok)
            flags |= ANOM(BDAT_BAD_SIZE);
    }

    struct pending *front = fifo_front(s);
    if (s->srv.glued_seq && front && front->ref.seq == s->srv.glued_seq &&
        front->ref.seq == s->cmd_seq)
        fifo_pop(s); /* its answer was glued into the greeting line, which the client read */
    s->srv.glued_seq = 0;
    /* Commands that waited at a server gap may have had their replies
     * lost: they say nothing of pipelining. */
    struct pending *back = s->fifo_count > s->srv.gap_drop ? fifo_back(s) : NULL;
    if ((back && must_end_group(back->ref.cmd)) || s->c.flag_next_cmd)
        flags |= ANOM(PIPELINE_NOT_LAST);
    s->c.flag_next_cmd = false;

    struct smtpreply_cmd_ref ref;
    memset(&ref, 0, sizeof ref);
    ref.seq = ++s->cmd_seq;
    ref.cmd = cmd;
    uppercase_verb(ref.verb, sizeof ref.verb, p, vlen);
    ref.ts_us = ts;
    ref.tag = tag;

    struct pending *q = sess_fifo_push(s, &ref, &flags);
    s->stats.commands++;

    struct smtpreply_event ev;
    sess_event_init(&ev, SMTPREPLY_EV_COMMAND, ts, tag);
    ev.first_tag = s->line[SMTPREPLY_DIR_CLIENT].first_tag;
    ev.anomalies = flags;
    ev.has_cmd = true;
    ev.cmd = ref;
    ev.text = (const char *)p;
    ev.text_len = len;
    sess_emit(s, &ev);

    if (!q)
        return;
    switch (cmd) {
    case SMTPREPLY_CMD_DATA:
    case SMTPREPLY_CMD_STARTTLS:
        start_hold(s, ref.seq);
        break;
    case SMTPREPLY_CMD_MAIL:
        s->c.txn_prdr = s->srv.prdr_offered && mail_asks_prdr(p, len);
        break;
    case SMTPREPLY_CMD_RSET:
        s->c.txn_prdr = false;
        break;
    case SMTPREPLY_CMD_RCPT:
        sess_rcpt_keep(s, q, p, len);
        break;
    case SMTPREPLY_CMD_AUTH: {
        /* "AUTH mech ir": anything after the mechanism is an initial response. */
        size_t i = vlen;
        while (i < len && p[i] == ' ')
            i++;
        while (i < len && p[i] != ' ')
            i++;
        while (i < len && p[i] == ' ')
            i++;
        if (i < len)
            q->flags |= PF_HAS_IR;
        start_hold(s, ref.seq);
        break;
    }
    case SMTPREPLY_CMD_BDAT:
        if (bdat_ok && bdat_size > 0) {
            s->c.mode = C_BDAT;
            s->c.bdat_left = bdat_size;
            s->c.bdat_seq = ref.seq;
            s->c.bdat_started = false;
            s->c.bdat_refused = false;
            s->c.peek_n = 0;
        }
        break;
    default:
        break;
    }
}

/* A SASL response line (RFC 4954 §4): not a command. */
static void client_sasl(struct smtpreply_session *s, const uint8_t *p, size_t len,
                        smtpreply_anomaly_set flags, int64_t ts, uint64_t tag)
{
    struct pending *front = fifo_front(s);
    if (len == 1 && p[0] == '*' && front && front->ref.cmd == SMTPREPLY_CMD_AUTH)
        front->flags |= PF_SASL_CANCEL;
    /* bare-lf and line-over-limit have no command to ride on. */
    sess_emit_anomaly_set(s, flags, SMTPREPLY_DIR_CLIENT, ts, tag);
    if (front && front->ref.cmd == SMTPREPLY_CMD_AUTH)
        start_hold(s, front->ref.seq); /* the next reply says what follows */
    else
        s->c.mode = C_CMD;
}

void sess_client_line(struct smtpreply_session *s, bool bare_lf, int64_t ts, uint64_t tag)
{
    struct line_asm *l = &s->line[SMTPREPLY_DIR_CLIENT];
    smtpreply_anomaly_set flags = sess_line_end_anomalies(s, l, bare_lf);
    uint64_t total = l->total;
    uint32_t len = l->len;
    line_reset(l);
    if (s->c.mode == C_SASL)
        client_sasl(s, l->buf, len, flags, ts, tag);
    else
        client_command(s, l->buf, len, total, flags, ts, tag);
}

/* The end of the DATA body: the "." line is an implicit command whose
 * reply the server owes (RFC 5321 §4.1.1.4). */
void sess_body_end(struct smtpreply_session *s, smtpreply_anomaly_set flags, int64_t ts,
                   uint64_t tag)
{
    s->c.mode = C_CMD;
    s->c.body.gap = false;
    struct smtpreply_cmd_ref ref;
    memset(&ref, 0, sizeof ref);
    ref.seq = ++s->cmd_seq;
    ref.cmd = SMTPREPLY_CMD_DATA_END;
    memcpy(ref.verb, "DATA", 5); /* its reply is reported under the DATA it ends */
    ref.ts_us = ts;
    ref.tag = tag;
    struct pending *q = sess_fifo_push(s, &ref, &flags);
    if (q && s->c.txn_prdr)
        q->flags |= PF_PRDR; /* 353 and per-recipient replies may follow */
    s->c.txn_prdr = false;
    sess_emit_anomaly_set(s, flags, SMTPREPLY_DIR_CLIENT, ts, tag);
}

void sess_body_start(struct smtpreply_session *s)
{
    s->c.mode = C_BODY;
    s->c.body.first = -1;
    s->c.body.cr = false;
    s->c.body.len = 0;
    s->c.body.flagged_long = false;
    s->c.body.flagged_lf = false;
}

/* After a gap in the body, a line with a known verb (or a reply from the
 * server) shows the body ended in the lost bytes. */
static bool body_gap_verb_line(struct smtpreply_session *s, const uint8_t *p, size_t n)
{
    (void)s;
    size_t vlen = smtpreply_parse_command_verb((const char *)p, n);
    if (vlen == 0 || (vlen < n && p[vlen] != ' ' && p[vlen] != '\r' && p[vlen] != '\n'))
        return false;
    return smtpreply_cmd_from_verb((const char *)p, vlen) != SMTPREPLY_CMD_UNKNOWN;
}

/* Scans body bytes.  Fast path: memchr for LF; only the line's length,
 * its first byte and the CR before LF are tracked (nothing is copied). */
static size_t body_bytes(struct smtpreply_session *s, const uint8_t *p, size_t n, int64_t ts,
                         uint64_t tag)
{
    size_t i = 0;
    while (i < n) {
        if (s->c.body.gap && s->c.body.first < 0) {
            /* After a gap, judge each line whole: use the line buffer. */
            bool done, bare;
            struct line_asm *l = &s->line[SMTPREPLY_DIR_CLIENT];
            i += sess_line_take(s, l, p + i, n - i, tag, &done, &bare);
            if (!done)
                return i;
            if (body_gap_verb_line(s, l->buf, l->len)) {
                s->c.mode = C_CMD;
                s->c.body.gap = false;
                sess_client_line(s, bare, ts, tag);
                return i;
            }
            bool end = l->len == 1 && l->total == 1 && l->buf[0] == '.';
            line_reset(l);
            if (end) {
                sess_body_end(s, bare ? ANOM(BARE_LF) : 0, ts, tag);
                return i;
            }
            continue;
        }
        const uint8_t *lf = memchr(p + i, '\n', n - i);
        size_t seg = lf ? (size_t)(lf - (p + i)) : n - i;
        if (seg > 0) {
            if (s->c.body.first < 0)
                s->c.body.first = p[i];
            s->c.body.len += seg;
            s->c.body.cr = p[i + seg - 1] == '\r';
        }
        i += seg;
        if (!lf)
            return i;
        i++; /* the LF */
        uint64_t content = s->c.body.len - (s->c.body.cr ? 1 : 0);
        bool stuffed = s->c.body.first == '.';
        bool end = stuffed && content == 1;
        smtpreply_anomaly_set flags = 0;
        if (!s->c.body.cr && !s->c.body.flagged_lf) {
            s->c.body.flagged_lf = true; /* once per body: a bare-LF message has thousands */
            flags |= ANOM(BARE_LF);
        }
        /* §4.5.3.1.6: 1000 octets with the CRLF, not counting a stuffed dot. */
        if (content + 2 - (stuffed ? 1 : 0) > RFC_TEXT_LINE_MAX && !s->c.body.flagged_long) {
            s->c.body.flagged_long = true;
            flags |= ANOM(TEXT_LINE_TOO_LONG);
        }
        s->c.body.first = -1;
        s->c.body.len = 0;
        s->c.body.cr = false;
        if (end) {
            sess_body_end(s, flags, ts, tag);
            return i;
        }
        if (flags)
            sess_emit_anomaly_set(s, flags, SMTPREPLY_DIR_CLIENT, ts, tag);
    }
    return i;
}

/* A BDAT refused before its first chunk octet (sess_bdat_refused): the
 * chunk follows the command line at once (RFC 3030 §2), so a client that
 * read the refusal before sending any of it and then sends a command did
 * not send the chunk; a server that refuses the command line reads no
 * chunk either.  The first bytes decide: a known verb followed by SP, CR
 * or LF is a command and the chunk is dropped; anything else is the chunk.
 * At most sizeof peek bytes are kept (no verb is longer); they are then
 * fed again in the mode chosen.  Returns the bytes taken. */
static size_t bdat_peek(struct smtpreply_session *s, const uint8_t *p, size_t n, int64_t ts,
                        uint64_t tag)
{
    size_t i = 0;
    int verdict = -1; /* 1 command, 0 chunk */
    while (i < n && verdict < 0) {
        uint8_t b = p[i++];
        s->c.peek[s->c.peek_n++] = b;
        bool letter = (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z');
        if (letter && s->c.peek_n < sizeof s->c.peek)
            continue;
        if (!letter && s->c.peek_n > 1 && (b == ' ' || b == '\r' || b == '\n'))
            verdict = smtpreply_cmd_from_verb((const char *)s->c.peek, s->c.peek_n - 1u) !=
                      SMTPREPLY_CMD_UNKNOWN;
        else
            verdict = 0;
    }
    if (verdict < 0)
        return i;
    uint8_t kept[sizeof s->c.peek];
    uint8_t k = s->c.peek_n;
    memcpy(kept, s->c.peek, k);
    s->c.peek_n = 0;
    s->c.bdat_refused = false;
    if (verdict) {
        s->c.mode = C_CMD;
        s->c.bdat_left = 0;
    }
    sess_client_bytes(s, kept, k, ts, tag);
    return i;
}

void sess_bdat_refused(struct smtpreply_session *s, uint64_t seq)
{
    if (s->c.mode == C_BDAT && s->c.bdat_seq == seq && !s->c.bdat_started)
        s->c.bdat_refused = true;
}

void sess_client_bytes(struct smtpreply_session *s, const uint8_t *p, size_t n, int64_t ts,
                       uint64_t tag)
{
    size_t i = 0;
    while (i < n && sess_parsing(s)) {
        if (s->c.tls == CT_TLS_FIRST) {
            /* A TLS handshake, not commands: kept for a TLS sink only. */
            sess_tls_stash(s, p + i, n - i, ts, tag);
            return;
        }
        if (s->probe[SMTPREPLY_DIR_CLIENT].active) {
            i += sess_probe_bytes(s, SMTPREPLY_DIR_CLIENT, p + i, n - i, ts, tag);
            continue;
        }
        switch (s->c.mode) {
        case C_HOLD: {
            size_t k = n - i;
            size_t room = (size_t)s->lim.max_held - s->held.payload;
            if (k > room && room > 0 && held_append(s, p + i, room, ts, tag)) {
                /* Fill to the cap first, so where the overflow happens does
                 * not depend on how the bytes were split. */
                i += room;
                k -= room;
            }
            if (!held_append(s, p + i, k, ts, tag)) {
                /* Over max_held: take the likeliest meaning now. */
                s->stats.held_overflow++;
                sess_emit_anomaly(s, SMTPREPLY_ANOM_HELD_OVERFLOW, SMTPREPLY_DIR_CLIENT, ts, tag);
                struct pending *front = NULL;
                for (uint32_t j = 0; j < s->fifo_count; j++)
                    if (fifo_at(s, j)->ref.seq == s->held.seq)
                        front = fifo_at(s, j);
                if (front && front->ref.cmd == SMTPREPLY_CMD_DATA) {
                    /* A client that streams this much after DATA is sending the body. */
                    front->flags |= PF_BODY_FORCED;
                    sess_emit_anomaly(s, SMTPREPLY_ANOM_DATA_BEFORE_354, SMTPREPLY_DIR_CLIENT, ts,
                                      tag);
                    sess_body_start(s);
                } else {
                    s->c.mode = C_CMD;
                }
                sess_held_release(s);
                continue;
            }
            return;
        }
        case C_BODY:
            i += body_bytes(s, p + i, n - i, ts, tag);
            break;
        case C_BDAT: {
            if (s->c.bdat_refused) {
                i += bdat_peek(s, p + i, n - i, ts, tag);
                break;
            }
            s->c.bdat_started = true;
            size_t k = n - i;
            if (k > s->c.bdat_left)
                k = (size_t)s->c.bdat_left;
            s->c.bdat_left -= k;
            i += k;
            if (s->c.bdat_left == 0)
                s->c.mode = C_CMD;
            break;
        }
        case C_CMD:
        case C_SASL: {
            bool done, bare;
            i += sess_line_take(s, &s->line[SMTPREPLY_DIR_CLIENT], p + i, n - i, tag, &done,
                                &bare);
            if (done)
                sess_client_line(s, bare, ts, tag);
            break;
        }
        }
    }
    if (i < n)
        sess_tls_rest(s, SMTPREPLY_DIR_CLIENT, p + i, n - i, ts, tag);
}
