#!/usr/bin/env bash
# Installs what is missing, builds, and runs every benchmark at full length, printing its
# figures beside the raw limit measured in the same run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ringfence_install "${RINGFENCE_BUILD_PACKAGES[@]}" softhsm2
ringfence_build
for b in "$RINGFENCE_BUILD"/bench/*/bench_*; do
  [ -x "$b" ] || continue
  ringfence_log "$(basename "$b")"
  "$b"
done
