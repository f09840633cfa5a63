# The custody stack for scripts/demo.sh and scripts/serve.sh, sourced after scripts/lib.sh with
# the binaries built: chainsim, signerd on a fresh hsm_sim token and custodyd on SQLite with the
# development certificates of scripts/dev-certs.sh, everything in the directory $work. Withdrawals
# are on: the policy scripts/demo/custody-policy.toml, three ops approvers with sealed keys
# ($work/ops-{alice,bob,carol}.key, passphrases in .pass beside them) known to custodyd and to
# signerd's own registry, and custodyd's executor paying approved withdrawals through signerd.
#   stack_start: start the three, wait until custodyd prints its address; sets $custody_addr,
#                $chainsim_addr, $certs, and exports RINGFENCE_CUSTODY_ADDR/_CA and
#                RINGFENCE_CHAINSIM_ADDR for custodyctl and chainsimctl.
#   stack_stop:  SIGTERM to each process started, newest first.
#   as ROLE custodyctl-args...: custodyctl with ROLE's certificate.
stack_pids=()

stack_stop() {
  local i
  for ((i = ${#stack_pids[@]} - 1; i >= 0; i--)); do
    kill "${stack_pids[$i]}" 2>/dev/null && wait "${stack_pids[$i]}" 2>/dev/null
  done
  stack_pids=()
  true
}

# wait_for_line FILE PREFIX PID: the first line of FILE starting with PREFIX, once it is there.
wait_for_line() {
  local file=$1 prefix=$2 pid=$3 i line
  for ((i = 0; i < 600; i++)); do
    line=$(grep -m1 "^$prefix" "$file" 2>/dev/null || true)
    if [ -n "$line" ]; then
      printf '%s\n' "${line#"$prefix"}"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { echo "process $pid exited; its log:" >&2; cat "${file%.out}.log" >&2; return 1; }
    sleep 0.1
  done
  echo "timed out waiting for '$prefix' in $file" >&2
  return 1
}

stack_start() {
  local B=$RINGFENCE_BUILD module=$RINGFENCE_BUILD/hsm_sim/libhsm_sim.so
  umask 077
  certs=$work/certs
  bash "$RINGFENCE_ROOT/scripts/dev-certs.sh" "$certs" >/dev/null

  # Three ops approvers, each with a sealed key (quorum keygen); custodyd's [[approvers]] and
  # signerd's own registry both list them, each side checking approvals for itself.
  local who pk approvers_custody="" approvers_signer=""
  for who in alice bob carol; do
    printf '%s' "ops-$who's demo passphrase $RANDOM$RANDOM" > "$work/ops-$who.pass"
    pk=$("$B/tools/quorum/quorum" keygen --out "$work/ops-$who.key" --passphrase-file "$work/ops-$who.pass")
    approvers_custody+=$'\n[[approvers]]\nid = "ops-'$who$'"\npublic_key = "'$pk$'"\n'
    approvers_signer+=$'[[approver]]\nid = "ops-'$who$'"\npublic_key = "'$pk$'"\n\n'
  done
  # signerd's quorum per asset, in base units: the policy's approval tiers (none below them).
  cat > "$work/custody-approvers.toml" <<TOML
${approvers_signer}[quorum.BTC]
internal_sweep_approvals = 2
tiers = [{ from = "0", approvals = 0 }, { from = "100000000", approvals = 2 }]

[quorum.ETH]
internal_sweep_approvals = 2
tiers = [{ from = "0", approvals = 0 }, { from = "10000000000000000000", approvals = 2 }]

[quorum.USDC-ETH]
internal_sweep_approvals = 2
tiers = [{ from = "0", approvals = 0 }, { from = "1000000000", approvals = 2 }]
TOML
  cat > "$work/custody-signer-tx.toml" <<TOML
approver_registry = "$work/custody-approvers.toml"

[bitcoin]
network = "regtest"

[ethereum]
network = "dev"
chain_id = 1337

[[asset]]
id = "BTC"
chain = "bitcoin"

[[asset]]
id = "ETH"
chain = "ethereum"

[[asset]]
id = "USDC-ETH"
chain = "ethereum"
erc20_contract = "$usdc_contract"
TOML

  export HSM_SIM_DIR=$work/custody-token
  printf '%s' "custody-user-pin-$RANDOM$RANDOM" > "$work/custody-user.pin"
  local so_pin="custody-so-pin-$RANDOM$RANDOM"
  pkcs11-tool --module "$module" --init-token --label ringfence-custody --so-pin "$so_pin" >/dev/null
  pkcs11-tool --module "$module" --login --login-type so --so-pin "$so_pin" \
    --init-pin --pin "$(cat "$work/custody-user.pin")" >/dev/null
  cat > "$work/custody-signerd.toml" <<TOML
[server]
socket = "$work/custody-signerd.sock"
database = "$work/custody-signer.db"

[pkcs11]
module = "$module"
token_label = "ringfence-custody"
pin_file = "$work/custody-user.pin"

[transactions]
config = "$work/custody-signer-tx.toml"
TOML
  "$B/signer/signerd" --config "$work/custody-signerd.toml" 2> "$work/signerd.log" &
  stack_pids+=($!)

  chainsim_addr=unix:$work/chainsim.sock
  "$B/tools/chainsim/chainsim" --state "$work/chainsim.db" --listen "$chainsim_addr" \
    > "$work/chainsim.out" 2> "$work/chainsim.log" &
  stack_pids+=($!)
  wait_for_line "$work/chainsim.out" "listening " "${stack_pids[-1]}" >/dev/null
  export RINGFENCE_CHAINSIM_ADDR=$chainsim_addr
  "$B/tools/custody_cli/chainsimctl" register-token --contract "$usdc_contract" --decimals 6 >/dev/null

  cat > "$work/custodyd.toml" <<TOML
[server]
listen = "${RINGFENCE_CUSTODY_LISTEN:-127.0.0.1:0}"

[server.tls]
cert = "$certs/server.crt"
key = "$certs/server.key"
client_ca = "$certs/ca.crt"

[[roles]]
name = "platform"
san = "ringfence:role:platform"

[[roles]]
name = "approver"
san = "ringfence:role:approver"

[[roles]]
name = "auditor"
san = "ringfence:role:auditor"

[[roles]]
name = "admin"
san = "ringfence:role:admin"

[database]
path = "$work/custody.db"

[signer]
socket = "$work/custody-signerd.sock"

[[assets]]
id = "BTC"
chain = "bitcoin"
network = "regtest"
decimals = 8
confirmations = 3
withdrawal_fee_cap = "10000"

[[assets]]
id = "ETH"
chain = "ethereum"
network = "dev"
decimals = 18
confirmations = 2
withdrawal_fee_cap = "2100000000000000"

[[assets]]
id = "USDC-ETH"
chain = "ethereum"
network = "dev"
decimals = 6
confirmations = 2
erc20_contract = "$usdc_contract"
withdrawal_fee_cap = "2100000000000000"

[[chains]]
name = "bitcoin"
kind = "chainsim"
endpoint = "$chainsim_addr"
poll_interval_ms = 100

[[chains]]
name = "ethereum"
kind = "chainsim"
endpoint = "$chainsim_addr"
poll_interval_ms = 100

[withdrawals]
policy = "$RINGFENCE_ROOT/scripts/demo/custody-policy.toml"
approval_window_seconds = 3600
executor = true
${approvers_custody}
TOML
  "$B/custody/custodyd" --config "$work/custodyd.toml" > "$work/custodyd.out" 2> "$work/custodyd.log" &
  stack_pids+=($!)
  custody_addr=$(wait_for_line "$work/custodyd.out" "listening " "${stack_pids[-1]}")
  export RINGFENCE_CUSTODY_ADDR=$custody_addr RINGFENCE_CUSTODY_CA=$certs/ca.crt
  # custodyd serves once it has printed its address, but it reaches signerd only when asked:
  # wait until an answer comes back over mTLS.
  local i
  for ((i = 0; i < 100; i++)); do
    as platform assets >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "custodyd did not answer; its log:" >&2
  cat "$work/custodyd.log" >&2
  return 1
}

usdc_contract=0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48

as() {
  local role=$1
  shift
  "$RINGFENCE_BUILD/tools/custody_cli/custodyctl" --cert "$certs/$role.crt" --key "$certs/$role.key" "$@"
}
