#!/usr/bin/env python3
"""Independent check of docs/signing-bundle.md: reads each file given, recomputes its digest
from its fields with hashlib, following the document (not the C++ code), and for signed
bundles and cold-key files verifies the Ed25519 identity signature with PyNaCl under the
public key given on the command line.

Usage: check_bundle.py TRUSTED_KEY_HEX FILE...
Exit status 0 when every file checks, 1 otherwise (each failure is printed).
"""
import hashlib
import json
import sys

import nacl.signing

MAX_TIMESTAMP = 253402300799
MAX_TX = 4 << 20


def length(n: int) -> bytes:
    return n.to_bytes(4, "big")


def text(value: str, limit: int = 256) -> bytes:
    raw = value.encode("utf-8")
    assert 1 <= len(raw) <= limit, "text field length out of range"
    return length(len(raw)) + raw


def blob(raw: bytes, limit: int) -> bytes:
    assert len(raw) <= limit, "blob too long"
    return length(len(raw)) + raw


def u64(value: int) -> bytes:
    return value.to_bytes(8, "big")


def time(value: int) -> bytes:
    assert 0 <= value <= MAX_TIMESTAMP, "time out of range"
    return u64(value)


def tagged_hash(tag: str, body: bytes) -> bytes:
    t = hashlib.sha256(tag.encode()).digest()
    return hashlib.sha256(t + t + body).digest()


def signing_bundle(doc: dict) -> None:
    body = (text(doc["bundle_id"], 128) + text(doc["kind"]) + text(doc["source_wallet"])
            + time(doc["created_at"]) + blob(bytes.fromhex(doc["request"]), MAX_TX))
    digest = tagged_hash("ringfence/signing-bundle/v1", body)
    assert digest.hex() == doc["digest"], "digest differs from the fields"


def verify(digest: bytes, doc: dict, trusted: str) -> None:
    assert doc["signer_key"] == trusted, "signer_key is not the trusted key"
    nacl.signing.VerifyKey(bytes.fromhex(trusted)).verify(digest, bytes.fromhex(doc["signature"]))


def signed_bundle(doc: dict, trusted: str) -> None:
    body = (text(doc["bundle_id"], 128) + bytes.fromhex(doc["bundle_digest"])
            + blob(bytes.fromhex(doc["signed_tx"]), MAX_TX) + text(doc["txid"])
            + u64(doc["log_sequence"]) + bytes.fromhex(doc["signer_key"]))
    verify(tagged_hash("ringfence/signed-bundle/v1", body), doc, trusted)


def cold_keys(doc: dict, trusted: str) -> None:
    body = time(doc["created_at"]) + u64(len(doc["keys"])) + bytes.fromhex(doc["signer_key"])
    for k in doc["keys"]:
        assert set(k) == {"key_id", "public_key", "wallet_id", "asset", "owner_class", "tier"}
        body += (text(k["key_id"], 64) + bytes.fromhex(k["public_key"]) + text(k["wallet_id"])
                 + text(k["asset"], 64) + text(k["owner_class"]) + text(k["tier"]))
    verify(tagged_hash("ringfence/cold-keys/v1", body), doc, trusted)


def main() -> int:
    trusted = sys.argv[1]
    failed = 0
    for path in sys.argv[2:]:
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
            kind = doc["format"]
            if kind == "ringfence/signing-bundle/v1":
                signing_bundle(doc)
            elif kind == "ringfence/signed-bundle/v1":
                signed_bundle(doc, trusted)
            elif kind == "ringfence/cold-keys/v1":
                cold_keys(doc, trusted)
            else:
                raise AssertionError(f"unknown format {kind}")
            print(f"ok {path}")
        except Exception as e:  # each failure is reported, then the next file is checked
            print(f"FAIL {path}: {type(e).__name__}: {e}")
            failed = 1
    return failed


if __name__ == "__main__":
    sys.exit(main())
