#!/usr/bin/env bash
# run-main.sh - install what is missing, build, and run the main job:
# tally the reply codes in a bundled capture (captures/, recorded on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh main
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMTPREPLY_PLUGIN=AUTO >/dev/null
cmake --build build -j "$(nproc)" --target smtpreply >/dev/null
# A real delivery recorded from postfix and swaks: PIPELINING, an unknown
# user (550 5.1.1), a busy mailbox (450), relaying denied (554 5.7.1).
./build/analyzer/smtpreply captures/delivery-pipelining.pcap
