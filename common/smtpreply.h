/* SPDX-License-Identifier: MIT */
/*
 * smtpreply.h - the one public header of the smtpreply decoding core.
 *
 * Plain C11: no glib, no epan, no I/O.  Three layers, each usable alone:
 *
 *   1. The knowledge base (kb_*.c, *.def): what a basic reply code
 *      (RFC 5321 §4.2) and an enhanced status code (RFC 3463, RFC 5248
 *      registry) mean, which commands may return them, whether to retry.
 *      Lookups never allocate and return pointers into static tables.
 *
 *   2. The session engine (session.c): fed the bytes of one SMTP
 *      connection per direction, in order, in chunks split anywhere, it
 *      yields every command and reply, pairs each reply with the command
 *      it answers (PIPELINING, DATA, BDAT, AUTH, STARTTLS) and flags what
 *      breaks the RFCs as named anomalies (anomalies.def).
 *
 *   3. The connection layer (conn.c, reasm.c, detect.c): fed raw TCP
 *      segments (payload + sequence number + flags) in frame order, it
 *      reassembles each direction, decides whether the stream is SMTP (by
 *      port and by content, through SOCKS5 / HTTP CONNECT tunnels), notices
 *      TLS, and drives a session engine.  Both faces (the CLI analyzer and
 *      the Wireshark plugin) feed this layer, so they count alike.
 *
 * Memory: lookups never allocate.  Sessions and connections allocate
 * through a caller-supplied realloc hook (NULL: the C library), grow on
 * demand, and never exceed the caps in struct smtpreply_limits.
 */
#ifndef SMTPREPLY_H
#define SMTPREPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SMTPREPLY_VERSION "0.1.0"

/* ======================================================================
 * 1. Knowledge base
 * ==================================================================== */

/* How a basic code (or an enhanced code) stands with the standards. */
enum smtpreply_status {
    SMTPREPLY_STATUS_STANDARD,     /* defined in RFC text */
    SMTPREPLY_STATUS_REGISTRY,     /* only an associated code in the IANA ESC registry */
    SMTPREPLY_STATUS_HISTORIC,     /* defined once, since deprecated / obsolete */
    SMTPREPLY_STATUS_NON_STANDARD, /* in the wild or on web lists, in no RFC */
    SMTPREPLY_STATUS_INVALID,      /* breaks the reply-code (or RFC 3463) syntax */
    SMTPREPLY_STATUS_UNASSIGNED,   /* valid syntax, defined nowhere */
    SMTPREPLY_STATUS__COUNT
};
/* "standard", "registry", "historic", "non-standard", "invalid", "unassigned" */
const char *smtpreply_status_name(enum smtpreply_status st);

/* What a client should do after a reply (RFC 5321 §4.2.1, §4.2.5). */
enum smtpreply_retry {
    SMTPREPLY_RETRY_DONE,     /* 2yz: completed, nothing to retry */
    SMTPREPLY_RETRY_CONTINUE, /* 3yz: send the rest (data, SASL response) */
    SMTPREPLY_RETRY_LATER,    /* 4yz: transient; the same command may succeed later */
    SMTPREPLY_RETRY_NEVER,    /* 5yz: permanent; do not repeat unchanged */
    SMTPREPLY_RETRY_ABORT     /* invalid code: treat as fatal, end the transaction (§4.2) */
};
/* One sentence of advice for a person. */
const char *smtpreply_retry_advice(enum smtpreply_retry r);

/* Commands the core knows (commands.def is the single table).  The
 * pseudo-commands CONNECT (the greeting) and DATA_END (the final dot) let
 * the §4.3.2 table speak of them; UNKNOWN is any other verb. */
enum smtpreply_cmd {
#define SMTPREPLY_CMD(id, verb, rfc, ...) SMTPREPLY_CMD_##id,
#include "commands.def"
#undef SMTPREPLY_CMD
    SMTPREPLY_CMD__COUNT
};
/* Verb as the client writes it ("RCPT"); pseudo-commands give "CONNECT",
 * "DATA-END"; UNKNOWN gives "". */
const char *smtpreply_cmd_verb(enum smtpreply_cmd c);
/* RFC (and section) that defines the command. */
const char *smtpreply_cmd_rfc(enum smtpreply_cmd c);
/* Case-insensitive verb lookup; returns SMTPREPLY_CMD_UNKNOWN if unknown. */
enum smtpreply_cmd smtpreply_cmd_from_verb(const char *verb, size_t len);
/* May command c return reply code `code`?  Uses the §4.3.2 table as
 * amended by the extension RFCs, plus the codes any command may get
 * (500, 501, 421, and the policy codes of RFC 4954 / RFC 3207).
 * UNKNOWN commands accept any valid code. */
bool smtpreply_cmd_expects(enum smtpreply_cmd c, unsigned code);

/* Everything the knowledge base says about one basic reply code.
 * Lists (rfc, notes) are '|'-separated strings; iterate them with
 * smtpreply_list_next().  All pointers are static. */
