#!/usr/bin/env python3
"""Independent check of docs/approval-digest.md: recomputes each case's digest (approval v2 or
whitelist change v1) from its fields with hashlib, following the document, and verifies the
Ed25519 signature with PyNaCl.

Usage: check_approval_digest.py CASES.json   (a list of objects written by the C++ test)
Exit status 0 when every case agrees, 1 otherwise (each disagreement is printed).
"""
import hashlib
import json
import sys

import nacl.exceptions
import nacl.signing

KINDS = ("withdrawal", "sweep", "top_up", "fee_reimbursement")
MAX_TIMESTAMP = 253402300799


def text(value: str) -> bytes:
    raw = value.encode("utf-8")
    assert 1 <= len(raw) <= 256, "text field length out of range"
    return len(raw).to_bytes(4, "big") + raw


def u128(value: str) -> bytes:
    return int(value).to_bytes(16, "big")


def u64_time(value: int) -> bytes:
    assert 0 <= value <= MAX_TIMESTAMP, "time out of range"
    return value.to_bytes(8, "big")


def tagged_hash(tag: bytes, body: bytes) -> bytes:
    t = hashlib.sha256(tag).digest()
    return hashlib.sha256(t + t + body).digest()


def approval_digest(case: dict) -> bytes:
    assert case["kind"] in KINDS, "unknown kind"
    body = (text(case["request_id"]) + text(case["kind"]) + text(case["source_wallet"]) +
            text(case["chain"]) + text(case["network"]) + text(case["asset"]) +
            u128(case["amount"]) + text(case["destination"]) + u128(case["fee_cap"]) +
            u64_time(case["expires_at"]))
    return tagged_hash(b"ringfence/approval/v2", body)


def whitelist_change_digest(case: dict) -> bytes:
    body = (text(case["change_id"]) + text("add") + text(case["client_id"]) +
            text(case["asset"]) + text(case["address"]) + u64_time(case["expires_at"]))
    return tagged_hash(b"ringfence/whitelist/v1", body)


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    failures = 0
    for i, case in enumerate(cases):
        if case["type"] == "approval":
            expected = approval_digest(case)
        elif case["type"] == "whitelist_change":
            expected = whitelist_change_digest(case)
        else:
            print(f"case {i}: unknown type {case['type']!r}")
            failures += 1
            continue
        if expected.hex() != case["digest"]:
            print(f"case {i}: digest {case['digest']} but the document gives {expected.hex()}")
            failures += 1
            continue
        key = nacl.signing.VerifyKey(bytes.fromhex(case["public_key"]))
        try:
            key.verify(expected, bytes.fromhex(case["signature"]))
        except nacl.exceptions.BadSignatureError:
            print(f"case {i}: signature does not verify over the digest")
            failures += 1
    print(f"{len(cases) - failures}/{len(cases)} digests agree")
    return 0 if failures == 0 and cases else 1


if __name__ == "__main__":
    sys.exit(main())
