#!/usr/bin/env bash
# deps.sh [main|test|screenshot] - install, with apt-get, the Debian 12
# packages that are missing for running the main job (main), every test
# (test), or docs/screenshot.sh (screenshot: the test set plus Wireshark's
# GUI under Xvfb).
# Installs nothing that is already there; needs root only when it installs.
set -euo pipefail
what=${1:-test}
# What each package is for is in README.md ("Dependencies").
# python3: configuring the build (tests/ is part of it) needs it.
pkgs=(build-essential cmake pkg-config libpcap-dev libjansson-dev libssl-dev python3)
if [ "$what" = test ] || [ "$what" = screenshot ]; then
  pkgs+=(python3 python3-scapy jq parallel tcpdump time util-linux openssl
         clang libclang-rt-14-dev
         wireshark-dev libwireshark-dev libwiretap-dev libglib2.0-dev tshark)
fi
if [ "$what" = screenshot ]; then
  pkgs+=(wireshark-qt xvfb xdotool imagemagick x11-apps)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