struct smtpreply_code_info {
    unsigned code;             /* 0..999 */
    unsigned cls;              /* first digit */
    unsigned category;         /* second digit */
    const char *class_name;    /* "Positive Completion", ... ; "Invalid" for 0,1,6-9 */
    const char *category_name; /* "Syntax", "Information", "Connections",
                                   "Unspecified", "Mail system"; "Invalid" for 6-9 */
    enum smtpreply_status status;
    const char *meaning; /* RFC meaning; common meaning if non-standard;
                                   derived from the digits if unassigned/invalid */
    const char *rfc;     /* '|'-separated "RFC 5321 §4.2.3" etc; "" if none */
    const char *notes;   /* '|'-separated notes (folklore, corrections); "" */
    enum smtpreply_retry retry;
    bool in_table; /* false: explained from its digits only */
};
/* RFC 5321 §4.2 reply-code syntax: 0..999, first digit 2-5, second 0-5.
 * The one place that says which codes are valid. */
bool smtpreply_code_valid(unsigned code);
/* The codes a server may open a connection with: 220 (RFC 5321 §3.1),
 * 421 and 554 (refusals, §3.1, §4.3.2), 521 (RFC 7504).  Detection and the
 * session engine both ask this. */
bool smtpreply_code_is_greeting(unsigned code);
/* Explain any number 0..999 (outside: returns false).  Never allocates. */
bool smtpreply_code_explain(unsigned code, struct smtpreply_code_info *out);
/* The meaning of `code` as a reply to command c, where it differs from the
 * general meaning (432/454 for AUTH vs STARTTLS, 220 greeting vs STARTTLS,
 * 250 per command, ...); otherwise the general meaning.  Never NULL for a
 * code in 0..999. */
const char *smtpreply_code_meaning_for(unsigned code, enum smtpreply_cmd c);
/* Commands that may return `code` (from commands.def; "any command" codes
 * list only the commands that name them explicitly, plus "ANY" first).
 * Fills up to `max` verbs, returns how many exist. */
size_t smtpreply_code_commands(unsigned code, const char **verbs, size_t max);
/* Command-specific meanings of `code`: iterate with idx = 0, 1, ... until
 * false.  *cmd and *meaning and *rfc are set. */
bool smtpreply_code_context(unsigned code, size_t idx, enum smtpreply_cmd *cmd,
                            const char **meaning, const char **rfc);
/* Iterate the codes in the table (idx = 0, 1, ...); false at the end. */
bool smtpreply_code_at(size_t idx, struct smtpreply_code_info *out);

/* '|'-separated list iteration: *cursor starts at the list; returns the
 * next item (not NUL-terminated) and its length, or NULL at the end. */
const char *smtpreply_list_next(const char **cursor, size_t *len);

/* ---- Enhanced status codes (RFC 3463, RFC 5248, RFC 2034) ---- */

struct smtpreply_esc {
    uint8_t cls;      /* 2, 4, 5 */
    uint16_t subject; /* 0..999 */
    uint16_t detail;  /* 0..999 */
};

/* Strict RFC 3463 parse of "class.subject.detail" at the start of s:
 * class 2/4/5, subject and detail 1-3 digits without leading zeros.
 * The code must be followed by end of input or a space/tab.  Returns the
 * number of bytes consumed (0: no valid enhanced code there). */
size_t smtpreply_esc_parse(const char *s, size_t len, struct smtpreply_esc *out);
/* Writes "5.1.1" into buf (at least 12 bytes); returns buf. */
char *smtpreply_esc_format(const struct smtpreply_esc *e, char *buf, size_t size);

struct smtpreply_esc_info {
    enum smtpreply_status status; /* STANDARD (registered), UNASSIGNED, INVALID */
    const char *class_name;   /* "Success", "Persistent Transient Failure", "Permanent Failure" */
    const char *subject_name; /* "Addressing Status", ... ; "" if unknown subject */
    const char *meaning;      /* registry name; subject meaning; class meaning */
    const char *description;  /* a sentence for a person ("" if none) */
    const char *rfc;          /* '|'-separated */
    const char *assoc;        /* associated basic codes, e.g. "451|550"; "" */
    const char *notes;        /* '|'-separated (deprecated, vendor reuse...) */
};
/* Explain a parsed enhanced code (registered detail, else subject, else
 * class).  Never allocates. */
void smtpreply_esc_explain(const struct smtpreply_esc *e, struct smtpreply_esc_info *out);
/* Iterate the registry rows (idx = 0, 1, ...): subject/detail with class 0
 * meaning "X". */
bool smtpreply_esc_at(size_t idx, struct smtpreply_esc *code, struct smtpreply_esc_info *out);

/* ---- Reply / command line parsing (stateless, one line) ---- */

/* One server line split into its parts.  Lines are passed without CRLF. */
struct smtpreply_line {
    unsigned code;    /* three digits, 0..999 */
    char sep;         /* ' ' (last line), '-' (continuation), 0 (bare code) */
    const char *text; /* after the separator (points into the input) */
    size_t text_len;
    bool has_esc; /* text starts with an enhanced code */
    bool bad_esc; /* text starts like one ("5.01.1", "6.1.1") but
                               breaks RFC 3463 §2 */
    struct smtpreply_esc esc;
};
/* Returns true if the line starts with three digits followed by end,
 * SP or '-' (RFC 5321 §4.2); false: not a reply line. */
