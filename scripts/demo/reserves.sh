#!/usr/bin/env bash
# Demo part 6b: a proof-of-reserves package for a small BTC ledger, from files.
# The reserve wallet here is an Ed25519 key made by Python's `cryptography` for the demo only;
# in production the ownership proofs come from the signer that holds the wallet's key.
# Usage: reserves.sh RESERVES_BINARY WORK_DIR
set -euo pipefail
reserves=$1
dir=$2
mkdir -p "$dir"
py=/usr/bin/python3

snapshot=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
challenge=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')   # given by the auditor
od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$dir/custodian.seed"
chmod 600 "$dir/custodian.seed"

"$py" - "$dir" "$snapshot" "$challenge" <<'PY'
import json, random, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization
d, snapshot, challenge = sys.argv[1:4]
raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
seed = bytes.fromhex(open(f"{d}/custodian.seed").read())
open(f"{d}/custodian.pub", "w").write(Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(*raw).hex())
rng = random.Random()
total = 0
with open(f"{d}/liabilities.csv", "w") as f:
    f.write("client_account_id,asset_id,amount\n")
    for i in range(2000):
        amount = rng.randrange(0, 5 * 10**8)
        total += amount
        f.write(f"ACC-{i:05d},BTC,{amount}\n")
    f.write("ACC-DEMO,BTC,123456789\n")
    total += 123456789
wallet = Ed25519PrivateKey.generate()
address = wallet.public_key().public_bytes(*raw).hex()
chain = "ringfence-sim"
message = f"custody-por/1|custodian=RINGFENCE-DEMO|snapshot={snapshot}|challenge={challenge}|chain={chain}|address={address}"
entry = {"chain": chain, "token": "native", "address": address, "height": 840000,
         "block_hash": "00" * 8 + "ab" * 24, "balance": str(total + 10**8),
         "proof": {"type": "ed25519", "message": message, "signature": wallet.sign(message.encode()).hex()}}
json.dump({"BTC": [entry]}, open(f"{d}/reserves.json", "w"))
def btc(sat):  # as shown to a person: BTC first, then the satoshi labelled as base units
    whole, frac = divmod(sat, 10**8)
    shown = f"{whole}.{frac:08d}".rstrip("0") if frac else str(whole)
    return f"{shown} BTC ({sat} base units)"
print(f"  ledger: 2001 clients, {btc(total)} owed; reserve wallet holds {btc(total + 10**8)}")
PY

"$reserves" --quiet export --liabilities "$dir/liabilities.csv" --reserves "$dir/reserves.json" \
  --custodian-id RINGFENCE-DEMO --custodian-key "$dir/custodian.seed" --snapshot-id "$snapshot" \
  --challenge "$challenge" --decimals BTC=8 --parts 2 --decoys 50 --out "$dir/package"
pub=$(cat "$dir/custodian.pub")
echo "  auditor: reserves verify"
"$reserves" --quiet verify "$dir/package" --pubkey "$pub" | sed 's/^/    /'
echo "  client ACC-DEMO: reserves prove + verify-inclusion"
"$reserves" --quiet prove "$dir/package" --private "$dir/package.private" --account ACC-DEMO --out "$dir/ACC-DEMO.json"
"$reserves" --quiet verify-inclusion "$dir/ACC-DEMO.json" --manifest "$dir/package/manifest.json" --pubkey "$pub" \
  --account ACC-DEMO --expect BTC=123456789 | sed 's/^/    /'
echo "  a tampered package is refused:"
sed -i 's/"root_sum":"[0-9]*"/"root_sum":"1"/' "$dir/package/manifest.json"
if "$reserves" --quiet verify "$dir/package" --pubkey "$pub" > "$dir/tampered.out" 2>&1; then
  echo "tampered package accepted" >&2
  exit 1
fi
sed 's/^/    /' "$dir/tampered.out" | head -3
