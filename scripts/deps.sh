#!/usr/bin/env bash
# deps.sh [--list] [main|test|screenshot|versions] - install, with apt-get,
# the Debian 12 packages that are missing for running the main job (main),
# every test (test), or docs/screenshot.sh (screenshot: the test set plus
# Wireshark's GUI under Xvfb).  "versions" is what the builds inside the
# Debian 13 and testing chroots need (tests/versions/run.sh): the test set
# without clang, whose package names change with each release.
# --list prints the package names instead of installing them.
# Installs nothing that is already there; needs root only when it installs.
set -euo pipefail
list=0
if [ "${1:-}" = --list ]; then list=1; shift; fi
what=${1:-test}
# What each package is for is in README.md ("Dependencies").
# python3: configuring the build (tests/ is part of it) needs it.
# file: cpack -G DEB (its dpkg-shlibdeps step) needs it.
pkgs=(build-essential cmake pkg-config libpcap-dev libjansson-dev libssl-dev python3 file)
if [ "$what" = test ] || [ "$what" = screenshot ] || [ "$what" = versions ]; then
  pkgs+=(python3-scapy jq parallel tcpdump time util-linux groff-base openssl
         wireshark-dev libwireshark-dev libwiretap-dev libglib2.0-dev tshark)
fi
if [ "$what" = test ] || [ "$what" = screenshot ]; then
  # debootstrap makes the chroots of tests/versions/run.sh; clang-format-14
  # checks the C style (scripts/check-format.sh).
  pkgs+=(clang libclang-rt-14-dev debootstrap clang-format-14)
fi
if [ "$what" = screenshot ]; then
  pkgs+=(wireshark-qt xvfb xdotool imagemagick x11-apps)
fi
if [ $list = 1 ]; then
  printf '%s\n' "${pkgs[@]}"
  exit 0
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
