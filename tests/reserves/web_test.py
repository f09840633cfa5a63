"""Drives the static inclusion-check page (tools/reserves/web/index.html) in headless
Chromium: a package is exported with the real `reserves` binary, then the page checks an
accepted proof, a tampered one (a changed amount), one with a duplicated JSON key and one
against the wrong pinned key. The inputs travel in the URL fragment; the verdict is read
from the dumped DOM. No network: a file:// page with a CSP that forbids connections.
"""
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SRC = os.environ["RINGFENCE_SOURCE_DIR"]
BIN = os.path.join(os.environ["RINGFENCE_BINARY_DIR"], "tools", "reserves", "reserves")
PAGE = os.path.join(SRC, "tools", "reserves", "web", "index.html")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SNAP, CHAL = "11" * 32, "22" * 32


def raw_pub(key):
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def make_package(work):
    seed = hashlib.sha256(b"web-test-custodian").digest()
    with open(os.path.join(work, "key.hex"), "w") as f:
        f.write(seed.hex())
    custodian_pub = raw_pub(Ed25519PrivateKey.from_private_bytes(seed))
    with open(os.path.join(work, "l.csv"), "w") as f:
        f.write("client_account_id,asset_id,amount\n")
        for i in range(40):
            f.write(f"ACC-{i:04d},BTC,{1000 + i}\n")
        f.write("ACC-0002,ETH,340282366920938463463374607431768211\n")
        f.write("ACC-0003,ETH,5\n")
    reserves = {}
    for asset, balance, seed_text in [("BTC", 100000, b"btc"), ("ETH", 340282366920938463463374607431768216, b"eth")]:
        key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed_text).digest())
        addr = raw_pub(key)
        chain = "sim-" + asset.lower()
        msg = f"custody-por/1|custodian=ACME|snapshot={SNAP}|challenge={CHAL}|chain={chain}|address={addr}"
        reserves[asset] = [{"chain": chain, "token": "native", "address": addr, "height": 7, "block_hash": "ab" * 32,
                            "balance": str(balance),
                            "proof": {"type": "ed25519", "message": msg, "signature": key.sign(msg.encode()).hex()}}]
    with open(os.path.join(work, "reserves.json"), "w") as f:
        json.dump(reserves, f)
    pkg = os.path.join(work, "pkg")
    subprocess.run([BIN, "--quiet", "export", "--liabilities", os.path.join(work, "l.csv"), "--reserves",
                    os.path.join(work, "reserves.json"), "--custodian-id", "ACME", "--custodian-key",
                    os.path.join(work, "key.hex"), "--snapshot-id", SNAP, "--challenge", CHAL, "--decimals", "BTC=8",
                    "--decimals", "ETH=18", "--parts", "2", "--decoys", "5", "--out", pkg, "--inclusion-files"],
                   check=True, stdout=subprocess.DEVNULL)
    return pkg, custodian_pub


def b64(text):
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def run_page(work, proof, manifest, account, pubkey, expect=""):
    fragment = "&".join([f"proof={b64(proof)}", f"manifest={b64(manifest)}", f"account={account}",
                         f"pubkey={pubkey}", f"expect={expect.replace('=', '%3D')}"])
    profile = tempfile.mkdtemp(dir=work)
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--virtual-time-budget=20000", "--dump-dom",
           "file://" + PAGE + "#" + fragment]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=180).stdout
    m = re.search(r'<div id="result" data-verdict="([a-z]+)"[^>]*>(.*?)</div>', out, re.S)
    if not m:
        raise AssertionError("no result element in the page:\n" + out[-2000:])
    return m.group(1), re.sub(r"<[^>]+>", " ", m.group(2))


def main():
    failures = []
    work = tempfile.mkdtemp(prefix="reserves-web-")
    try:
        pkg, pub = make_package(work)
        manifest = open(os.path.join(pkg, "manifest.json")).read()
        proof = open(os.path.join(pkg, "inclusion", "ACC-0002.json")).read()

        def expect(name, verdict, text, want_verdict, want_text):
            print(f"{name}: {verdict}: {text.strip()}")
            if verdict != want_verdict or want_text not in text:
                failures.append(f"{name}: got {verdict} {text!r}, want {want_verdict} containing {want_text!r}")

        v, t = run_page(work, proof, manifest, "ACC-0002", pub, "BTC=1002 ETH=340282366920938463463374607431768211")
        expect("accepted", v, t, "valid", "ETH: 340282366920938463463374607431768211 base units")

        tampered = json.loads(proof)
        part = tampered["entries"][0]["parts"][0]
        part["amount"] = str(int(part["amount"]) + 1)
        v, t = run_page(work, json.dumps(tampered), manifest, "ACC-0002", pub)
        expect("tampered amount", v, t, "invalid", "does not lead to the manifest's root")

        dup = proof.replace('"client_account_id":"ACC-0002"', '"client_account_id":"ACC-0003","client_account_id":"ACC-0002"')
        v, t = run_page(work, dup, manifest, "ACC-0002", pub)
        expect("duplicate key", v, t, "invalid", "duplicate key")

        m = json.loads(manifest)
        sig = m["signature"]["sig"]
        m["signature"]["sig"] = sig[:10] + ("1" if sig[10] == "0" else "0") + sig[11:]
        v, t = run_page(work, proof, json.dumps(m, separators=(",", ":")), "ACC-0002", pub)
        expect("bad signature", v, t, "invalid", "Ed25519 signature does not verify")

        v, t = run_page(work, proof, manifest, "ACC-0002", "00" * 32)
        expect("wrong pinned key", v, t, "invalid", "other than the pinned one")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print("web page checks passed")


if __name__ == "__main__":
    main()
