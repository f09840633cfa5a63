#!/usr/bin/env bash
# RINGFENCE_VECTORS is read when a test runs, not when the build was configured:
#   - pointed at a missing directory, a vectors test fails and names that path;
#   - pointed at a symlink to the real directory (nothing copied), it passes and uses the link;
#   - unset, the directory configured at build time (RINGFENCE_VECTORS_DIR) is used;
#   - no ctest test sets RINGFENCE_VECTORS itself, so what a user exports reaches every test.
# Usage: vectors_env_test.sh VECTORS_TEST_BINARY CONFIGURED_VECTORS_DIR CTEST BUILD_DIR
set -euo pipefail
probe=$1
configured=$2
ctest=$3
build=$4
py=${PYTHON:-/usr/bin/python3}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
filter=--gtest_filter=VectorsDir.*

if RINGFENCE_VECTORS=$dir/missing "$probe" "$filter" > "$dir/out" 2>&1; then
  fail "a missing vectors directory passed: $(cat "$dir/out")"
fi
grep -q "not found: $dir/missing" "$dir/out" || fail "the failure does not name $dir/missing: $(cat "$dir/out")"

ln -s "$(realpath "$configured")" "$dir/link"
RINGFENCE_VECTORS=$dir/link "$probe" "$filter" > "$dir/out" 2>&1 || fail "symlinked vectors failed: $(cat "$dir/out")"
grep -q "vectors directory: $dir/link\$" "$dir/out" || fail "the symlink was not used: $(cat "$dir/out")"

env -u RINGFENCE_VECTORS "$probe" "$filter" > "$dir/out" 2>&1 || fail "the configured default failed: $(cat "$dir/out")"
grep -q "vectors directory: $configured\$" "$dir/out" || fail "the configured default was not used: $(cat "$dir/out")"

"$ctest" --test-dir "$build" --show-only=json-v1 > "$dir/tests.json"
"$py" - "$dir/tests.json" <<'PY'
import json, sys
tests = json.load(open(sys.argv[1]))["tests"]
assert tests, "ctest lists no tests"
for t in tests:
    for p in t.get("properties", []):
        if p["name"] == "ENVIRONMENT":
            fixed = [e for e in p["value"] if e.startswith("RINGFENCE_VECTORS=")]
            assert not fixed, f"{t['name']} fixes {fixed[0]}: a user's RINGFENCE_VECTORS would not reach it"
print(f"none of {len(tests)} tests fixes RINGFENCE_VECTORS")
PY
echo "RINGFENCE_VECTORS: read at run time"