bool smtpreply_parse_reply_line(const char *line, size_t len, struct smtpreply_line *out);
/* Extracts the command verb (letters, digits, '-'; up to the first SP) of a
 * client line; returns its length (0: empty line).  The verb need not be
 * known. */
size_t smtpreply_parse_command_verb(const char *line, size_t len);

/* ======================================================================
 * 2. Session engine
 * ==================================================================== */

/* Named anomalies (anomalies.def is the single table). */
enum smtpreply_anomaly {
#define SMTPREPLY_ANOMALY(id, name, desc) SMTPREPLY_ANOM_##id,
#include "anomalies.def"
#undef SMTPREPLY_ANOMALY
    SMTPREPLY_ANOM__COUNT
};
typedef uint64_t smtpreply_anomaly_set; /* bit (1u << anomaly) */
/* Stable identifier, e.g. "code-unexpected-for-command". */
const char *smtpreply_anomaly_name(enum smtpreply_anomaly a);
const char *smtpreply_anomaly_description(enum smtpreply_anomaly a);
/* Returns SMTPREPLY_ANOM__COUNT if unknown. */
enum smtpreply_anomaly smtpreply_anomaly_from_name(const char *name, size_t len);

enum smtpreply_dir { SMTPREPLY_DIR_CLIENT = 0, SMTPREPLY_DIR_SERVER = 1 };

/* Which step of an exchange a reply closes. */
enum smtpreply_stage {
    SMTPREPLY_STAGE_GREETING,       /* connection opening (220/421/554/521) */
    SMTPREPLY_STAGE_REPLY,          /* the one reply to an ordinary command */
    SMTPREPLY_STAGE_DATA_START,     /* DATA's intermediate reply (354 or refusal) */
    SMTPREPLY_STAGE_DATA_END,       /* reply to <CRLF>.<CRLF> */
    SMTPREPLY_STAGE_BDAT,           /* reply to a BDAT chunk */
    SMTPREPLY_STAGE_AUTH_CHALLENGE, /* 334 */
    SMTPREPLY_STAGE_AUTH_FINAL,     /* AUTH's final reply (235/4xx/5xx) */
    SMTPREPLY_STAGE_UNSOLICITED,    /* no command pending (e.g. 421 before close) */
    SMTPREPLY_STAGE_PRDR_START,     /* PRDR: 353 after the end of data */
    SMTPREPLY_STAGE_PRDR_RCPT,      /* PRDR: one accepted recipient's reply to the data */
    SMTPREPLY_STAGE__COUNT
};
/* "greeting", "reply", "data-start", "data-end", "bdat", "auth-challenge",
 * "auth-final", "unsolicited", "prdr-start", "prdr-rcpt" */
const char *smtpreply_stage_name(enum smtpreply_stage s);

enum smtpreply_event_type {
    SMTPREPLY_EV_COMMAND,    /* a client command line (not data, not SASL) */
    SMTPREPLY_EV_REPLY,      /* a complete server reply (all its lines) */
    SMTPREPLY_EV_UNANSWERED, /* a command that never got its reply (at finish) */
    SMTPREPLY_EV_ANOMALY,    /* an anomaly tied to no command or reply */
    SMTPREPLY_EV_TLS         /* from here on the connection is encrypted */
};

/* A command, as queued and as reported. */
struct smtpreply_cmd_ref {
    uint64_t seq; /* ordinal of the command in the session, from 1 */
    enum smtpreply_cmd cmd;
    char verb[16]; /* uppercase verb as sent (truncated), "" if none */
    int64_t ts_us; /* time the command line completed */
    uint64_t tag;  /* caller's tag of the chunk that completed it */
};

struct smtpreply_event {
    enum smtpreply_event_type type;
    int64_t ts_us; /* time of the chunk that produced the event */
    uint64_t tag;  /* caller's tag of that chunk (e.g. frame number) */
    smtpreply_anomaly_set anomalies;

    /* COMMAND, UNANSWERED: the command.  REPLY: the command it answers
     * (valid when has_cmd).  ANOMALY: unused. */
    bool has_cmd;
    struct smtpreply_cmd_ref cmd;

    /* COMMAND: the whole line (without CRLF, maybe cut at max_line).
     * REPLY: the text of the last line (after code and separator).
     * Valid only during the callback. */
    const char *text;
    size_t text_len;

    /* REPLY only: the whole reply, every line's text after its code and
     * separator (enhanced code and the rest kept as sent), lines joined
     * with '\n'; at most 16 KiB kept (full_text_cut: the rest was cut).
     * Empty for a bare code.  Valid only during the callback. */
    const char *full_text;
    size_t full_text_len;
    bool full_text_cut;

    /* REPLY only. */
    unsigned code;
    unsigned nlines;
    bool has_esc;
    struct smtpreply_esc esc; /* from the first line that carries one */
    enum smtpreply_stage stage;
    int64_t rt_us;      /* ts_us - cmd.ts_us, or -1 without a command */
    uint64_t first_tag; /* tag of the chunk holding the reply's first byte */

    /* ANOMALY only: which one and on which side. */
    enum smtpreply_anomaly anomaly;
    enum smtpreply_dir dir;

