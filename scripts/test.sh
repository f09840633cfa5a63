#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test through ctest; CI runs exactly this.
#
# Usage: scripts/test.sh [--quick | --full] [--stress N] [ctest args...]   (e.g. -L unit, -R chain)
#
# Every build treats warnings as errors (RINGFENCE_WERROR=ON):
#   build/          RelWithDebInfo, GCC: everything is built and every test runs (ctest -j2);
#   build-release/  Release, GCC: the product only (libraries, daemons, tools), built, not run;
#   build-clang/    RelWithDebInfo, Debian's clang: the whole tree (tests, fuzz targets and
#                   benchmarks too, which later sanitizer and libFuzzer builds need), built, not run.
# Release stays product-only so that the whole of CI stays well within its 90 minutes on two
# cores (a whole-tree Release build at -O3 costs about as much as the RelWithDebInfo one).
# --quick skips both. --full builds the whole tree in Release instead, and also the whole tree
# in Debug (build-debug/), so that every build type is checked with warnings as errors; CI does
# not run it (it roughly doubles the build time), run it before a release.
#
# --stress N builds build/ only, then runs the suite (with the ctest args given) N times in a
# row while a second copy of it runs over the same build directory at the same time, each copy
# with its own temporary directory (TMPDIR), so its files and Unix sockets never meet the other
# copy's; TCP servers in tests listen on port 0. The two ctest processes share only ctest's own
# bookkeeping under build/Testing. It fails if any run of either copy fails; each run's log is
# kept under build/stress/ (a-K.log for the first copy, b-K.log for the second).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

quick=0
full=0
stress=0
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1; shift ;;
    --full) full=1; shift ;;
    --stress)
      [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "usage: scripts/test.sh --stress N [ctest args...] (N >= 1)" >&2; exit 3; }
      stress=$2
      shift 2
      ;;
    *) break ;;
  esac
done

RINGFENCE_RELEASE_BUILD=${RINGFENCE_RELEASE_BUILD:-$RINGFENCE_ROOT/build-release}
RINGFENCE_CLANG_BUILD=${RINGFENCE_CLANG_BUILD:-$RINGFENCE_ROOT/build-clang}
RINGFENCE_DEBUG_BUILD=${RINGFENCE_DEBUG_BUILD:-$RINGFENCE_ROOT/build-debug}
# What "the product" is for the Release build: every module library, the daemons and the
# command-line tools, and nothing under tests/ or bench/ (CMakeLists.txt, ringfence_product).
RINGFENCE_PRODUCT_TARGETS=(ringfence_product)

ringfence_install "${RINGFENCE_BUILD_PACKAGES[@]}" "${RINGFENCE_TEST_PACKAGES[@]}"
ringfence_npm
RINGFENCE_CMAKE_ARGS=(-DRINGFENCE_WERROR=ON)
ringfence_log "RelWithDebInfo (GCC) in $RINGFENCE_BUILD"
ringfence_build

# ctest_run LOG TMP [ctest args...]: one run of the whole suite, its temporary files under TMP.
ctest_run() {
  local log=$1 tmp=$2
  shift 2
  (cd "$RINGFENCE_BUILD" && TMPDIR=$tmp ctest --output-on-failure --timeout 600 -j2 "$@") >"$log" 2>&1
}

if [ "$stress" -gt 0 ]; then
  dir=$RINGFENCE_BUILD/stress
  rm -rf "$dir"
  mkdir -p "$dir"
  # Each copy's temporary directory is a fresh one under the system's: short paths, because
  # the tests put Unix sockets there (108 bytes at most), and nothing shared between copies.
  tmp_a=$(mktemp -d "${TMPDIR:-/tmp}/ringfence-stress-a.XXXXXX")
  tmp_b=$(mktemp -d "${TMPDIR:-/tmp}/ringfence-stress-b.XXXXXX")
  trap 'rm -rf "$tmp_a" "$tmp_b"' EXIT
  # The second copy runs the suite again and again until the N runs of the first are done,
  # then finishes the run it is in.
  (
    k=0
    status=0
    while [ ! -e "$dir/done" ]; do
      k=$((k + 1))
      if ctest_run "$dir/b-$k.log" "$tmp_b" "$@"; then
        ringfence_log "stress: second copy, run $k passed"
      else
        ringfence_log "stress: second copy, run $k FAILED (log: $dir/b-$k.log)"
        status=1
      fi
    done
    exit $status
  ) &
  second=$!
  # Background jobs of a script ignore Ctrl-C: stop the second copy with the first.
  trap 'kill "$second" 2>/dev/null; exit 130' INT TERM
  failed=0
  for k in $(seq 1 "$stress"); do
    start=$SECONDS
    if ctest_run "$dir/a-$k.log" "$tmp_a" "$@"; then
      ringfence_log "stress: run $k of $stress passed ($((SECONDS - start)) s)"
    else
      ringfence_log "stress: run $k of $stress FAILED (log: $dir/a-$k.log)"
      grep -E '^\s*[0-9]+ - |tests passed' "$dir/a-$k.log" >&2 || true
      failed=1
    fi
  done
  touch "$dir/done"
  wait "$second" || failed=1
  [ "$failed" -eq 0 ] || { ringfence_log "stress: FAILED"; exit 1; }
  ringfence_log "stress: $stress runs passed, each beside a second copy of the suite"
  exit 0
fi

# Benchmarks run once, briefly, so that they keep working; their figures come from scripts/bench.sh.
(cd "$RINGFENCE_BUILD" && ctest --output-on-failure --timeout 600 -j2 "$@")
[ "$quick" -eq 1 ] && exit 0

ringfence_configure "$RINGFENCE_RELEASE_BUILD" -DCMAKE_BUILD_TYPE=Release -DRINGFENCE_WERROR=ON
if [ "$full" -eq 1 ]; then
  ringfence_log "Release (GCC) in $RINGFENCE_RELEASE_BUILD: the whole tree"
  cmake --build "$RINGFENCE_RELEASE_BUILD" -j2
  ringfence_log "Debug (GCC) in $RINGFENCE_DEBUG_BUILD: the whole tree"
  ringfence_configure "$RINGFENCE_DEBUG_BUILD" -DCMAKE_BUILD_TYPE=Debug -DRINGFENCE_WERROR=ON
  cmake --build "$RINGFENCE_DEBUG_BUILD" -j2
else
  ringfence_log "Release (GCC) in $RINGFENCE_RELEASE_BUILD: product targets"
  cmake --build "$RINGFENCE_RELEASE_BUILD" -j2 --target "${RINGFENCE_PRODUCT_TARGETS[@]}"
fi

ringfence_log "clang in $RINGFENCE_CLANG_BUILD: the whole tree"
ringfence_configure "$RINGFENCE_CLANG_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRINGFENCE_WERROR=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
cmake --build "$RINGFENCE_CLANG_BUILD" -j2
