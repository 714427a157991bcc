#!/bin/bash
# SPDX-License-Identifier: MIT
# Regenerates docs/wireshark-smtpreply.png: Wireshark (Qt) under Xvfb, as
# uid 65534 (root loads no personal plugins), with the freshly built plugin,
# a capture opened at a 5xx reply and the packet details expanded.  Not
# part of CI.
#   docs/screenshot.sh [BUILD_DIR] [CAPTURE]
# Installs what it needs (scripts/deps.sh screenshot: wireshark-qt xvfb
# xdotool imagemagick x11-apps).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/deps.sh" screenshot
build=${1:-$here/build}
capture=${2:-}
out=$here/docs/wireshark-smtpreply.png
export SMTPREPLY_PLUGIN=$build/plugin/smtpreply.so SRCDIR=$here BUILDDIR=$build
for tool in wireshark Xvfb xdotool import; do
    command -v "$tool" >/dev/null ||
        { echo "missing $tool: apt-get install wireshark-qt xvfb xdotool imagemagick" >&2; exit 2; }
done
. "$here/tests/plugin/lib.sh"
require_plugin_loaded

if [ -z "$capture" ]; then
    capture=$SR_TMP/captures/crafted.pcap
    python3 -c "import sys; sys.path.insert(0, '$here/tests/plugin/helpers'); import mkpcap; mkpcap.crafted('$capture')"
    chmod 644 "$capture"
else
    capture=$(stage_capture "$capture")
fi
# The frame to show: the first 5xx reply (else the first reply).
frame=$(ts -r "$capture" -Y 'smtpreply.class == 5' -T fields -e frame.number | head -1)
[ -n "$frame" ] || frame=$(ts -r "$capture" -Y smtpreply.code -T fields -e frame.number | head -1)
[ -n "$frame" ] || fail "no reply in $capture"

display=:${SCREENSHOT_DISPLAY:-97}
Xvfb "$display" -ac -screen 0 1280x1000x24 >/dev/null 2>&1 &
xvfb=$!
cleanup() { kill "$wspid" 2>/dev/null || true; kill "$xvfb" 2>/dev/null || true; rm -rf "$SR_TMP"; }
wspid=
trap cleanup EXIT
sleep 2
# Packet details get most of the window; the meaning goes to the Info column.
mkdir -p "$SR_TMP/home/.config/wireshark"
cat > "$SR_TMP/home/.config/wireshark/preferences" <<'PREFS'
gui.layout_type: 2
gui.packet_list_show_minimap: FALSE
smtpreply.info_meaning: TRUE
PREFS
chown -R 65534:65534 "$SR_TMP/home" 2>/dev/null || chmod -R a+rwX "$SR_TMP/home"
as_nobody env DISPLAY="$display" QT_QPA_PLATFORM=xcb XDG_RUNTIME_DIR="$SR_TMP/home" \
    wireshark -r "$capture" -g "$frame" -Y smtpreply >/dev/null 2>&1 &
wspid=$!
win=
for _ in $(seq 60); do
    win=$(DISPLAY=$display xdotool search --name "crafted|$(basename "$capture")" 2>/dev/null | tail -1) || true
    [ -n "$win" ] && break
    sleep 1
done
[ -n "$win" ] || fail "Wireshark window did not appear"
sleep 4
export DISPLAY=$display
xdotool windowsize "$win" 1280 1000 windowmove "$win" 0 0 || true
sleep 1
# Focus the packet details (second pane), collapse everything, expand all,
# then jump to the end of the tree, where the postdissector's subtree is.
xdotool windowactivate --sync "$win" 2>/dev/null || true
xdotool mousemove 400 600 click 1
sleep 1
xdotool key ctrl+Right
sleep 1
xdotool key End
sleep 2
import -window root "$out"
echo "wrote $out (frame $frame of $(basename "$capture"))"
