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
#   stack_register_cold ASSET ADDRESS...: registers cold addresses in signerd's own configuration
#                (the asset's client-cold [[wallet]] and [[cold_address]] entries) and restarts
#                signerd with it, so that custodyd's sweeps to them are signed.
#   as ROLE custodyctl-args...: custodyctl with ROLE's certificate.
# The cold tier: an offline signer ($work/cold-signerd.toml, run as `signerd --offline`, with
# HSM_SIM_DIR=$work/cold-token: a token of its own, never the hot one) whose identity key
# custodyd's [cold_signer] names; cold keys are made with it when the demo gets there.
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

# stack_token NAME SOCKET: a fresh hsm_sim token in $work/NAME-token (label ringfence-NAME, a
# random user PIN in $work/NAME-user.pin) and a signerd config for it, $work/NAME-signerd.toml,
# with its database $work/NAME-signer.db and SOCKET (unused by the offline signer).
stack_token() {
  local name=$1 socket=$2 module=$RINGFENCE_BUILD/hsm_sim/libhsm_sim.so
  local so_pin="$name-so-pin-$RANDOM$RANDOM"
  printf '%s' "$name-user-pin-$RANDOM$RANDOM" > "$work/$name-user.pin"
  HSM_SIM_DIR=$work/$name-token pkcs11-tool --module "$module" --init-token --label "ringfence-$name" \
    --so-pin "$so_pin" >/dev/null
  HSM_SIM_DIR=$work/$name-token pkcs11-tool --module "$module" --login --login-type so --so-pin "$so_pin" \
    --init-pin --pin "$(cat "$work/$name-user.pin")" >/dev/null
  cat > "$work/$name-signerd.toml" <<TOML
[server]
socket = "$socket"
database = "$work/$name-signer.db"

[pkcs11]
module = "$module"
token_label = "ringfence-$name"
pin_file = "$work/$name-user.pin"
TOML
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
  # A BTC or USDC-ETH sweep to a registered cold address needs no approval (custodyd plans them
  # itself); the demo makes no ETH cold keys.
  cat > "$work/custody-approvers.toml" <<TOML
${approvers_signer}[quorum.BTC]
internal_sweep_approvals = 0
tiers = [{ from = "0", approvals = 0 }, { from = "100000000", approvals = 2 }]

[quorum.ETH]
internal_sweep_approvals = 2
tiers = [{ from = "0", approvals = 0 }, { from = "10000000000000000000", approvals = 2 }]

[quorum.USDC-ETH]
internal_sweep_approvals = 0
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

  # The offline signer's token and identity (its cold keys come later, in the demo's A7).
  stack_token cold "$work/cold-unused.sock"
  cold_identity=$(HSM_SIM_DIR=$work/cold-token "$B/signer/signerd" --offline --config "$work/cold-signerd.toml" \
    identity --create | sed -n 's/^offline signer identity (Ed25519): //p')
  [ -n "$cold_identity" ] || { echo "the offline signer gave no identity" >&2; return 1; }

  export HSM_SIM_DIR=$work/custody-token
  stack_token custody "$work/custody-signerd.sock"
  printf '\n[transactions]\nconfig = "%s"\n' "$work/custody-signer-tx.toml" >> "$work/custody-signerd.toml"
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
receivable_threshold = "1"
price = "6500000"

[[assets]]
id = "ETH"
chain = "ethereum"
network = "dev"
decimals = 18
confirmations = 2
withdrawal_fee_cap = "2100000000000000"
price = "300000"

[[assets]]
id = "USDC-ETH"
chain = "ethereum"
network = "dev"
decimals = 6
confirmations = 2
erc20_contract = "$usdc_contract"
withdrawal_fee_cap = "2100000000000000"
price = "100"

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

[cold_signer]
identity_key = "$cold_identity"

[allocation]
reference = "USD"
reference_decimals = 2

[coverage]

[[coverage.cover]]
policy = "Specie and crime policy 2026"
asset = "BTC"
amount = "50000000"
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

stack_register_cold() {
  local asset=$1 a list=""
  shift
  for a in "$@"; do
    list+="${list:+, }\"$a\""
    printf '\n[[cold_address]]\nasset = "%s"\naddress = "%s"\n' "$asset" "$a" >> "$work/custody-approvers.toml"
  done
  printf '\n[[wallet]]\nid = "%s:client-cold"\nasset = "%s"\nowner = "client"\ntier = "cold"\naddresses = [%s]\n' \
    "$asset" "$asset" "$list" >> "$work/custody-signer-tx.toml"
  # signerd is the first process of the stack.
  kill "${stack_pids[0]}" && wait "${stack_pids[0]}" 2>/dev/null || true
  HSM_SIM_DIR=$work/custody-token "$RINGFENCE_BUILD/signer/signerd" --config "$work/custody-signerd.toml" \
    2>> "$work/signerd.log" &
  stack_pids[0]=$!
}

usdc_contract=0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48

as() {
  local role=$1
  shift
  "$RINGFENCE_BUILD/tools/custody_cli/custodyctl" --cert "$certs/$role.crt" --key "$certs/$role.key" "$@"
}
