#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test through ctest.
# Usage: scripts/test.sh [ctest args...]   (e.g. -L unit, -R chain)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ringfence_install "${RINGFENCE_BUILD_PACKAGES[@]}" "${RINGFENCE_TEST_PACKAGES[@]}"
ringfence_npm
ringfence_build
cd "$RINGFENCE_BUILD"
# Benchmarks run once, briefly, so that they keep working; their figures come from scripts/bench.sh.
exec ctest --output-on-failure --timeout 600 -j2 "$@"
