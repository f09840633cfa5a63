"""Independent Ed25519 signer for reserve ownership proofs, using the `cryptography`
package (OpenSSL underneath), not libsodium which the C++ verifier uses.

argv[1]: JSON {"custodian","snapshot","challenge","entries":[{"chain","key_seed"}]}
prints {"entries":[{"address","message","signature"}]}; keys = SHA-256(key_seed).
"""
import hashlib
import json
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization


def main():
    req = json.loads(sys.argv[1])
    out = []
    for e in req["entries"]:
        seed = hashlib.sha256(e["key_seed"].encode()).digest()
        key = Ed25519PrivateKey.from_private_bytes(seed)
        address = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
        message = (f"custody-por/1|custodian={req['custodian']}|snapshot={req['snapshot']}"
                   f"|challenge={req['challenge']}|chain={e['chain']}|address={address}")
        out.append({"address": address, "message": message, "signature": key.sign(message.encode()).hex()})
    json.dump({"entries": out}, sys.stdout)


if __name__ == "__main__":
    main()
