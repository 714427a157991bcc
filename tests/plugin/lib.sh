# SPDX-License-Identifier: MIT
# Shared helpers for the plugin tests (sourced, not run).
#
# Wireshark loads no personal plugins (nor WIRESHARK_PLUGIN_DIR) for root,
# so tshark runs as uid 65534 over a world-readable temporary copy of the
# plugin and of the captures.  WIRESHARK_PLUGIN_DIR replaces the global
# plugin folder; the loader looks in $dir/<major>.<minor>/epan/ of its own
# version (SMTPREPLY_PLUGIN_SUBDIR, from the build).  Every tshark call has
# a timeout.

set -u
: "${SMTPREPLY_PLUGIN:?SMTPREPLY_PLUGIN (path of smtpreply.so) must be set}"
: "${SRCDIR:?}" "${BUILDDIR:?}"
: "${SMTPREPLY_PLUGIN_SUBDIR:?SMTPREPLY_PLUGIN_SUBDIR (e.g. 4.0/epan) must be set}"
SHARED=${SHARED:-$SRCDIR/../shared}
TSHARK_TIMEOUT=${TSHARK_TIMEOUT:-120}

fail() { echo "FAIL: $*" >&2; exit 1; }

command -v tshark >/dev/null 2>&1 || fail "tshark is not installed (apt-get install tshark)"

SR_TMP=$(mktemp -d /tmp/smtpreply-plugin-test.XXXXXX)
trap 'rm -rf "$SR_TMP"' EXIT
chmod 755 "$SR_TMP"
SR_STAGED="$SR_TMP/plugins/$SMTPREPLY_PLUGIN_SUBDIR/$(basename "$SMTPREPLY_PLUGIN")"
mkdir -p "$(dirname "$SR_STAGED")" "$SR_TMP/home" "$SR_TMP/captures"
cp "$SMTPREPLY_PLUGIN" "$SR_STAGED"
chmod -R a+rX "$SR_TMP"
chown 65534:65534 "$SR_TMP/home" 2>/dev/null || chmod 777 "$SR_TMP/home"

# as_nobody CMD...: run CMD as uid/gid 65534 when we are root.
as_nobody() {
    if [ "$(id -u)" = 0 ]; then
        setpriv --reuid=65534 --regid=65534 --clear-groups \
            env HOME="$SR_TMP/home" WIRESHARK_PLUGIN_DIR="$SR_TMP/plugins" "$@"
    else
        env HOME="$SR_TMP/home" WIRESHARK_PLUGIN_DIR="$SR_TMP/plugins" "$@"
    fi
}

# ts ARGS...: tshark with the freshly built plugin.
ts() { as_nobody timeout "$TSHARK_TIMEOUT" tshark "$@"; }

# read_stopped RC FILE: true when tshark stopped at a damaged or cut record
# after reading the ones before, and said so in FILE (its stderr): exit 2
# up to 4.4, WS_EXIT_READ_ERROR (14) from 4.6 (srtshark.read_stopped).
read_stopped() {
    { [ "$1" -eq 2 ] || [ "$1" -eq 14 ]; } &&
        grep -qE 'appears to be damaged or corrupt|appears to have been cut short|may be damaged or corrupt' "$2"
}

# Fails loudly unless `tshark -G plugins` lists the plugin we copied.
require_plugin_loaded() {
    local out
    out=$(ts -G plugins 2>&1) || fail "tshark -G plugins failed: $out"
    echo "$out" | grep -q "^$(basename "$SR_STAGED").*$SR_STAGED" ||
        fail "tshark -G plugins does not list $SR_STAGED:
$out"
}

# stage_capture PATH: a world-readable copy; prints its path.
stage_capture() {
    local dst="$SR_TMP/captures/$(basename "$1")"
    cp "$1" "$dst" && chmod 644 "$dst" && echo "$dst"
}

# Run directly (ctest registers every tests/plugin/*.sh), it checks that the
# plugin loads as an unprivileged user.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    require_plugin_loaded
    echo "OK: tshark -G plugins lists $SR_STAGED"
fi
