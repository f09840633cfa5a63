#!/usr/bin/env bash
# The end-to-end demo on embedded defaults (SQLite files and hsm_sim): installs what is missing,
# builds, then walks through what Ringfence does today, in a fresh directory under /tmp:
#   1. a software HSM token is initialised through PKCS#11 (OpenSC's pkcs11-tool);
#   2. two ops staff create sealed approver keys with `quorum`; signerd's registry names them;
#   3. signerd starts on a Unix socket and creates keys inside the token;
#   4. a 1.5 BTC withdrawal is approved by both (`quorum approve`), built (as custodyd will),
#      checked and signed by signerd; tampered or under-approved versions are refused;
#   5. signerd's hash-chained log is verified;
#   6. a policy decision is made and replayed; a proof-of-reserves package is exported and
#      verified by the auditor's and the client's checks.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ringfence_install "${RINGFENCE_BUILD_PACKAGES[@]}" opensc python3 python3-cryptography
ringfence_build signerd hsm_sim quorum ringfence_demo policy_tool reserves
B=$RINGFENCE_BUILD
work=$(mktemp -d /tmp/ringfence-demo.XXXXXX)
chmod 700 "$work"
signerd_pid=
cleanup() {
  [ -n "$signerd_pid" ] && kill "$signerd_pid" 2>/dev/null && wait "$signerd_pid" 2>/dev/null
  true
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. hsm_sim token in $work/token, initialised with pkcs11-tool"
export HSM_SIM_DIR=$work/token
module=$B/hsm_sim/libhsm_sim.so
umask 077
printf '%s' "demo-user-pin-$RANDOM$RANDOM" > "$work/user.pin"
so_pin="demo-so-pin-$RANDOM$RANDOM"
pkcs11-tool --module "$module" --init-token --label ringfence-hot --so-pin "$so_pin" >/dev/null
pkcs11-tool --module "$module" --login --login-type so --so-pin "$so_pin" --init-pin --pin "$(cat "$work/user.pin")" >/dev/null
pkcs11-tool --module "$module" --list-mechanisms | sed 's/^/  /'

step "2. approver keys sealed under passphrases (quorum keygen)"
for who in alice bob; do
  printf '%s' "$who's demo passphrase $RANDOM$RANDOM" > "$work/$who.pass"
  pk=$("$B/tools/quorum/quorum" keygen --out "$work/$who.key" --passphrase-file "$work/$who.pass")
  echo "  ops-$who  $pk"
  printf '[[approver]]\nid = "ops-%s"\npublic_key = "%s"\n\n' "$who" "$pk" >> "$work/approvers.toml"
done
cat >> "$work/approvers.toml" <<'TOML'
[quorum.BTC]
internal_sweep_approvals = 0
tiers = [ { from = "0", approvals = 1 }, { from = "100000000", approvals = 2 } ]
TOML
cat > "$work/transactions.toml" <<'TOML'
approver_registry = "approvers.toml"

[bitcoin]
network = "regtest"

[[asset]]
id = "BTC"
chain = "bitcoin"
TOML
cat > "$work/signerd.toml" <<TOML
[server]
socket = "$work/signerd.sock"
database = "$work/signer.db"

[pkcs11]
module = "$module"
token_label = "ringfence-hot"
pin_file = "$work/user.pin"

[transactions]
config = "$work/transactions.toml"
TOML
echo "  quorum: 1 approval below 1 BTC, 2 from 1 BTC"

step "3. signerd on $work/signerd.sock"
"$B/signer/signerd" --config "$work/signerd.toml" 2> "$work/signerd.log" &
signerd_pid=$!

step "4. a 1.5 BTC withdrawal, approved by ops-alice and ops-bob"
dest=bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080
wd=(--request-id wd-0001 --chain bitcoin --network regtest --asset BTC --amount 150000000
    --destination "$dest" --fee-cap 5000)
for who in alice bob; do
  "$B/tools/quorum/quorum" approve --key "$work/$who.key" --approver-id "ops-$who" \
    --passphrase-file "$work/$who.pass" "${wd[@]}" > "$work/$who.approval" 2> >(sed 's/^/  /' >&2)
done
"$B/tools/demo/ringfence_demo" --socket "$work/signerd.sock" --request-id wd-0001 --destination "$dest" \
  --amount 150000000 --fee 2000 --fee-cap 5000 --approval "$work/alice.approval" --approval "$work/bob.approval"

step "5. signerd's hash-chained log"
kill "$signerd_pid"; wait "$signerd_pid" || true; signerd_pid=
"$B/signer/signerd" --config "$work/signerd.toml" --verify-log | sed 's/^/  /'

step "6a. policy: a withdrawal decision, recorded and replayed"
"$B/tools/policy/policy" check "$RINGFENCE_ROOT/scripts/demo/policy.toml" | sed 's/^/  /'
"$B/tools/policy/policy" decide --policy "$RINGFENCE_ROOT/scripts/demo/policy.toml" --decision withdrawal \
  "$RINGFENCE_ROOT/scripts/demo/withdrawal.json" > "$work/decision.json"
echo "  6 BTC to a whitelisted address, 1 BTC already out today: $(grep -o '"allowed":[a-z]*,"approvals":{[^}]*}' "$work/decision.json")"
"$B/tools/policy/policy" replay --policy "$RINGFENCE_ROOT/scripts/demo/policy.toml" "$work/decision.json" | sed 's/^/  /'

step "6b. proof of reserves: export, audit, and one client's check"
bash "$RINGFENCE_ROOT/scripts/demo/reserves.sh" "$B/tools/reserves/reserves" "$work/por"
echo
echo "Demo complete. Everything it made is in $work"
