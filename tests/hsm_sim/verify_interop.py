"""Verifies signatures that pkcs11-tool made with hsm_sim, using Python's `cryptography`.

ECDSA: a 64-byte r||s over a 32-byte digest with a secp256k1 key exported as DER
SubjectPublicKeyInfo; s must be low (s <= n/2). EdDSA: a 64-byte pure Ed25519 signature over
the message, with a key exported as DER or PEM. Exits non-zero with a message on any failure.
"""
import argparse
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, utils

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def load_public_key(path):
    data = open(path, "rb").read()
    if data.startswith(b"-----BEGIN"):
        return serialization.load_pem_public_key(data)
    return serialization.load_der_public_key(data)


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    for name in ("secp256k1-pub", "digest", "ecdsa-sig", "ed25519-pub", "message", "eddsa-sig"):
        parser.add_argument("--" + name, required=True)
    args = parser.parse_args()

    key = load_public_key(args.secp256k1_pub)
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256K1):
        fail("the exported EC key is not on secp256k1: %r" % (key,))
    digest = open(args.digest, "rb").read()
    sig = open(args.ecdsa_sig, "rb").read()
    if len(digest) != 32 or len(sig) != 64:
        fail("digest %d bytes, ECDSA signature %d bytes; want 32 and 64" % (len(digest), len(sig)))
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    if not (0 < r < SECP256K1_N and 0 < s <= SECP256K1_N // 2):
        fail("ECDSA signature out of range or high S")
    try:
        key.verify(utils.encode_dss_signature(r, s), digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    except InvalidSignature:
        fail("ECDSA signature does not verify")
    # The high-S twin of a valid signature is valid for plain ECDSA; checking it proves the
    # verifier above really ran on this key and digest.
    try:
        key.verify(utils.encode_dss_signature(r, SECP256K1_N - s), digest,
                   ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    except InvalidSignature:
        fail("the high-S twin does not verify: the check above is not exercising the key")
    try:
        key.verify(utils.encode_dss_signature(r, s), bytes(32), ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        fail("ECDSA signature verified over the wrong digest")
    except InvalidSignature:
        pass

    ed_key = load_public_key(args.ed25519_pub)
    if not isinstance(ed_key, ed25519.Ed25519PublicKey):
        fail("the exported Edwards key is not Ed25519: %r" % (ed_key,))
    message = open(args.message, "rb").read()
    ed_sig = open(args.eddsa_sig, "rb").read()
    if len(ed_sig) != 64:
        fail("EdDSA signature has %d bytes, want 64" % len(ed_sig))
    try:
        ed_key.verify(ed_sig, message)
    except InvalidSignature:
        fail("Ed25519 signature does not verify")
    try:
        ed_key.verify(ed_sig, message + b"!")
        fail("Ed25519 signature verified over the wrong message")
    except InvalidSignature:
        pass
    print("verified: secp256k1 ECDSA (low S) and Ed25519")


if __name__ == "__main__":
    main()
