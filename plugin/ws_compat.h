/* SPDX-License-Identifier: MIT */
/*
 * ws_compat.h - the differences between the Wireshark releases the plugin
 * builds for, in one place: 4.0 (Debian 12), 4.2 (Ubuntu 24.04), 4.4
 * (Debian 13) and 4.6 (Debian testing, Homebrew, the installers).  Keyed
 * on the version macros of ws_version.h; the plugin's other files use only
 * what is named here.
 *
 * Already the same everywhere, so not here: pinfo->pool (3.6 and later;
 * wmem_packet_scope() is gone in 4.6), tap_packet_status with tap_flags_t,
 * the conversation and stats_tree calls the plugin makes.
 */
#ifndef SMTPREPLY_WS_COMPAT_H
#define SMTPREPLY_WS_COMPAT_H

#include <wireshark.h>
#include <ws_version.h>
#include <epan/proto.h>
/* Installed with the development files from 4.2 on (not in 4.0's). */
#if defined(__has_include)
#if __has_include(<wsutil/plugins.h>)
#include <wsutil/plugins.h>
#endif
#endif

#define SR_WS_AT_LEAST(major, minor)      \
    (WIRESHARK_VERSION_MAJOR > (major) || \
     (WIRESHARK_VERSION_MAJOR == (major) && WIRESHARK_VERSION_MINOR >= (minor)))

/* field_info.value: an fvalue_t inside the field_info up to 4.0, a
 * pointer (fvalue_t *) from 4.2 (Ubuntu 24.04's 4.2.2 headers).
 * SR_FVALUE(fi) is the fvalue_t * the fvalue_get_*() calls take. */
#if SR_WS_AT_LEAST(4, 2)
#define SR_FVALUE(fi) ((fi)->value)
#else
#define SR_FVALUE(fi) (&(fi)->value)
#endif

/* prefs_register_bool_preference() stores through a bool * from 4.4 (a
 * gboolean * in 4.0 and 4.2). */
#if SR_WS_AT_LEAST(4, 4)
typedef bool sr_pref_bool;
#else
typedef gboolean sr_pref_bool;
#endif

/* What the plugin registers, for `tshark -G plugins` and About > Plugins:
 * from 4.2 the loader asks plugin_describe(); without it 4.4 and 4.6 list
 * the plugin's type as "unknown".  4.0 has no such flags. */
#ifdef WS_PLUGIN_DESC_DISSECTOR
#ifdef WS_PLUGIN_DESC_TAP_LISTENER
#define SR_PLUGIN_FLAGS (WS_PLUGIN_DESC_DISSECTOR | WS_PLUGIN_DESC_TAP_LISTENER)
#else
#define SR_PLUGIN_FLAGS WS_PLUGIN_DESC_DISSECTOR
#endif
#endif

/* Decrypted TLS records (tls-smtpreply.c).  The TLS dissector keeps the
 * records it decrypted in a frame as that frame's file-scope protocol
 * data: p_get_proto_data(wmem_file_scope(), pinfo, proto_tls, key), an
 * SslPacketInfo whose first member is the list of SslRecordInfo
 * (epan/dissectors/packet-tls-utils.h).  That header is not included: it
 * needs libgcrypt's headers, which libwireshark-dev does not pull in (the
 * Debian 13 and testing chroots have none).  Its two structures are
 * mirrored here as far as the plugin reads them, per release, from the
 * installed headers of 4.0.17 (Debian 12), 4.2.2 (Ubuntu 24.04), 4.4.19
 * (Debian 13) and 4.6.9 (Debian testing), and checked there with tshark
 * on the captures in captures/tls/ (the records' stream offsets come out
 * right only with the right layout).  ContentType is an enum: an int.
 *
 * The key is the TLS layer's number within the frame: 4.4 and 4.6 store
 * the first TLS layer under 1 (pinfo->curr_proto_layer_num), 4.0 under 0.
 * SR_TLS_LAYER_KEY(n) is the key of the n-th TLS layer.
 *
 * 4.2.2 (Ubuntu 24.04) has 4.0's layout and 4.4's key: checked by hand in
 * a noble chroot (the only key under which starttls-tls13.pcap's 13
 * replies come out decrypted); it is not in CI. */