    /* REPLY to a RCPT, and a PRDR per-recipient reply (stage prdr-rcpt):
     * the recipient's address as written inside RCPT TO:<...>, without
     * the angle brackets and parameters (at most 256 bytes kept).  NULL
     * otherwise, or when it could not be kept.  Valid only during the
     * callback. */
    const char *rcpt;
    size_t rcpt_len;

    /* The event comes from bytes read inside TLS: decrypted application
     * data fed with smtpreply_session_feed_decrypted (or
     * smtpreply_conn_decrypted).  False for everything read in plaintext,
     * and always false without decryption. */
    bool tls;
};

typedef void (*smtpreply_event_fn)(void *user, const struct smtpreply_event *ev);

/* realloc-like hook: size 0 frees and returns NULL.  NULL hook: libc. */
typedef void *(*smtpreply_realloc_fn)(void *ctx, void *ptr, size_t size);

struct smtpreply_limits {
    uint32_t max_line;        /* bytes kept per line (longer: cut, flagged); default 4096 */
    uint32_t max_pending;     /* commands awaiting replies; default 1000 */
    uint32_t max_reply_lines; /* lines counted into one reply; default 1000 */
    uint32_t max_held;        /* client bytes held while a reply decides what they are
                                   (DATA awaiting 354, AUTH awaiting 334); default 65536 */
    uint32_t max_reasm;       /* out-of-order bytes buffered per direction; default 262144 */
    uint32_t max_detect;      /* bytes examined to decide "is this SMTP"; default 4096 */
};
void smtpreply_limits_default(struct smtpreply_limits *lim);

/* Session flags (input and output). */
#define SMTPREPLY_SESSION_MIDSTREAM 0x01u /* started mid-session: resynchronise */
#define SMTPREPLY_SESSION_ENCRYPTED 0x02u /* TLS seen; parsing stopped */
#define SMTPREPLY_SESSION_GAPS 0x04u      /* bytes were lost */
#define SMTPREPLY_SESSION_FINISHED 0x08u
/* Input only: the record starts after the greeting (a transcript excerpt
 * that opens with a client line), so the first reply answers a command. */
#define SMTPREPLY_SESSION_NO_GREETING 0x10u
/* Output only: decrypted application data was fed after TLS started
 * (ENCRYPTED stays set); parsing went on inside TLS. */
#define SMTPREPLY_SESSION_DECRYPTED 0x20u

struct smtpreply_session_stats {
    unsigned flags;
    uint64_t commands;
    uint64_t replies;
    uint64_t unanswered;       /* set by finish */
    uint64_t missing_bytes[2]; /* per direction, from gaps */
    uint64_t anomalies[SMTPREPLY_ANOM__COUNT];
    uint64_t lines_cut; /* limit hits, also counted as anomalies */
    uint64_t pending_overflow;
    uint64_t held_overflow;
    size_t bytes_allocated; /* current heap use of this session */
};

struct smtpreply_session;

struct smtpreply_session *smtpreply_session_new(const struct smtpreply_limits *lim,
                                                smtpreply_realloc_fn alloc, void *alloc_ctx,
                                                smtpreply_event_fn fn, void *user,
                                                unsigned flags);
void smtpreply_session_free(struct smtpreply_session *s);
/* Feed bytes of one direction, in order.  ts_us and tag are attached to
 * events completed by these bytes. */
void smtpreply_session_feed(struct smtpreply_session *s, enum smtpreply_dir dir,
                            const uint8_t *data, size_t len, int64_t ts_us, uint64_t tag);
/* `missing` bytes of direction dir were lost: drop the partial line and
 * resynchronise on the next line that parses. */
void smtpreply_session_gap(struct smtpreply_session *s, enum smtpreply_dir dir, uint64_t missing,
                           int64_t ts_us, uint64_t tag);
/* The connection ended: flush, report unanswered commands.  Idempotent. */
void smtpreply_session_finish(struct smtpreply_session *s, int64_t ts_us, uint64_t tag);
/* Commands waiting for a reply now (an AUTH exchange counts until its
 * final reply). */
uint32_t smtpreply_session_pending(const struct smtpreply_session *s);
const struct smtpreply_session_stats *smtpreply_session_stats(const struct smtpreply_session *s);
/* Inside a BDAT chunk, takes up to n of its octets as received without
 * their bytes; returns how many (0 outside a chunk).  Transcripts use it
 * for a written placeholder ("(message segment of 100000 octets)", RFC
 * 3030 §4.2) that stands for the chunk it describes. */
uint64_t smtpreply_session_chunk_skip(struct smtpreply_session *s, uint64_t n);
/* A cache hint: start fetching the session's state (no effect on results). */
void smtpreply_session_prefetch(const struct smtpreply_session *s);

/* ---- Inside TLS (STARTTLS, RFC 3207; implicit TLS, RFC 8314) ----
 *
 * Where TLS starts, per direction, at a byte: for STARTTLS, the client's
 * first byte after its STARTTLS line (bytes it sent before the 220 came
 * included) and the server's first byte after the final line of its 2xx
 * reply to STARTTLS, in the same chunk or a later one; for implicit TLS,
 * the first byte of each direction.  A refused STARTTLS (454, 5xx) starts
 * nothing.  From there on, the session parses nothing it is fed with
 * smtpreply_session_feed; with a sink set, it hands those bytes on. */

