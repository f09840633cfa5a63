#!/usr/bin/env python3
"""Writes the corpus of fuzz_custody_cold_keys (corpus/cold_keys/) with the air-gap encoders of
tests/offline/check_bundle.py, PyNaCl and python3-ecdsa: cold-key files signed by the fuzz
target's configured identity (Ed25519 from the seed below): one custodyd accepts (a BTC key
bound to BTC:client-cold), one bound to the hot wallet, one of an asset custodyd does not serve,
and malformed ones. Run from this directory with /usr/bin/python3."""
import json
import os
import sys

import ecdsa
import nacl.signing

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "offline"))
import check_bundle as cb  # noqa: E402

SK = nacl.signing.SigningKey(bytes.fromhex("5a" * 32))
PUB = SK.verify_key.encode().hex()
COLD = ecdsa.SigningKey.from_string(bytes.fromhex("01" * 32), curve=ecdsa.SECP256k1).get_verifying_key().to_string(
    "compressed").hex()


def cold_keys(wallet_id: str, asset: str, tier: str) -> bytes:
    body = (cb.time(1800000000) + cb.u64(1) + bytes.fromhex(PUB) + cb.text("cold-0", 64) + bytes.fromhex(COLD)
            + cb.text(wallet_id) + cb.text(asset, 64) + cb.text("client") + cb.text(tier))
    doc = {"format": "ringfence/cold-keys/v1", "created_at": 1800000000,
           "keys": [{"key_id": "cold-0", "public_key": COLD, "wallet_id": wallet_id, "asset": asset,
                     "owner_class": "client", "tier": tier}],
           "signer_key": PUB, "signature": SK.sign(cb.tagged_hash("ringfence/cold-keys/v1", body)).signature.hex()}
    return json.dumps(doc, separators=(",", ":")).encode()


def main() -> None:
    seeds = {
        "accepted": cold_keys("BTC:client-cold", "BTC", "cold"),
        "hot_wallet": cold_keys("BTC:client-hot", "BTC", "hot"),
        "unknown_asset": cold_keys("LTC:client-cold", "LTC", "cold"),
        "not_json": b'{"format":',
        "duplicate_key": b'{"format":"ringfence/cold-keys/v1","format":"x"}',
    }
    os.makedirs("corpus/cold_keys", exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join("corpus/cold_keys", name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
