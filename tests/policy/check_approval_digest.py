#!/usr/bin/env python3
"""Independent check of docs/approval-digest.md: recomputes each case's digest from its fields
with hashlib, following the document, and verifies the Ed25519 signature with PyNaCl.

Usage: check_approval_digest.py CASES.json   (a list of objects written by the C++ test)
Exit status 0 when every case agrees, 1 otherwise (each disagreement is printed).
"""
import hashlib
import json
import sys

import nacl.exceptions
import nacl.signing


def text(value: str) -> bytes:
    raw = value.encode("utf-8")
    assert 1 <= len(raw) <= 256, "text field length out of range"
    return len(raw).to_bytes(4, "big") + raw


def u128(value: str) -> bytes:
    return int(value).to_bytes(16, "big")


def digest(case: dict) -> bytes:
    tag = hashlib.sha256(b"ringfence/approval/v1").digest()
    body = (text(case["request_id"]) + text(case["chain"]) + text(case["network"]) +
            text(case["asset"]) + u128(case["amount"]) + text(case["destination"]) +
            u128(case["fee_cap"]))
    return hashlib.sha256(tag + tag + body).digest()


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    failures = 0
    for i, case in enumerate(cases):
        expected = digest(case)
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
    print(f"{len(cases) - failures}/{len(cases)} approval digests agree")
    return 0 if failures == 0 and cases else 1


if __name__ == "__main__":
    sys.exit(main())
