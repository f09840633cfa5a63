#!/usr/bin/env python3
"""Checks chain::FinishSignature's verdicts and recovery ids with python-ecdsa.

Usage: check_recovery_ids.py CASES.json

CASES.json is a list of {"key": compressed public key, "digest": 32 bytes, "sig": low-S r||s
(hex), "recid": the id FinishSignature found, or null where it refused the signature}.
For each case python-ecdsa must verify the signature exactly when an id was found; the id
must be the nonce point's y parity (plus 2 when its x is r + n), computed here with
python-ecdsa's own point arithmetic; and for ids 0 and 1, python-ecdsa's public-key
recovery must list the key at that position (it lists the even-y nonce point's key first).
Exits 0 when every case agrees, 1 otherwise, naming each disagreement.
"""
import json
import sys

from ecdsa import SECP256k1, BadSignatureError, VerifyingKey
from ecdsa.util import sigdecode_string

G = SECP256k1.generator
N = SECP256k1.order


def check(case):
    key = VerifyingKey.from_string(bytes.fromhex(case["key"]), curve=SECP256k1)
    digest = bytes.fromhex(case["digest"])
    sig = bytes.fromhex(case["sig"])
    try:
        verified = key.verify_digest(sig, digest, sigdecode=sigdecode_string)
    except BadSignatureError:
        verified = False
    want = case["recid"]
    if verified != (want is not None):
        return "python-ecdsa %s the signature, FinishSignature %s it" % (
            "verifies" if verified else "rejects", "accepted" if want is not None else "refused")
    if want is None:
        return None
    r = int.from_bytes(sig[:32], "big")
    s = int.from_bytes(sig[32:], "big")
    e = int.from_bytes(digest, "big") % N
    w = pow(s, -1, N)
    nonce = (e * w % N) * G + (r * w % N) * key.pubkey.point
    recid = (nonce.y() & 1) | (0 if nonce.x() == r else 2)
    if recid != want:
        return "recovery id %d, FinishSignature found %d" % (recid, want)
    if recid < 2:
        keys = VerifyingKey.from_public_key_recovery_with_digest(
            sig, digest, SECP256k1, sigdecode=sigdecode_string)
        if keys[recid].to_string("compressed") != key.to_string("compressed"):
            return "python-ecdsa's recovery lists another key at position %d" % recid
    return None


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    failures = 0
    for i, case in enumerate(cases):
        problem = check(case)
        if problem:
            failures += 1
            print("case %d (key %s, digest %s): %s" % (i, case["key"], case["digest"], problem))
    print("%d cases, %d disagreements" % (len(cases), failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
