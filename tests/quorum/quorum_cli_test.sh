#!/usr/bin/env bash
# End to end: quorum keygen seals a key, sign (offline) signs the approval digest, and an independent
# implementation (Python: hashlib for the digest of docs/approval-digest.md, PyNaCl for the
# signature) checks both. Bad inputs fail with a clear message and create nothing.
set -euo pipefail
quorum=$1
py=${PYTHON:-/usr/bin/python3}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

printf 'a long enough passphrase\n' > "$dir/pass"
pk=$("$quorum" keygen --out "$dir/alice.key" --passphrase-file "$dir/pass" --kdf-opslimit 1 --kdf-memlimit-mib 8)
[[ $pk =~ ^[0-9a-f]{64}$ ]] || fail "keygen printed '$pk'"
[ "$(stat -c %a "$dir/alice.key")" = 600 ] || fail "key file mode is not 0600"
[ "$("$quorum" pubkey "$dir/alice.key")" = "$pk" ] || fail "pubkey differs from keygen's"
grep -q "$(printf 'a long enough')" "$dir/alice.key" && fail "passphrase stored in key file"

args=(--request-id wd-42 --kind withdrawal --source-wallet client-btc-hot --expires-at 1800000000 --chain bitcoin --network regtest --asset BTC --amount 150000000
      --destination bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080 --fee-cap 2000)
out=$("$quorum" sign --key-file "$dir/alice.key" --approver-id alice --passphrase-file "$dir/pass" "${args[@]}" 2>"$dir/err")
approval=$out
# What is approved is shown in display units, base units only labelled as such.
terms="wd-42: withdrawal from wallet client-btc-hot, 1.5 BTC (150000000 base units) on bitcoin/regtest to bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080, fee cap 0.00002 BTC (2000 base units), expires at 1800000000 (Unix seconds)"
grep -qxF "approving $terms" "$dir/err" || fail "approve did not show what it signs: $(cat "$dir/err")"
digest=$("$quorum" digest "${args[@]}" 2>"$dir/err")
grep -qxF "digest of $terms" "$dir/err" || fail "digest did not show what it is of: $(cat "$dir/err")"
[ "$("$quorum" digest "${args[@]}" --decimals 8 2>/dev/null)" = "$digest" ] || fail "--decimals changed the digest"