/* Raw bytes of one direction from the TLS start on, in stream order (the
 * bytes before it in the same chunk are not included).  missing > 0: that
 * many bytes of the direction were lost before `data` (len may then be
 * 0).  ts_us and tag are those of the chunk the bytes came in.  The sink
 * must not call back into the session (the connection layer queues what
 * the TLS decoder gives back: smtpreply_conn_decrypted). */
typedef void (*smtpreply_tls_bytes_fn)(void *user, enum smtpreply_dir dir, const uint8_t *data,
                                       size_t len, uint64_t missing, int64_t ts_us, uint64_t tag);
/* Installs the sink (NULL: none, the default).  Set it before the first
 * byte: an implicit-TLS client's first bytes are then kept (at most
 * max_held of them) until the server's first bytes say TLS. */
void smtpreply_session_set_tls_sink(struct smtpreply_session *s, smtpreply_tls_bytes_fn fn,
                                    void *user);
/* Decrypted application data of one direction, in order, after TLS
 * started (ignored before, and after finish).  The first call sets
 * SMTPREPLY_SESSION_DECRYPTED; the bytes are then parsed as plaintext
 * would be (under implicit TLS the greeting comes first), and their
 * events carry tls = true. */
void smtpreply_session_feed_decrypted(struct smtpreply_session *s, enum smtpreply_dir dir,
                                      const uint8_t *data, size_t len, int64_t ts_us,
                                      uint64_t tag);
/* Decrypted bytes of one direction were lost (a record that did not
 * decrypt after lost TCP bytes): resynchronise as smtpreply_session_gap
 * does.  missing: the raw bytes lost, for the statistics. */
void smtpreply_session_gap_decrypted(struct smtpreply_session *s, enum smtpreply_dir dir,
                                     uint64_t missing, int64_t ts_us, uint64_t tag);

/* ======================================================================
 * 3. Connection layer: TCP segments in, session events out
 * ==================================================================== */

/* TCP flag bits as on the wire. */
#define SMTPREPLY_TCP_FIN 0x01u
#define SMTPREPLY_TCP_SYN 0x02u
#define SMTPREPLY_TCP_RST 0x04u
#define SMTPREPLY_TCP_ACK 0x10u

/* What the caller knows about the ports.  The order matters: the kinds
 * are ranked, weakest first.  A connection takes the stronger of its two
 * ports' kinds, and when exactly one port is well known its endpoint is
 * the server. */
enum smtpreply_port_kind {
    SMTPREPLY_PORT_OTHER = 0,   /* decide by content */
    SMTPREPLY_PORT_SMTP,        /* 25, 587, 2525, --port: SMTP unless content says TLS-only */
    SMTPREPLY_PORT_IMPLICIT_TLS /* 465: encrypted if TLS, counted if plaintext SMTP */
};
/* The one mapping from a TCP port to its kind: 25 (RFC 5321 §4.5.4.2),
 * 587 (RFC 6409) and 2525 are SMTP, 465 is implicit TLS (RFC 8314), any
 * other port is decided by content.  user_smtp: the user named this port
 * as SMTP (the CLI's --port, the plugin's port preference); it wins over
 * the table, so a user can make 465 plain SMTP. */
enum smtpreply_port_kind smtpreply_port_kind_for(unsigned port, bool user_smtp);

enum smtpreply_conn_state {
    SMTPREPLY_CONN_UNDECIDED, /* still looking at the first bytes */
    SMTPREPLY_CONN_SMTP,
    SMTPREPLY_CONN_NOT_SMTP
};

struct smtpreply_conn_config {
    struct smtpreply_limits limits;
    /* Endpoint roles: endpoints are "A" (source of the first segment the
     * caller saw) and "B".  port_kind_a/b say what A's and B's ports are;
     * a well-known port marks its endpoint as the server. */
    enum smtpreply_port_kind port_kind_a;
    enum smtpreply_port_kind port_kind_b;
    /* Optional: receives each direction's raw bytes from where TLS starts
     * (see smtpreply_tls_bytes_fn), for a TLS decoder whose output goes
     * back through smtpreply_conn_decrypted.  NULL: TLS is not followed
     * (the session stops at it, as without keys). */
    smtpreply_tls_bytes_fn tls_bytes;
    void *tls_user;
};

struct smtpreply_conn_stats {
    enum smtpreply_conn_state state;
    bool server_is_b;  /* valid once state == SMTP */
    bool saw_syn;      /* the handshake was seen (else midstream) */
    bool closed;       /* FIN or RST seen */
    bool tunnel;       /* SMTP found inside SOCKS5 / HTTP CONNECT */
    bool implicit_tls; /* TLS from the first byte (port 465 style) */
    uint64_t segments;
    uint64_t retransmitted;  /* segments wholly already seen */
    uint64_t out_of_order;   /* segments buffered ahead of a hole */
    uint64_t overlaps;       /* segments partly already seen (trimmed) */
    uint64_t gaps;           /* holes given up on */
    uint64_t missing_bytes;  /* bytes in those holes */
    uint64_t reasm_overflow; /* segments dropped/forced by max_reasm */
    bool payload;            /* some data went by (seen, or lost in a hole):
                                  without any, the flow is a connection
                                  attempt or a stray packet, not a dialogue */
    size_t bytes_allocated;  /* current heap use (conn + session) */
};

