#!/usr/bin/env bash
# Interop: OpenSC's pkcs11-tool drives libhsm_sim.so end to end (token and PIN set-up,
# mechanism list, secp256k1 and Ed25519 key generation, signing, public key export), and the
# signatures are verified by Python's `cryptography`, an implementation independent of ours.
# Usage: pkcs11_tool_interop.sh <path to libhsm_sim.so> <path to verify_interop.py>
set -euo pipefail

module=$1
checker=$2
python=${PYTHON:-/usr/bin/python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/hsm_sim_interop.XXXXXX")
trap 'rm -rf "$work"' EXIT

export HSM_SIM_DIR="$work/token"
export HSM_SIM_ARGON2_OPSLIMIT=1
export HSM_SIM_ARGON2_MEMLIMIT_KIB=8
unset HSM_SIM_FAIL_SIGN_EVERY HSM_SIM_FAIL_OPEN_SESSION HSM_SIM_LATENCY_US HSM_SIM_MAX_PIN_TRIES

so_pin=87654321
user_pin=246810
tool() { pkcs11-tool --module "$module" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

tool --init-token --label interop --so-pin "$so_pin" >"$work/init.log" 2>&1 ||
  { cat "$work/init.log"; fail "init-token"; }
tool --init-pin --login --so-pin "$so_pin" --pin "$user_pin" >"$work/pin.log" 2>&1 ||
  { cat "$work/pin.log"; fail "init-pin"; }
tool --list-token-slots >"$work/slots.log" 2>&1
grep -q "token label *: interop" "$work/slots.log" || { cat "$work/slots.log"; fail "token label"; }

tool --list-mechanisms >"$work/mechs.log" 2>&1
for m in ECDSA-KEY-PAIR-GEN "ECDSA," EC-EDWARDS-KEY-PAIR-GEN EDDSA; do
  grep -q -- "$m" "$work/mechs.log" || { cat "$work/mechs.log"; fail "mechanism $m not listed"; }
done

tool --login --pin "$user_pin" --keypairgen --key-type EC:secp256k1 --id 01 --label btc-key \
  >"$work/gen1.log" 2>&1 || { cat "$work/gen1.log"; fail "secp256k1 keypairgen"; }
tool --login --pin "$user_pin" --keypairgen --key-type EC:edwards25519 --id 02 --label ed-key \
  >"$work/gen2.log" 2>&1 || { cat "$work/gen2.log"; fail "edwards25519 keypairgen"; }

printf 'Ringfence interop message' >"$work/message"
"$python" -c 'import hashlib,sys; sys.stdout.buffer.write(hashlib.sha256(open(sys.argv[1],"rb").read()).digest())' \
  "$work/message" >"$work/digest"

tool --login --pin "$user_pin" --sign --mechanism ECDSA --id 01 -i "$work/digest" \
  -o "$work/ecdsa.sig" >"$work/sign1.log" 2>&1 || { cat "$work/sign1.log"; fail "ECDSA sign"; }
tool --login --pin "$user_pin" --sign --mechanism ECDSA --id 01 -i "$work/digest" \
  -o "$work/ecdsa2.sig" >/dev/null 2>&1 || fail "second ECDSA sign"
cmp -s "$work/ecdsa.sig" "$work/ecdsa2.sig" || fail "ECDSA signatures over one digest differ (RFC 6979)"
tool --login --pin "$user_pin" --sign --mechanism EDDSA --id 02 -i "$work/message" \
  -o "$work/eddsa.sig" >"$work/sign2.log" 2>&1 || { cat "$work/sign2.log"; fail "EdDSA sign"; }

tool --read-object --type pubkey --id 01 -o "$work/secp256k1.pub" >"$work/read1.log" 2>&1 ||
  { cat "$work/read1.log"; fail "read secp256k1 public key"; }
tool --read-object --type pubkey --id 02 -o "$work/ed25519.pub" >"$work/read2.log" 2>&1 ||
  { cat "$work/read2.log"; fail "read Ed25519 public key"; }
tool --list-objects >"$work/objects.log" 2>&1
grep -q "EC_PARAMS: *06052b8104000a" "$work/objects.log" || { cat "$work/objects.log"; fail "secp256k1 EC_PARAMS"; }

# A wrong PIN is refused with the PKCS#11 code; private keys show as sensitive and never
# extractable.
if tool --login --pin 999999 --list-objects >"$work/wrong.log" 2>&1; then
  fail "login with a wrong PIN succeeded"
fi
grep -q CKR_PIN_INCORRECT "$work/wrong.log" || { cat "$work/wrong.log"; fail "wrong PIN code"; }
tool --login --pin "$user_pin" --list-objects --type privkey >"$work/priv.log" 2>&1
[ "$(grep -c "Access: *sensitive, always sensitive, never extractable" "$work/priv.log")" = 2 ] ||
  { cat "$work/priv.log"; fail "private keys must be sensitive and never extractable"; }

"$python" "$checker" --secp256k1-pub "$work/secp256k1.pub" --digest "$work/digest" \
  --ecdsa-sig "$work/ecdsa.sig" --ed25519-pub "$work/ed25519.pub" --message "$work/message" \
  --eddsa-sig "$work/eddsa.sig"
echo "pkcs11-tool interop: OK"
