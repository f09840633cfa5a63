#!/usr/bin/env bash
# The custody stack kept running in the foreground until Ctrl-C: chainsim, signerd on an
# hsm_sim token and custodyd on SQLite with development certificates (scripts/dev-certs.sh),
# in a fresh directory under /tmp. Prints custodyd's address, the CA, certificate and key of
# each role, and an example call. Installs what is missing and builds first, like demo.sh.
#
# Usage: scripts/serve.sh [--listen HOST:PORT]   (default 127.0.0.1:7443; port 0 picks one)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

listen=127.0.0.1:7443
while [ $# -gt 0 ]; do
  case $1 in
    --listen) [ $# -ge 2 ] || { echo "usage: scripts/serve.sh [--listen HOST:PORT]" >&2; exit 2; }
      listen=$2; shift 2 ;;
    *) echo "usage: scripts/serve.sh [--listen HOST:PORT]" >&2; exit 2 ;;
  esac
done

ringfence_install "${RINGFENCE_BUILD_PACKAGES[@]}" opensc openssl
ringfence_build signerd hsm_sim quorum custodyd chainsim custodyctl chainsimctl
work=$(mktemp -d /tmp/ringfence-serve.XXXXXX)
chmod 700 "$work"
RINGFENCE_CUSTODY_LISTEN=$listen
source "$RINGFENCE_ROOT/scripts/demo/stack.sh"
trap stack_stop EXIT
trap 'exit 0' INT TERM
stack_start

ctl=$RINGFENCE_BUILD/tools/custody_cli/custodyctl
cat <<TEXT

custodyd is serving the Custody API (proto/custody.proto) on $custody_addr
over TLS with client certificates; health and reflection on the same port.

  CA certificate   $certs/ca.crt
$(for role in platform approver auditor admin; do
  printf '  %-16s %s  %s\n' "$role" "$certs/$role.crt" "$certs/$role.key"
done)

chainsim (development chain, Control service, no TLS): $chainsim_addr
state, logs and databases: $work

Example, as the platform:
  export RINGFENCE_CUSTODY_ADDR=$custody_addr RINGFENCE_CUSTODY_CA=$certs/ca.crt
  export RINGFENCE_CUSTODY_CERT=$certs/platform.crt RINGFENCE_CUSTODY_KEY=$certs/platform.key
  $ctl create-client --ref my-first-client
  $ctl --json assets

From another language: load proto/custody.proto, trust $certs/ca.crt and present a
role's certificate and key (README.md, "Reaching custodyd from another language").
Credit a deposit address on the development chain with:
  $RINGFENCE_BUILD/tools/custody_cli/chainsimctl --chainsim $chainsim_addr credit --chain bitcoin --address ADDRESS --amount 100000000
  $RINGFENCE_BUILD/tools/custody_cli/chainsimctl --chainsim $chainsim_addr mine --chain bitcoin --blocks 3

Ctrl-C stops everything.
TEXT
while true; do
  for pid in "${stack_pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "a process of the stack exited; logs in $work" >&2; exit 1; }
  done
  sleep 1
done
