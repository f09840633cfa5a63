#!/usr/bin/env python3
"""Independent check of signerd's sign log, written from docs/sign_log.md alone.

Usage: check_sign_log.py DATABASE
Recomputes every entry hash and the chain links; prints "ok <entries> <head hash hex>" and
exits 0, or prints the first problem and exits 1.
"""
import hashlib
import re
import sqlite3
import struct
import sys

DOMAIN = b"ringfence.signer.sign_log.v1\x00"
NAME = re.compile(rb"^[a-z0-9_]{1,64}$")


def lp(b):
    return struct.pack(">I", len(b)) + b


def check_fields(blob):
    pos = 0
    (count,) = struct.unpack_from(">I", blob, pos)
    pos += 4
    names = []
    for _ in range(count):
        (n,) = struct.unpack_from(">I", blob, pos)
        pos += 4
        name = blob[pos:pos + n]
        pos += n
        (v,) = struct.unpack_from(">I", blob, pos)
        pos += 4 + v
        if pos > len(blob) or not NAME.match(name):
            raise ValueError("bad field")
        names.append(name)
    if pos != len(blob) or names != sorted(set(names)):
        raise ValueError("non-canonical fields")


def main():
    db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
    rows = db.execute("SELECT seq, time_unix_ms, kind, key_id, fields, prev_hash, hash "
                      "FROM sign_log ORDER BY seq").fetchall()
    prev = bytes(32)
    for expected, (seq, time_ms, kind, key_id, fields, prev_hash, stored) in enumerate(rows, 1):
        if seq != expected:
            print("entry %d missing" % expected)
            return 1
        check_fields(bytes(fields))
        if bytes(prev_hash) != prev:
            print("entry %d does not link" % seq)
            return 1
        msg = (DOMAIN + struct.pack(">Q", seq) + struct.pack(">q", time_ms) +
               lp(kind.encode()) + lp(key_id.encode()) + bytes(fields) + bytes(prev_hash))
        digest = hashlib.sha256(msg).digest()
        if digest != bytes(stored):
            print("entry %d hash mismatch" % seq)
            return 1
        prev = digest
    print("ok %d %s" % (len(rows), prev.hex()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
