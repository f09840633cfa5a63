#!/usr/bin/env python3
"""Writes the fuzz corpus of the air-gap readers (corpus/bundle/) from docs/signing-bundle.md
alone, with check_bundle.py's encoders, PyNaCl and python3-ecdsa: one valid file of each kind
(the request bytes written by hand: request_id "topup-7", kind top_up), signed by the test
identity key of bundle_test.cc (Ed25519), and a few malformed ones. Each file starts with the fuzz target's
selector byte (0 signing bundle, 1 signed bundle, 2 cold keys). Run from this directory."""
import json
import os

import ecdsa
import nacl.signing

import check_bundle as cb

SK = nacl.signing.SigningKey(bytes.fromhex("112233445566778899aabbccddeeff0102030405060708090a0b0c0d0e0f1011"))
PUB = SK.verify_key.encode().hex()
# A cold key (secp256k1, compressed).
COLD = ecdsa.SigningKey.from_string(
    bytes.fromhex("0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"),
    curve=ecdsa.SECP256k1).get_verifying_key().to_string("compressed").hex()


def sign(digest: bytes) -> str:
    return SK.sign(digest).signature.hex()


def compact(doc: dict) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def main() -> None:
    request = bytes.fromhex("0a07746f7075702d37") + bytes([0x48, 0x03])
    b = {"format": "ringfence/signing-bundle/v1", "bundle_id": "topup-7", "kind": "top_up",
         "source_wallet": "btc:client-cold", "created_at": 1800000000, "request": request.hex()}
    body = (cb.text(b["bundle_id"], 128) + cb.text(b["kind"]) + cb.text(b["source_wallet"])
            + cb.time(b["created_at"]) + cb.blob(request, cb.MAX_TX))
    b["digest"] = cb.tagged_hash("ringfence/signing-bundle/v1", body).hex()

    s = {"format": "ringfence/signed-bundle/v1", "bundle_id": "topup-7", "bundle_digest": b["digest"],
         "signed_tx": "0200000000010101", "txid": "e" * 64, "log_sequence": 42, "signer_key": PUB}
    body = (cb.text(s["bundle_id"], 128) + bytes.fromhex(s["bundle_digest"])
            + cb.blob(bytes.fromhex(s["signed_tx"]), cb.MAX_TX) + cb.text(s["txid"]) + cb.u64(42)
            + bytes.fromhex(PUB))
    s["signature"] = sign(cb.tagged_hash("ringfence/signed-bundle/v1", body))

    key = {"key_id": "cold-0", "public_key": COLD, "wallet_id": "btc:client-cold", "asset": "BTC",
           "owner_class": "client", "tier": "cold"}
    c = {"format": "ringfence/cold-keys/v1", "created_at": 1800000000, "keys": [key], "signer_key": PUB}
    body = (cb.time(c["created_at"]) + cb.u64(1) + bytes.fromhex(PUB) + cb.text("cold-0", 64)
            + bytes.fromhex(COLD) + cb.text("btc:client-cold") + cb.text("BTC", 64) + cb.text("client")
            + cb.text("cold"))
    c["signature"] = sign(cb.tagged_hash("ringfence/cold-keys/v1", body))

    seeds = {
        "signing_bundle": b"\x00" + compact(b),
        "signed_bundle": b"\x01" + compact(s),
        "cold_keys": b"\x02" + compact(c),
        "duplicate_key": b"\x00" + b'{"format":"a","format":"b"}',
        "negative_time": b"\x02" + compact(dict(c, created_at=-1)),
        "not_json": b'\x01{"format":',
    }
    os.makedirs("corpus/bundle", exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join("corpus/bundle", name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
