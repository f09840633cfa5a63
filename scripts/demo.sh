#!/usr/bin/env bash
# The end-to-end demo on embedded defaults (SQLite files and hsm_sim): installs what is missing,
# builds, then walks through what Ringfence does today, in a fresh directory under /tmp.
#
# Part A, the custody service (custodyd, reached with custodyctl over mTLS):
#   A1. chainsim, signerd on an hsm_sim token and custodyd on SQLite with development certificates;
#   A2. two clients, a deposit address on each asset for each;
#   A3. deposits credited on chainsim (with chainsimctl), mined: pending, then available;
#   A4. a reorganisation before the confirmation count removes a pending deposit;
#   A5. a transfer nobody claimed shows as unattributed; the segregation report;
#   A6. withdrawals: a whitelisted address approved with `quorum`, a 0.2 BTC payout approved at
#       once, a 1.2 BTC one that waits for 2 of 3 ops; custodyd builds each, signerd checks and
#       signs it, chainsim mines it, the ledger settles it;
#   A7. the cold tier: an offline signer on its own token makes cold keys, the admin imports them
#       (custodyd checks the signer's identity), signerd registers the cold addresses, and
#       custodyd sweeps BTC's hot holdings over the 2% cap to cold by itself; the house, funded
#       through a house address, pays the sweep's fee back (a fee reimbursement);
#   A8. a withdrawal larger than the hot wallet: custodyd plans a top-up from cold, ops approve
#       it with `quorum`, export its signing bundle, the offline signer signs it on its token,
#       the admin imports the answer, custodyd broadcasts and settles it and pays the
#       withdrawal; allocation, coverage and the segregation report;
#       `custodyd check` and `audit verify`.
# Part B, the signer on its own (ringfence_demo builds the withdrawal custodyd builds in A6):
#   1. a software HSM token is initialised through PKCS#11 (OpenSC's pkcs11-tool);
#   2. two ops staff create sealed approver keys with `quorum`; signerd's registry names them;
#   3. signerd starts on a Unix socket and creates keys inside the token;
#   4. a 1.5 BTC withdrawal is approved by both (`quorum sign`), built (as custodyd will),
#      checked and signed by signerd; tampered or under-approved versions are refused;
#   5. signerd's hash-chained log is verified;
#   6. a policy decision is made and replayed; a proof-of-reserves package is exported and
#      verified by the auditor's and the client's checks.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ringfence_install "${RINGFENCE_BUILD_PACKAGES[@]}" opensc openssl python3 python3-cryptography
ringfence_build signerd hsm_sim quorum ringfence_demo policy_tool reserves custodyd chainsim custodyctl chainsimctl
B=$RINGFENCE_BUILD
work=$(mktemp -d /tmp/ringfence-demo.XXXXXX)
chmod 700 "$work"
source "$RINGFENCE_ROOT/scripts/demo/stack.sh"
signerd_pid=
cleanup() {
  [ -n "$signerd_pid" ] && kill "$signerd_pid" 2>/dev/null && wait "$signerd_pid" 2>/dev/null
  stack_stop
  true
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
indent() { sed 's/^/  /'; }
ctl() { "$B/tools/custody_cli/chainsimctl" "$@" | indent; }

# wait_ingested CHAIN ASSET: until custodyd has ingested CHAIN up to chainsim's tip (it records
# the wallets' chain-observed balances at the height it has reached).
wait_ingested() {
  local tip i
  tip=$("$B/tools/custody_cli/chainsimctl" tip --chain "$1" | cut -d' ' -f1)
  for ((i = 0; i < 300; i++)); do
    as admin --json wallets --asset "$2" | grep -q "\"chainHeight\": \"$tip\"" && return 0
    sleep 0.1
  done
  echo "custodyd did not reach height $tip of $1" >&2
  return 1
}
# json_field FIELD: the first "FIELD": "value" of the JSON on stdin.
json_field() { grep -m1 -o "\"$1\": \"[^\"]*\"" | cut -d'"' -f4; }

step "A1. the custody stack in $work: chainsim, signerd (hsm_sim), custodyd (SQLite, mTLS)"
stack_start
echo "  custodyd listening on $custody_addr; certificates in $certs"
as platform assets | indent

step "A2. two clients, a deposit address per asset each (platform role)"
declare -A client addr
for ref in acme-0001 acme-0002; do
  client[$ref]=$(as platform --json create-client --ref "$ref" | json_field clientId)
  echo "  client $ref: ${client[$ref]}"
  for asset in BTC ETH USDC-ETH; do
    addr[$ref:$asset]=$(as platform --json create-deposit-address --client "${client[$ref]}" --asset "$asset" |
      json_field address)
    echo "    $asset deposit address ${addr[$ref:$asset]}"
  done
done
c1=${client[acme-0001]}
c2=${client[acme-0002]}

step "A3. deposits credited on chainsim (chainsimctl) and mined: pending, then available"
ctl credit --chain bitcoin --address "${addr[acme-0001:BTC]}" --amount 150000000 --decimals 8 --unit BTC
ctl credit --chain bitcoin --address "${addr[acme-0002:BTC]}" --amount 2500000 --decimals 8 --unit BTC
ctl credit --chain ethereum --address "${addr[acme-0001:ETH]}" --amount 2000000000000000000 --decimals 18 --unit ETH
ctl credit --chain ethereum --address "${addr[acme-0002:USDC-ETH]}" --amount 125000000 --token "$usdc_contract" \
  --decimals 6 --unit USDC-ETH
ctl mine --chain bitcoin --blocks 1
ctl mine --chain ethereum --blocks 1
wait_ingested bitcoin BTC
wait_ingested ethereum ETH
echo "  one confirmation (BTC needs 3, ETH and USDC-ETH 2):"
as platform balances --client "$c1" | indent
as platform balances --client "$c2" | indent
ctl mine --chain bitcoin --blocks 2
ctl mine --chain ethereum --blocks 1
wait_ingested bitcoin BTC
wait_ingested ethereum ETH
echo "  confirmed:"
as platform balances --client "$c1" | indent
as platform balances --client "$c2" | indent

step "A4. a reorganisation before the confirmation count removes a pending deposit"
ctl credit --chain bitcoin --address "${addr[acme-0002:BTC]}" --amount 40000000 --decimals 8 --unit BTC
ctl mine --chain bitcoin --blocks 1
wait_ingested bitcoin BTC
as platform balances --client "$c2" --asset BTC | indent
ctl reorg --chain bitcoin --depth 1
wait_ingested bitcoin BTC
echo "  after the reorganisation the 0.4 BTC deposit is gone, nothing was credited:"
as platform balances --client "$c2" --asset BTC | indent

step "A5. a transfer nobody claimed, and the segregation report"
echo "  USDC sent to acme-0001's ETH address is no client's USDC deposit: it is unattributed"
ctl credit --chain ethereum --address "${addr[acme-0001:ETH]}" --amount 3000000 --token "$usdc_contract" \
  --decimals 6 --unit USDC-ETH
ctl mine --chain ethereum --blocks 2
wait_ingested ethereum ETH
as auditor segregation-report | indent
echo "  acme-0001's ledger (auditor):"
as auditor ledger --client "$c1" | indent
echo "  the last audit entries:"
as auditor audit | tail -n 6 | indent

step "A6. withdrawals through custodyd: a whitelisted address, an automatic payout, one needing 2 of 3 ops"
dest=bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080
# approve ID WHO: ops-WHO reviews and approves with quorum (approver certificate, sealed key).
approve() {
  "$B/tools/quorum/quorum" --cert "$certs/approver.crt" --key "$certs/approver.key" approve "$1" \
    --key-file "$work/ops-$2.key" --approver-id "ops-$2" --passphrase-file "$work/ops-$2.pass" --yes | indent
}
# wait_withdrawal ID STATE: until custodyd reports the withdrawal in STATE.
wait_withdrawal() {
  local i
  for ((i = 0; i < 300; i++)); do
    as platform --json withdrawal --id "$1" | grep -q "\"state\": \"WITHDRAWAL_STATE_$2\"" && return 0
    sleep 0.1
  done
  echo "withdrawal $1 did not reach $2:" >&2
  as platform withdrawal --id "$1" >&2
  return 1
}
# payout ID: once signed and broadcast by the executor, mine the confirmations and wait.
payout() {
  wait_withdrawal "$1" BROADCAST
  ctl mine --chain bitcoin --blocks 3
  wait_withdrawal "$1" CONFIRMED
  as platform withdrawal --id "$1" | indent
}
entry=$(as platform --json whitelist-add --client "$c1" --asset BTC --address "$dest" --label "acme treasury" |
  json_field entryId)
echo "  acme-0001 asks to whitelist $dest ($entry); the policy wants one of ops:"
approve "$entry" alice
as platform whitelist --client "$c1" --asset BTC | indent
echo "  0.2 BTC, under the approval tier: approved at once; custodyd builds it, signerd checks and signs it:"
w1=$(as platform --json create-withdrawal --client "$c1" --asset BTC --amount 20000000 --destination "$dest" |
  json_field withdrawalId)
payout "$w1"
echo "  1.2 BTC needs 2 of 3 ops: pending until ops-alice and ops-bob approve (quorum shows what they sign):"
w2=$(as platform --json create-withdrawal --client "$c1" --asset BTC --amount 120000000 --destination "$dest" |
  json_field withdrawalId)
"$B/tools/quorum/quorum" --cert "$certs/approver.crt" --key "$certs/approver.key" pending | indent
approve "$w2" alice
approve "$w2" bob
payout "$w2"
as platform balances --client "$c1" --asset BTC | indent

step "A7. the cold tier: keys made offline, imported, and a sweep that brings BTC's hot share under its cap"
echo "  the house funds its own hot wallet (it pays the fees of internal moves):"
house=$(as admin --json create-house-address --asset BTC | json_field address)
ctl credit --chain bitcoin --address "$house" --amount 5000000 --decimals 8 --unit BTC
ctl mine --chain bitcoin --blocks 3
wait_ingested bitcoin BTC
echo "  every BTC of the clients is hot:"
as auditor allocation --asset BTC | indent
echo "  the offline signer (signerd --offline: its own token, no socket) makes two cold keys:"
HSM_SIM_DIR=$work/cold-token "$B/signer/signerd" --offline --config "$work/cold-signerd.toml" create-keys \
  --wallet-id BTC:client-cold --asset BTC --owner client --tier cold --count 2 --out "$work/cold-keys.json" | indent
echo "  the admin imports the file; custodyd checks the identity's signature and derives each address:"
as admin import-cold-keys --file "$work/cold-keys.json" | tee "$work/cold-import.txt" | indent
mapfile -t cold_addresses < <(awk '$2 == "BTC:client-cold" {print $3}' "$work/cold-import.txt")
echo "  signerd's own configuration registers the cold addresses (a sweep may pay nothing else):"
stack_register_cold BTC "${cold_addresses[@]}"
# wait_move KIND STATE [ASSET]: the id of the internal move of KIND (SWEEP, FEE_REIMBURSEMENT,
# GAS_FUNDING, TOP_UP) of ASSET (BTC by default) once custodyd reports it in STATE (auditor
# role: internal moves are not the platform's to see).
wait_move() {
  local i id asset=${3:-BTC}
  for ((i = 0; i < 300; i++)); do
    id=$(as auditor --json withdrawals --asset "$asset" | python3 -c '
import json, sys
for w in json.load(sys.stdin).get("withdrawals", []):
    if w.get("kind") == "REQUEST_KIND_'"$1"'" and w.get("state") == "WITHDRAWAL_STATE_'"$2"'":
        print(w["withdrawalId"])
        break')
    [ -n "$id" ] && { printf '%s\n' "$id"; return 0; }
    sleep 0.1
  done
  echo "no $asset $1 reached $2; custodyd's log:" >&2
  tail -n 20 "$work/custodyd.log" >&2
  return 1
}
sweep=$(wait_move SWEEP BROADCAST)
echo "  custodyd planned sweep $sweep, signerd signed it without approvals (a registered cold address):"
ctl mine --chain bitcoin --blocks 3
wait_move SWEEP CONFIRMED >/dev/null
as auditor withdrawal --id "$sweep" | indent
echo "  its fee came out of the clients' hot coins: the house owes it, and pays it back from house-hot:"
reimbursement=$(wait_move FEE_REIMBURSEMENT BROADCAST)
ctl mine --chain bitcoin --blocks 3
wait_move FEE_REIMBURSEMENT CONFIRMED >/dev/null
as auditor withdrawal --id "$reimbursement" | indent

step "A8. a withdrawal larger than the hot wallet: a top-up from cold, approved with quorum, signed offline"
echo "  0.05 BTC for acme-0001, under the approval tier, but hot holds less: custodyd keeps it approved"
echo "  and plans a top-up from cold, which needs 2 of 3 ops:"
w3=$(as platform --json create-withdrawal --client "$c1" --asset BTC --amount 5000000 --destination "$dest" |
  json_field withdrawalId)
topup=$(wait_move TOP_UP PENDING_APPROVAL)
"$B/tools/quorum/quorum" --cert "$certs/approver.crt" --key "$certs/approver.key" show "$topup" | indent
approve "$topup" alice
approve "$topup" bob
echo "  ops export the signing bundle and carry it to the offline signer:"
as approver export-bundle --id "$topup" --out "$work/topup.bundle" | grep "^signing bundle" | indent
hot_change=$(as auditor --json withdrawal --id "$topup" | json_field destination)
# The offline signer's own transaction config: the approvers it believes (2 of them for any
# cold move), and the client-hot wallet a top-up may pay, by its address.
{
  sed -n '/^\[\[approver\]\]/,/^$/p' "$work/custody-approvers.toml"
  printf '[quorum.BTC]\ninternal_sweep_approvals = 2\ntiers = [{ from = "0", approvals = 2 }]\n'
} > "$work/cold-approvers.toml"
cat > "$work/cold-signer-tx.toml" <<TOML
approver_registry = "$work/cold-approvers.toml"

[bitcoin]
network = "regtest"

[[asset]]
id = "BTC"
chain = "bitcoin"

[[wallet]]
id = "BTC:client-hot"
asset = "BTC"
owner = "client"
tier = "hot"
addresses = ["$hot_change"]
TOML
grep -q '^\[transactions\]' "$work/cold-signerd.toml" ||
  printf '\n[transactions]\nconfig = "%s"\n' "$work/cold-signer-tx.toml" >> "$work/cold-signerd.toml"
HSM_SIM_DIR=$work/cold-token "$B/signer/signerd" --offline --config "$work/cold-signerd.toml" sign \
  --in "$work/topup.bundle" --out "$work/topup.signed" | indent
echo "  signed again, the same bundle is refused (the offline signer's own replay rule):"
if HSM_SIM_DIR=$work/cold-token "$B/signer/signerd" --offline --config "$work/cold-signerd.toml" sign \
  --in "$work/topup.bundle" --out "$work/topup.again" 2>&1 | indent; then
  echo "the offline signer signed a bundle twice" >&2
  exit 1
fi
echo "  the admin imports the signed file; custodyd checks the identity, the digest and every signature:"
as admin import-signed-bundle --file "$work/topup.signed" | grep -E "^(imported|already imported)" | indent
wait_move TOP_UP BROADCAST >/dev/null
ctl mine --chain bitcoin --blocks 3
wait_move TOP_UP CONFIRMED >/dev/null
as auditor withdrawal --id "$topup" | indent
echo "  with the coins in hot, the waiting withdrawal is paid:"
payout "$w3"

step "A9. a token sweep: ether for the gas into the USDC-ETH deposit account, then the tokens to cold"
echo "  the offline signer makes a USDC-ETH cold key; the admin imports it; signerd registers its address:"
HSM_SIM_DIR=$work/cold-token "$B/signer/signerd" --offline --config "$work/cold-signerd.toml" create-keys \
  --wallet-id USDC-ETH:client-cold --asset USDC-ETH --owner client --tier cold --count 1 \
  --out "$work/cold-keys-usdc.json" | indent
as admin import-cold-keys --file "$work/cold-keys-usdc.json" | tee "$work/cold-import-usdc.txt" | indent
mapfile -t usdc_cold < <(awk '$2 == "USDC-ETH:client-cold" {print $3}' "$work/cold-import-usdc.txt")
stack_register_cold USDC-ETH "${usdc_cold[@]}"
echo "  USDC-ETH is all hot, and its deposit account holds no ether for a transfer's gas: custodyd first"
echo "  sends it ether from ETH client-hot (gas_funding; the fee is owed by the house, as a sweep's):"
funding=$(wait_move GAS_FUNDING BROADCAST ETH)
ctl mine --chain ethereum --blocks 2
wait_move GAS_FUNDING CONFIRMED ETH >/dev/null
as auditor withdrawal --id "$funding" | indent
echo "  then the account's tokens go to the cold address (signed without approvals: a registered cold address):"
token_sweep=$(wait_move SWEEP BROADCAST USDC-ETH)
ctl mine --chain ethereum --blocks 2
wait_move SWEEP CONFIRMED USDC-ETH >/dev/null
as auditor withdrawal --id "$token_sweep" | indent
as auditor allocation --asset USDC-ETH | indent
echo "  (what stays hot is the 3 USDC of A5, sent to an ETH address: unattributed, held by a key of ETH's"
echo "  wallet, which no USDC-ETH sweep may spend; an operator resolves it)"

echo "  (ETH stays over its cap here: this demo makes no ETH cold keys; the aggregate and the coverage"
echo "  say so rather than hide it)"
as auditor allocation | indent
as auditor coverage | indent
as auditor segregation-report | indent
"$B/custody/custodyd" check --config "$work/custodyd.toml" | indent
"$B/custody/custodyd" audit verify --config "$work/custodyd.toml" | indent
stack_stop

step "B1. hsm_sim token in $work/token, initialised with pkcs11-tool"
export HSM_SIM_DIR=$work/token
module=$B/hsm_sim/libhsm_sim.so
umask 077
printf '%s' "demo-user-pin-$RANDOM$RANDOM" > "$work/user.pin"
so_pin="demo-so-pin-$RANDOM$RANDOM"
pkcs11-tool --module "$module" --init-token --label ringfence-hot --so-pin "$so_pin" >/dev/null
pkcs11-tool --module "$module" --login --login-type so --so-pin "$so_pin" --init-pin --pin "$(cat "$work/user.pin")" >/dev/null
pkcs11-tool --module "$module" --list-mechanisms | sed 's/^/  /'

step "B2. approver keys sealed under passphrases (quorum keygen)"
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

step "B3. signerd on $work/signerd.sock"
"$B/signer/signerd" --config "$work/signerd.toml" 2> "$work/signerd.log" &
signerd_pid=$!

step "B4. a 1.5 BTC withdrawal, approved by ops-alice and ops-bob"
dest=bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080
expires=$(($(date +%s) + 3600))
wd=(--request-id wd-0001 --kind withdrawal --source-wallet btc:client-hot --chain bitcoin --network regtest
    --asset BTC --amount 150000000 --destination "$dest" --fee-cap 5000 --expires-at "$expires")
for who in alice bob; do
  "$B/tools/quorum/quorum" sign --key-file "$work/$who.key" --approver-id "ops-$who" \
    --passphrase-file "$work/$who.pass" "${wd[@]}" > "$work/$who.approval" 2> >(sed 's/^/  /' >&2)
done
"$B/tools/demo/ringfence_demo" --socket "$work/signerd.sock" --request-id wd-0001 --destination "$dest" \
  --amount 150000000 --fee 2000 --fee-cap 5000 --expires-at "$expires" --approval "$work/alice.approval" --approval "$work/bob.approval"

step "B5. signerd's hash-chained log"
kill "$signerd_pid"; wait "$signerd_pid" || true; signerd_pid=
"$B/signer/signerd" --config "$work/signerd.toml" --verify-log | sed 's/^/  /'

step "B6a. policy: a withdrawal decision, recorded and replayed"
"$B/tools/policy/policy" check "$RINGFENCE_ROOT/scripts/demo/policy.toml" | sed 's/^/  /'
"$B/tools/policy/policy" decide --policy "$RINGFENCE_ROOT/scripts/demo/policy.toml" --decision withdrawal \
  "$RINGFENCE_ROOT/scripts/demo/withdrawal.json" > "$work/decision.json"
echo "  6 BTC to a whitelisted address, 1 BTC already out today: $(grep -o '"allowed":[a-z]*,"approvals":{[^}]*}' "$work/decision.json")"
"$B/tools/policy/policy" replay --policy "$RINGFENCE_ROOT/scripts/demo/policy.toml" "$work/decision.json" | sed 's/^/  /'

step "B6b. proof of reserves: export, audit, and one client's check"
bash "$RINGFENCE_ROOT/scripts/demo/reserves.sh" "$B/tools/reserves/reserves" "$work/por"
echo
echo "Demo complete. Everything it made is in $work"
