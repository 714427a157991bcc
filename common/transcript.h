/* SPDX-License-Identifier: MIT */
/*
 * transcript.h - reading one line of a plain-text SMTP dialogue (no I/O).
 *
 * Two formats, recognised line by line so a pasted mix still works:
 *   RFC style   "C: text" / "S: text" (the space after the colon and any
 *               leading indentation are optional), as in RFC 5321 App. D;
 *   swaks       its transaction hints: " -> ", "<-  ", " ~> ", "<~  ",
 *               "**> ", "*~> ", "<** ", "<~* " (see swaks(1) OUTPUT
 *               OPTIONS).  "===" (information), "***" (swaks errors) and
 *               the raw hex dumps of --show-raw-text ("  > ", "<   ") are
 *               not dialogue; " -> N lines sent" (-n, --suppress-data)
 *               stands for a whole message body including its final dot.
 * Each dialogue line stands for its text followed by CRLF.  A client line
 * may spell its end of line out ("<CRLF>", "<CR><LF>", as RFCs do); a
 * server line's text is always kept whole, since replies such as "354 End
 * data with <CR><LF>.<CR><LF>" carry that notation as text.
 */
#ifndef SMTPREPLY_TRANSCRIPT_H
#define SMTPREPLY_TRANSCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtpreply.h"

enum smtpreply_tline_kind {
    SMTPREPLY_TLINE_OTHER,       /* not dialogue: blank, comment, prose, swaks info */
    SMTPREPLY_TLINE_CLIENT,      /* text the client sent */
    SMTPREPLY_TLINE_SERVER,      /* text the server sent */
    SMTPREPLY_TLINE_DATA_SUMMARY /* swaks -n: a body was sent, ended by "." */
};

enum smtpreply_tline_format {
    SMTPREPLY_TFORMAT_NONE,
    SMTPREPLY_TFORMAT_RFC,
    SMTPREPLY_TFORMAT_SWAKS
};

/* Why a line that is not dialogue looks as if it was meant to be: the
 * runner reports such lines so that a user sees what was skipped.  Blank
 * lines, comments, prose, swaks's own lines and RFC narration
 * ("S: <wait for open connection>") are skipped silently. */
enum smtpreply_tline_warning {
    SMTPREPLY_TWARN_NONE,
    SMTPREPLY_TWARN_LOWER_PREFIX, /* "c:" / "s:": the prefixes are upper case */
    SMTPREPLY_TWARN_BARE_REPLY,   /* "250 ok" without "S:" */
    SMTPREPLY_TWARN_BARE_COMMAND  /* "MAIL FROM:<>" without "C:" */
};
/* "lower-case-prefix", "reply-without-prefix", "command-without-prefix";
 * NULL for NONE. */
const char *smtpreply_tline_warning_name(enum smtpreply_tline_warning w);

struct smtpreply_tline {
    enum smtpreply_tline_kind kind;
    enum smtpreply_tline_warning warning; /* OTHER lines only */
    enum smtpreply_tline_format format;
    bool tls;         /* swaks "~" hints: sent inside TLS (shown decrypted) */
    bool unexpected;  /* swaks "*" hints: swaks did not expect this line */
    const char *text; /* the line's text without its end of line (into the input) */
    size_t len;
};

/* Classify one input line (without its LF; a trailing CR is dropped). */
void smtpreply_transcript_parse_line(const char *line, size_t len, struct smtpreply_tline *out);

/* What a whole dialogue gave. */
struct smtpreply_transcript_result {
    size_t dialogue; /* dialogue lines fed (0: the text holds no dialogue) */
    uint64_t lines;  /* lines read */
    bool encrypted;  /* TLS from some line on */
    bool oom;        /* out of memory: the dialogue was cut short */
};

/* Runs a whole dialogue (a file's text) through a new session: each
 * dialogue line becomes its text + CRLF, tagged with its line number, at
 * line * 1000 us.  The session is made at the first dialogue line, with
 * SMTPREPLY_SESSION_NO_GREETING when that line is the client's (an
 * excerpt); inside a BDAT chunk a placeholder line such as "(message
 * segment of 100000 octets)" (RFC 3030 §4.2) stands for that many octets
 * (at most what the chunk still takes).  Events go to fn; the session is
 * finished and freed at the end. */
void smtpreply_transcript_run(const char *text, size_t len, smtpreply_event_fn fn, void *user,
                              struct smtpreply_transcript_result *out);

/* A line the runner skipped although it looks like dialogue (see
 * enum smtpreply_tline_warning): its number and text (without its end of
 * line; valid only during the call). */
typedef void (*smtpreply_transcript_warn_fn)(void *user, uint64_t line,
                                             enum smtpreply_tline_warning w, const char *text,
                                             size_t len);

/* smtpreply_transcript_run, also reporting skipped lines to warn (may be
 * NULL), with the same user pointer; a warning comes before the events of
 * the lines after it. */
void smtpreply_transcript_run_warn(const char *text, size_t len, smtpreply_event_fn fn,
                                   smtpreply_transcript_warn_fn warn, void *user,
                                   struct smtpreply_transcript_result *out);

#endif