#if SR_WS_AT_LEAST(4, 6)
#define SR_TLS_RECORDS 1
#define SR_TLS_LAYER_KEY(n) (n)
struct sr_tls_record {
    unsigned char *plain_data;
    unsigned data_len;
    int id;
    int type; /* ContentType */
    void *flow;
    uint64_t record_seq;
    uint32_t seq; /* offset in the flow's decrypted stream */
    struct sr_tls_record *next;
};
#elif SR_WS_AT_LEAST(4, 4)
#define SR_TLS_RECORDS 1
#define SR_TLS_LAYER_KEY(n) (n)
struct sr_tls_record {
    unsigned char *plain_data;
    unsigned data_len;
    int id;
    int type;
    void *flow;
    uint32_t seq;
    uint16_t dtls13_seq_suffix;
    struct sr_tls_record *next;
};
#else
/* 4.0 and 4.2 share this layout; 4.2 keys by the layer as 4.4 does. */
#define SR_TLS_RECORDS 1
#if SR_WS_AT_LEAST(4, 1)
#define SR_TLS_LAYER_KEY(n) (n)
#else
#define SR_TLS_LAYER_KEY(n) ((n)-1)
#endif
struct sr_tls_record {
    unsigned char *plain_data;
    unsigned data_len;
    int id;
    int type;
    void *flow;
    uint32_t seq;
    struct sr_tls_record *next;
};
#endif
#ifdef SR_TLS_RECORDS
struct sr_tls_packet_info {
    struct sr_tls_record *records; /* in the order they were decrypted */
};
#endif

#ifndef PLUGIN_VERSION
#define PLUGIN_VERSION SMTPREPLY_VERSION
#endif

/* SR_PLUGIN_ENTRY(fn) defines the symbols the loader looks for; fn
 * registers the dissector and the tap. */
#ifdef WIRESHARK_PLUGIN_REGISTER_EPAN
/* The development series after 4.6 (untested here): one exported
 * wireshark_load_module() returning a struct ws_module; the loader checks
 * the ABI number it carries instead of plugin_want_major/minor. */
#define SR_PLUGIN_ENTRY(fn)                                              \
    static struct ws_module sr_ws_module = {                             \
        .flags = SR_PLUGIN_FLAGS,                                        \
        .version = PLUGIN_VERSION,                                       \
        .spdx_id = "MIT",                                                \
        .home_url = "",                                                  \
        .blurb = "SMTP Reply Analysis: reply meanings, enhanced status " \
                 "codes, request/response links and statistics",         \
        .register_cb = fn,                                               \
    };                                                                   \
    WIRESHARK_PLUGIN_REGISTER_EPAN(&sr_ws_module, 0)
#else
#ifdef SR_PLUGIN_FLAGS
#define SR_PLUGIN_DESCRIBE                        \
    WS_DLL_PUBLIC uint32_t plugin_describe(void); \
    uint32_t plugin_describe(void)                \
    {                                             \
        return SR_PLUGIN_FLAGS;                   \
    }
#else
#define SR_PLUGIN_DESCRIBE
#endif
/* 4.0 to 4.6: the version strings and plugin_register(); Wireshark loads
 * the plugin only into the minor version it was built for. */
#define SR_PLUGIN_ENTRY(fn)                                                  \
    WS_DLL_PUBLIC_DEF const char plugin_version[] = PLUGIN_VERSION;          \
    WS_DLL_PUBLIC_DEF const int plugin_want_major = WIRESHARK_VERSION_MAJOR; \
    WS_DLL_PUBLIC_DEF const int plugin_want_minor = WIRESHARK_VERSION_MINOR; \
    WS_DLL_PUBLIC void plugin_register(void);                                \
    void plugin_register(void)                                               \
    {                                                                        \
        fn();                                                                \
    }                                                                        \
    SR_PLUGIN_DESCRIBE
#endif

#endif