/* When a caller ends a connection and starts a new one for the same
 * addresses and ports (both faces do the same, so their sessions match):
 * after this many seconds of capture time without a segment, and, once
 * both sides sent FIN or one sent RST, after this many. */
#define SMTPREPLY_IDLE_TIMEOUT_S 300
#define SMTPREPLY_CLOSE_GRACE_S 5

struct smtpreply_conn;

struct smtpreply_conn *smtpreply_conn_new(const struct smtpreply_conn_config *cfg,
                                          smtpreply_realloc_fn alloc, void *alloc_ctx,
                                          smtpreply_event_fn fn, void *user);
void smtpreply_conn_free(struct smtpreply_conn *c);
/* One TCP segment.  from_b: sent by endpoint B.  seq: the raw sequence
 * number.  flags: SMTPREPLY_TCP_*.  Payload may be empty. */
void smtpreply_conn_segment(struct smtpreply_conn *c, bool from_b, uint32_t seq, unsigned flags,
                            const uint8_t *payload, size_t len, int64_t ts_us, uint64_t tag);
/* The same for a segment the capture cut short: payload holds the first
 * len of the sent bytes its headers declare.  The rest is counted as
 * missing at once rather than when a later segment shows the jump, and a
 * FIN on it follows all sent bytes.  `sent` is taken as given: callers
 * holding a capture frame use smtpreply_conn_segment_frame, which bounds
 * it by what the frame lost. */
void smtpreply_conn_segment_cut(struct smtpreply_conn *c, bool from_b, uint32_t seq,
                                unsigned flags, const uint8_t *payload, size_t len, size_t sent,
                                int64_t ts_us, uint64_t tag);
/* How many payload bytes a segment the capture cut short really sent: the
 * length its IP and TCP headers declare is believed only as far as the
 * capture dropped bytes from the frame (wire length minus captured
 * length), so a bogus IP length in a whole frame cannot turn the next
 * segment's data into a gap.  Never less than kept. */
size_t smtpreply_segment_sent(size_t kept, size_t declared, uint64_t wire_len, uint64_t cap_len);
/* One TCP segment as a capture frame holds it: `kept` payload bytes
 * captured of the `declared` the headers claim, in a frame of wire_len
 * bytes of which cap_len were captured.  Applies smtpreply_segment_sent
 * and goes on as smtpreply_conn_segment_cut.  Both faces call this. */
void smtpreply_conn_segment_frame(struct smtpreply_conn *c, bool from_b, uint32_t seq,
                                  unsigned flags, const uint8_t *payload, size_t kept,
                                  size_t declared, uint64_t wire_len, uint64_t cap_len,
                                  int64_t ts_us, uint64_t tag);
/* End of capture (or eviction): flush buffered segments as gaps, finish
 * the session.  Idempotent. */
void smtpreply_conn_finish(struct smtpreply_conn *c, int64_t ts_us, uint64_t tag);
void smtpreply_conn_stats(const struct smtpreply_conn *c, struct smtpreply_conn_stats *out);
/* The session inside (NULL until the stream is known to be SMTP). */
const struct smtpreply_session *smtpreply_conn_session(const struct smtpreply_conn *c);
/* Decrypted application data of one direction of the connection, in
 * stream order, once TLS started: the session parses it like plaintext
 * (smtpreply_session_feed_decrypted).  May be called from inside the
 * tls_bytes hook: the data then waits in a queue (at most
 * SMTPREPLY_CONN_DECRYPTED_QUEUE bytes; past that, the rest counts as
 * lost) until the session is free, and is fed in order.  After raw bytes
 * of a direction were lost inside TLS, its next decrypted data is fed
 * after a gap (smtpreply_session_gap_decrypted).  Both faces call this:
 * the CLI with its own decryption, the plugin with Wireshark's. */
#define SMTPREPLY_CONN_DECRYPTED_QUEUE (128u * 1024u)
void smtpreply_conn_decrypted(struct smtpreply_conn *c, enum smtpreply_dir dir,
                              const uint8_t *data, size_t len, int64_t ts_us, uint64_t tag);
/* A hint for callers that read a few packets ahead: asks the CPU to start
 * fetching what the next segment will touch.  stage 0 fetches the
 * connection's own state; stage 1 (called later, once that has arrived)
 * the session's.  No effect on any result; never reads freed memory as
 * long as c is alive at the call. */
void smtpreply_conn_prefetch(const struct smtpreply_conn *c, int stage);

/* ======================================================================
 * 4. Why a reply failed, and the meaning that fits it
 * ==================================================================== */

/* Failure reasons (reasons.def is the single table; its names are a
 * stable interface).  NONE is a success (2yz, 3yz) or an invalid code. */
enum smtpreply_reason {
    SMTPREPLY_REASON_NONE = 0,
#define SMTPREPLY_REASON(id, name, party, advice) SMTPREPLY_REASON_##id,
#include "reasons.def"
#undef SMTPREPLY_REASON
    SMTPREPLY_REASON__COUNT
};

