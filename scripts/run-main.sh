#!/usr/bin/env bash
# run-main.sh - install what is missing, build, and run the main job:
# tally the reply codes in a bundled capture.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh main
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMTPREPLY_PLUGIN=AUTO >/dev/null
cmake --build build -j "$(nproc)" --target smtpreply >/dev/null
./build/analyzer/smtpreply explain 250 550 "550 5.1.1 <bob@example.org>: Recipient address rejected" 534
