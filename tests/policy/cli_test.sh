#!/usr/bin/env bash
# Exercises the policy CLI as a process: check, decide, replay and its exit codes
# (0 same/valid, 1 different/invalid, 3 usage or I/O error).
set -u
tool=$1
data=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0

expect() {  # expect CODE DESCRIPTION COMMAND...
  local want=$1 what=$2
  shift 2
  "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL: $what: exit $got, wanted $want"; cat "$work/out" "$work/err"; fail=1
  else
    echo "ok: $what"
  fi
}

expect 0 "check a valid policy" "$tool" check "$data/policy.toml"
grep -Eq '^policy_hash [0-9a-f]{64}$' "$work/out" || { echo "FAIL: no hash printed"; fail=1; }
hash=$(sed -n 's/^policy_hash //p' "$work/out")
expect 0 "check --canonical" "$tool" check --canonical "$data/policy.toml"
tail -n 1 "$work/out" | tr -d '\n' | sha256sum | grep -q "^$hash " || { echo "FAIL: hash is not SHA-256 of the canonical text"; fail=1; }
printf 'version = 1\n[groups.g]\nmembers = []\n' >"$work/bad.toml"
expect 1 "check an invalid policy" "$tool" check "$work/bad.toml"
grep -q 'groups.g.members' "$work/err" || { echo "FAIL: error does not name the field"; fail=1; }
expect 3 "check a missing file" "$tool" check "$work/nope.toml"
expect 3 "no subcommand" "$tool"
expect 3 "unknown option" "$tool" replay --bogus x

cat >"$work/input.json" <<'JSON'
{"asset_frozen":false,"asset_outflows":[],"available_balance":"5000000000","client_frozen":false,"client_outflows":[],"now":1000000,"request":{"amount":"500000000","asset":"BTC","client":"client-1","destination":"bc1qdest","requester":"dave"},"whitelist_entry":{"added_at":900000,"destination":"bc1qdest"}}
JSON
expect 0 "decide a withdrawal" "$tool" decide --policy "$data/policy.toml" --decision withdrawal "$work/input.json"
cp "$work/out" "$work/record.json"
expect 0 "decide with the policy embedded" "$tool" decide --policy "$data/policy.toml" --decision withdrawal --embed-policy "$work/input.json"
cp "$work/out" "$work/embedded.json"

expect 0 "replay with --policy" "$tool" replay "$work/record.json" --policy "$data/policy.toml"
grep -q '^same withdrawal' "$work/out" || { echo "FAIL: replay did not say same"; fail=1; }
expect 0 "replay with the embedded policy" "$tool" replay "$work/embedded.json"
expect 3 "replay without any policy" "$tool" replay "$work/record.json"

sed 's/"k":2/"k":1/' "$work/record.json" >"$work/tampered.json"
expect 1 "replay a tampered output" "$tool" replay "$work/tampered.json" --policy "$data/policy.toml"
grep -q 'output.approvals.k' "$work/out" || { echo "FAIL: difference not reported"; fail=1; }
sed 's/per_request_limit = \\"10\\"/per_request_limit = \\"9\\"/' "$work/embedded.json" >"$work/tampered-policy.json"
cmp -s "$work/embedded.json" "$work/tampered-policy.json" && { echo "FAIL: policy tamper did not apply"; fail=1; }
expect 1 "replay with a tampered embedded policy" "$tool" replay "$work/tampered-policy.json"
echo '{"decision":' >"$work/garbage.json"
expect 3 "replay a malformed record" "$tool" replay "$work/garbage.json" --policy "$data/policy.toml"
expect 3 "replay a missing record" "$tool" replay "$work/none.json" --policy "$data/policy.toml"
exit $fail