/* Which layer decided the reason. */
enum smtpreply_reason_source {
    SMTPREPLY_REASON_SOURCE_NONE = 0,
    SMTPREPLY_REASON_SOURCE_TEXT,     /* "text": a reason_patterns.def row matched */
    SMTPREPLY_REASON_SOURCE_ENHANCED, /* "enhanced": the enhanced code's subject/detail */
    SMTPREPLY_REASON_SOURCE_CODE      /* "code": the basic code with the command */
};

/* Who must act. */
enum smtpreply_party {
    SMTPREPLY_PARTY_NONE = 0,
    SMTPREPLY_PARTY_RECIPIENT,         /* "recipient" */
    SMTPREPLY_PARTY_SENDER_SETUP,      /* "sender-setup" */
    SMTPREPLY_PARTY_SENDER_REPUTATION, /* "sender-reputation" */
    SMTPREPLY_PARTY_MESSAGE,           /* "message" */
    SMTPREPLY_PARTY_CLIENT,            /* "client" */
    SMTPREPLY_PARTY_RECEIVER,          /* "receiver" */
    SMTPREPLY_PARTY__COUNT
};

/* The reason of one reply.  Strings are static; NULL where the issue's
 * outputs print null (a success has no name, source, party or advice). */
struct smtpreply_reason_info {
    enum smtpreply_reason reason;
    enum smtpreply_reason_source source;
    enum smtpreply_party party;
    bool failure;            /* a 4yz or 5yz reply: exactly these get a reason */
    bool permanent;          /* 5yz; false for 4yz (meaningless without failure) */
    const char *name;        /* "recipient-unknown", ...; NULL for NONE */
    const char *source_name; /* "text", "enhanced", "code"; NULL for NONE */
    const char *party_name;  /* "recipient", ...; NULL for NONE */
    const char *advice;      /* one sentence; NULL for NONE */
    const char *pattern;     /* TEXT: the pattern that matched; else NULL */
    const char *basis;       /* who documents the decision (RFC section or a
                                provider's reference); NULL for NONE */
};

/* Reason identifier, or NULL for NONE and out-of-range values. */
const char *smtpreply_reason_name(enum smtpreply_reason r);
/* Exact identifier lookup; NONE if unknown. */
enum smtpreply_reason smtpreply_reason_from_name(const char *name, size_t len);
enum smtpreply_party smtpreply_reason_party(enum smtpreply_reason r);
/* One sentence of advice, or NULL for NONE. */
const char *smtpreply_reason_advice(enum smtpreply_reason r);
/* "recipient", "sender-setup", ...; NULL for NONE. */
const char *smtpreply_party_name(enum smtpreply_party p);
/* "text", "enhanced", "code"; NULL for NONE. */
const char *smtpreply_reason_source_name(enum smtpreply_reason_source s);

/* The failure reason of one reply: the single classifier that the tally,
 * transcript, explain and the plugin all use, so they agree.
 *   code  the basic reply code (0..999)
 *   esc   the reply's enhanced code, or NULL when it carries none
 *   cmd   the command answered: a verb, CONNECT for the greeting,
 *         DATA_END for the reply after the final dot, UNKNOWN when none is
 *         known (see smtpreply_reply_cmd)
 *   text  the whole reply text: every line without its code and separator,
 *         lines joined with "\n" (need not be NUL-terminated; may be NULL
 *         when len is 0); only its first SMTPREPLY_REASON_SCAN_MAX bytes
 *         are read
 * Only 4yz and 5yz replies get a reason; anything else gets NONE.  Layers,
 * the first that decides wins (out->source says which):
 *   1. text: the first reason_patterns.def row (in table order) whose
 *      lower-case pattern occurs in the text, case-insensitively, and whose
 *      class / command / enhanced-code restrictions hold;
 *   2. enhanced: the subject and detail of esc (RFC 3463, the RFC 5248
 *      registry, and providers' documented private details);
 *   3. code: the basic code with the command (RFC 5321 §4.3.2 and the
 *      extension RFCs); OTHER when nothing fits.
 * out->permanent follows the basic code's class.  Never allocates and is
 * safe to call from several threads; cost is linear in the text read (one
 * pass that lower-cases it and notes where a row's first three bytes
 * occur, then a comparison of those rows there; the index behind this is
 * built once, on the first call). */
#define SMTPREPLY_REASON_SCAN_MAX 4096u
void smtpreply_reason_classify(unsigned code, const struct smtpreply_esc *esc,
                               enum smtpreply_cmd cmd, const char *text, size_t len,
                               struct smtpreply_reason_info *out);

/* The meaning that fits a reply: the one function every output uses for
 * "what does this reply say".  When esc is given, its class agrees with
 * the code's (RFC 3463 §2) and the registry knows its detail, the
 * registry's meaning says what happened ("Mailbox full" for 452 4.2.2 at
 * RCPT); but a detail of 0 ("Other or undefined ... status") gives way to
 * a meaning for cmd where there is one.  Otherwise the code's meaning as a reply to cmd
 * (code_contexts.def), otherwise its general meaning.  Never NULL for a
 * code in 0..999 ("" above). */