"$py" - "$pk" "$out" "$digest" <<'PY'
import hashlib, json, sys
import nacl.signing
pk, out, digest = bytes.fromhex(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
def text(s):
    b = s.encode()
    return len(b).to_bytes(4, "big") + b
def u128(v):
    return v.to_bytes(16, "big")
tag = hashlib.sha256(b"ringfence/approval/v2").digest()
body = (text("wd-42") + text("withdrawal") + text("client-btc-hot") + text("bitcoin") + text("regtest")
        + text("BTC") + u128(150000000) + text("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080") + u128(2000)
        + (1800000000).to_bytes(8, "big"))
expect = hashlib.sha256(tag + tag + body).hexdigest()
assert digest == expect, (digest, expect)
assert out["digest"] == expect and out["approver_id"] == "alice", out
nacl.signing.VerifyKey(pk).verify(bytes.fromhex(expect), bytes.fromhex(out["signature"]))
print("python: digest and signature verified")
PY

# Wrong passphrase: refused, nothing printed on stdout.
printf 'another long passphrase\n' > "$dir/wrong"
if out=$("$quorum" sign --key-file "$dir/alice.key" --approver-id alice --passphrase-file "$dir/wrong" "${args[@]}" 2>"$dir/err"); then
  fail "wrong passphrase accepted"
fi
[ -z "$out" ] || fail "wrong passphrase printed '$out'"
grep -q "wrong passphrase" "$dir/err" || fail "wrong passphrase message: $(cat "$dir/err")"
code=0; "$quorum" sign --key-file "$dir/alice.key" --approver-id alice --passphrase-file "$dir/wrong" "${args[@]}" >/dev/null 2>&1 || code=$?
[ "$code" = 2 ] || fail "wrong passphrase exited $code, not 2 (bad input)"

# The passphrase from a file descriptor gives the same approval (Ed25519 is deterministic);
# there is no way to give it on the command line.
fd_out=$("$quorum" sign --key-file "$dir/alice.key" --approver-id alice --passphrase-fd 7 "${args[@]}" 7<"$dir/pass" 2>/dev/null) \
  || fail "sign with --passphrase-fd failed"
[ "$fd_out" = "$approval" ] || fail "--passphrase-fd gave another approval: $fd_out"
for flag in --passphrase --pass -p; do
  code=0; "$quorum" sign --key-file "$dir/alice.key" --approver-id alice "$flag" "a long enough passphrase" "${args[@]}" \
    >"$dir/out" 2>"$dir/err" || code=$?
  [ "$code" = 2 ] || fail "$flag on the command line exited $code, not 2"
  [ ! -s "$dir/out" ] || fail "$flag on the command line signed: $(cat "$dir/out")"
done
code=0; "$quorum" sign --key-file "$dir/alice.key" --approver-id alice --passphrase-fd 9 "${args[@]}" >/dev/null 2>"$dir/err" || code=$?
[ "$code" = 2 ] || fail "a closed --passphrase-fd exited $code, not 2"
grep -q -- "--passphrase-fd 9" "$dir/err" || fail "closed descriptor message: $(cat "$dir/err")"

# Existing key file is never overwritten.
before=$(sha256sum "$dir/alice.key")
if "$quorum" keygen --out "$dir/alice.key" --passphrase-file "$dir/pass" --kdf-opslimit 1 --kdf-memlimit-mib 8 2>"$dir/err"; then
  fail "keygen overwrote an existing key"
fi
[ "$(sha256sum "$dir/alice.key")" = "$before" ] || fail "existing key changed"

# Bad amounts: negative, fractional, overflowing, leading zero.
for bad in -1 1.5 340282366920938463463374607431768211456 0100 ""; do
  if "$quorum" digest --request-id r --kind withdrawal --source-wallet w --expires-at 1 --chain bitcoin \
       --network regtest --asset BTC --amount "$bad" --destination x --fee-cap 1 >/dev/null 2>"$dir/err"; then
    fail "amount '$bad' accepted"
  fi
  grep -q -- "--amount" "$dir/err" || fail "amount '$bad' error does not name the flag: $(cat "$dir/err")"
done

# Bad kinds and expiry times: refused naming the flag. with FLAG VALUE: args with FLAG's value replaced.
with() {
  local flag=$1 value=$2 next=0 a
  replaced=()
  for a in "${args[@]}"; do
    if ((next)); then replaced+=("$value"); next=0; continue; fi
    replaced+=("$a")
    if [ "$a" = "$flag" ]; then next=1; fi
  done
  return 0
}
for bad in deposit Withdrawal top-up ""; do
  with --kind "$bad"
  if "$quorum" digest "${replaced[@]}" >/dev/null 2>"$dir/err"; then fail "kind '$bad' accepted"; fi
  grep -q -- "--kind" "$dir/err" || fail "kind '$bad' error does not name the flag: $(cat "$dir/err")"
done
for bad in -1 253402300800 99999999999999999999 1.5; do
  with --expires-at "$bad"
  if "$quorum" digest "${replaced[@]}" >/dev/null 2>"$dir/err"; then fail "expiry '$bad' accepted"; fi
  grep -q -- "expires" "$dir/err" || fail "expiry '$bad' error does not name the field: $(cat "$dir/err")"
done
with --kind sweep
d=$("$quorum" digest "${replaced[@]}" 2>"$dir/err") || fail "sweep digest: $(cat "$dir/err")"
[ "$d" != "$digest" ] || fail "--kind did not change the digest"
with --source-wallet client-btc-cold
d=$("$quorum" digest "${replaced[@]}" 2>"$dir/err") || fail "cold digest: $(cat "$dir/err")"
[ "$d" != "$digest" ] || fail "--source-wallet did not change the digest"

# Decimals are never guessed: a token needs --decimals, a native coin's must match the table,
# and the fee cap is always shown in the chain's native coin.
token=(--request-id wd-43 --kind withdrawal --source-wallet client-usdc-hot --expires-at 1800000000 --chain ethereum --network sepolia --asset USDC-ETH --amount 1500000
       --destination 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed --fee-cap 1000000000000000)
if "$quorum" digest "${token[@]}" >/dev/null 2>"$dir/err"; then fail "a token without --decimals was shown"; fi
grep -q -- "--decimals: required for \"USDC-ETH\"" "$dir/err" || fail "missing decimals message: $(cat "$dir/err")"
"$quorum" digest "${token[@]}" --decimals 6 2>"$dir/err" >/dev/null || fail "token digest: $(cat "$dir/err")"
grep -qxF "digest of wd-43: withdrawal from wallet client-usdc-hot, 1.5 USDC-ETH (1500000 base units) on ethereum/sepolia to 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed, fee cap 0.001 ETH (1000000000000000 base units), expires at 1800000000 (Unix seconds)" "$dir/err" \
  || fail "token terms: $(cat "$dir/err")"
if "$quorum" digest "${args[@]}" --decimals 18 >/dev/null 2>"$dir/err"; then fail "BTC shown with 18 decimals"; fi
grep -q -- "--decimals: BTC on bitcoin has 8 decimals, not 18" "$dir/err" || fail "wrong decimals message: $(cat "$dir/err")"
if "$quorum" sign --key-file "$dir/alice.key" --approver-id alice --passphrase-file "$dir/pass" "${token[@]}" \
     > "$dir/out" 2>"$dir/err"; then
  fail "approved a token without --decimals"
fi
[ ! -s "$dir/out" ] || fail "approval printed without --decimals: $(cat "$dir/out")"

# A passphrase file is read whole into guarded memory, up to a bound.
head -c 5000 /dev/zero | tr '\0' p > "$dir/huge"
if "$quorum" keygen --out "$dir/huge.key" --passphrase-file "$dir/huge" 2>"$dir/err"; then
  fail "keygen took a 5000-byte passphrase file"
fi
grep -q "larger than 4096 bytes" "$dir/err" || fail "oversized passphrase message: $(cat "$dir/err")"
[ ! -e "$dir/huge.key" ] || fail "keygen with an oversized passphrase created a file"

# No passphrase source at all.
if env -u RINGFENCE_QUORUM_PASSPHRASE "$quorum" keygen --out "$dir/bob.key" 2>"$dir/err"; then
  fail "keygen without a passphrase succeeded"
fi
grep -q "no passphrase" "$dir/err" || fail "missing passphrase message: $(cat "$dir/err")"
[ ! -e "$dir/bob.key" ] || fail "keygen without passphrase created a file"
echo "quorum CLI: all checks passed"