const char *smtpreply_reply_meaning(enum smtpreply_cmd cmd, unsigned code,
                                    const struct smtpreply_esc *esc);

/* The command a session event's reply answers, in the form the two
 * functions above take: the greeting gives CONNECT, the reply after the
 * final dot DATA_END, an unsolicited reply or one without a command
 * UNKNOWN, anything else the command itself. */
enum smtpreply_cmd smtpreply_reply_cmd(bool has_cmd, enum smtpreply_cmd cmd,
                                       enum smtpreply_stage stage);

/* One row of the text-pattern table (reason_patterns.def). */
struct smtpreply_reason_pattern {
    const char *text; /* lower-case substring */
    bool temp, perm;  /* applies to 4yz / to 5yz replies */
    bool any_cmd;     /* else only to replies to cmd */
    enum smtpreply_cmd cmd;
    int esc_subject; /* -1, or the enhanced subject the reply must have */
    int esc_detail;  /* -1, or the detail it must have */
    enum smtpreply_reason reason;
    const char *source; /* who documents the wording */
};
/* Iterate the text-pattern table (idx = 0, 1, ...; false at the end). */
bool smtpreply_reason_pattern_at(size_t idx, struct smtpreply_reason_pattern *out);

/* ---- Reading a pasted reply or an MTA log line (replytext.c) ---- */

/* What smtpreply_read_reply found. */
struct smtpreply_pasted {
    unsigned code;            /* the reply's basic code */
    bool has_esc;             /* an enhanced code starts the text of a line */
    struct smtpreply_esc esc; /* the first line's that carries one */
    bool has_cmd;             /* the item names the command answered */
    enum smtpreply_cmd cmd;   /* then: the verb, CONNECT or DATA_END */
    unsigned nlines;          /* reply lines read */
    size_t text_len;          /* bytes written to the text buffer (no NUL) */
    bool text_cut;            /* the text did not fit the buffer */
};

/* Finds the server reply (and the command it answers, when the item says)
 * in one pasted item, with no I/O and no allocation:
 *   - a reply of one or more lines, LF or CRLF, each "code-text" but the
 *     last "code text" (RFC 5321 §4.2.1); lines may carry transcript
 *     prefixes ("S: ", "<- ", "<~ ", "<** "); a client line before the
 *     reply ("C: RCPT TO:<x>", "-> DATA", "C: .") names the command;
 *   - Postfix: "... said: 550 5.1.1 ... (in reply to RCPT TO command)",
 *     also "end of DATA", "MAIL FROM", "DATA"; a multi-line reply that
 *     Postfix logged on one line ("550-5.7.1 a 550-5.7.1 b 550 5.7.1 c")
 *     is split back into its lines;
 *   - Exim: "SMTP error from remote mail server after [pipelined] RCPT
 *     TO:<...>: 550 ...", "after end of data", "after initial
 *     connection", and the bounce form "host H [IP]: 550 ...";
 *   - Microsoft: "Remote Server returned '550 5.1.10 ...'";
 *   - a delivery status notification's "smtp; 550 5.1.1 ...".
 * Phrases are matched case-insensitively.  text receives the reply's text:
 * each line without its code and separator, lines joined with "\n", cut
 * to text_cap - 1 bytes and NUL-terminated (text may be NULL when
 * text_cap is 0).  Returns false when the item holds no reply code. */
bool smtpreply_read_reply(const char *item, size_t len, char *text, size_t text_cap,
                          struct smtpreply_pasted *out);

/* ---- Redaction (redact.c) ---- */

/* The token that stands for a local part: "h-" and the first 8 hex digits
 * (lower case) of the FNV-1a 64-bit hash of the local part's bytes as
 * written (quotes of a quoted local part included), e.g. "h-1a2b3c4d".
 * Stable across runs and machines, so redacted results can be compared. */
#define SMTPREPLY_REDACT_TOKEN 11u /* 10 characters and a NUL */
void smtpreply_redact_token(const char *local, size_t len, char out[SMTPREPLY_REDACT_TOKEN]);

/* Copies text[0..len) to out, replacing the local part of every mail
 * address with its token (above) and keeping the domain, so results can
 * be shared without saying who wrote to whom.  An address is a local part
 * (a run of RFC 5322 atext and dots, UTF-8 bytes included, or a quoted
 * string on one line) directly followed by '@' and a domain or address
 * literal; it may stand anywhere (inside <...>, at the start or the end
 * of the text).  An '@' that ends the text also counts (a cut address),
 * while "@" alone or "@domain" without a local part is kept as is.
 * out receives at most cap - 1 bytes and a NUL (nothing when cap is 0);
 * a token is written whole or not at all, and once something does not
 * fit the copy stops there and *cut (when cut is not NULL) is set.
 * Returns the bytes written, NUL excluded.  Never allocates, never reads
 * past len; text may be NULL when len is 0.  SMTPREPLY_REDACT_CAP(len)
 * bytes always suffice. */
#define SMTPREPLY_REDACT_CAP(len) ((len)*4u + 4u)
size_t smtpreply_redact(const char *text, size_t len, char *out, size_t cap, bool *cut);

#ifdef __cplusplus
}
#endif
#endif /* SMTPREPLY_H */
