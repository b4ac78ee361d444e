#!/usr/bin/env python3
"""accord's own answers for the interop suites: what every peer must agree with.

    expected.py ACCORD LEDGER OUT.json

For the ledger LEDGER of N entries it picks the indexes to sample (the first and the last,
the edges of tiles at both levels, the start of the partial tiles, and a few random ones with
a fixed seed) and asks the accord binary ACCORD, through its command line only:

* `accord checkpoint` and `accord ledger-key`: the signed checkpoint (its root) and the vkey;
* `accord prove I --json`: the entry (its leaf hash is SHA-256(0x00 || entry), RFC 9162 §2.1.1)
  and its inclusion path at the latest checkpoint;
* `accord prove I --format tlog-proof`: the C2SP tlog-proof text, which a peer that writes the
  same format must reproduce byte for byte (less accord's `extra` line).

It writes them as one JSON object (hashes in standard base64, as C2SP writes them) that
tlog_scales_peer.py and the Go peer (go/main.go, -expect) compare their own readings with.
"""

import base64
import hashlib
import json
import random
import subprocess
import sys


def accord(binary, ledger, *args):
    cmd = [binary, "--quiet", "--ledger", ledger, *args]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {out.returncode}\n{out.stderr.decode(errors='replace')}")
    return out.stdout


def sample_indexes(size):
    """The indexes of a tree of `size` leaves worth reading: edges of tiles at levels 0 and
    1 (256 and 65,536 leaves), the start of the last (possibly partial) tile at both levels,
    the middle, the last ones, and four random ones fixed by the size."""
    picks = {0, 1, 2, 127, 128, 254, 255, 256, 257, 511, 512, 65_535, 65_536, 65_537}
    picks |= {size // 2, size - 257, size - 256, size - 255, size - 2, size - 1}
    for unit in (256, 65_536):
        edge = size // unit * unit
        picks |= {edge - 1, edge, edge + 1}
    rng = random.Random(size)
    picks |= {rng.randrange(size) for _ in range(4)}
    return sorted(i for i in picks if 0 <= i < size)


def b64(raw):
    return base64.b64encode(raw).decode()


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: expected.py ACCORD LEDGER OUT.json")
    binary, ledger, out = sys.argv[1:]
    checkpoint = accord(binary, ledger, "checkpoint").decode()
    vkey = accord(binary, ledger, "ledger-key").decode().strip()
    lines = checkpoint.split("\n")
    size, root = int(lines[1]), lines[2]
    leaves = []
    for i in sample_indexes(size):
        proof = json.loads(accord(binary, ledger, "prove", str(i), "--json", "--out", "-"))
        if proof["leaf_index"] != i or proof["tree_size"] != size:
            sys.exit(f"accord prove {i}: proof of leaf {proof['leaf_index']} at size {proof['tree_size']}")
        if proof["checkpoint"] != checkpoint:
            sys.exit(f"accord prove {i}: its checkpoint is not the one accord checkpoint prints")
        entry = base64.b64decode(proof["entry"])
        tlog_proof = accord(binary, ledger, "prove", str(i), "--format", "tlog-proof", "--out", "-")
        path = [b64(bytes.fromhex(h)) for h in proof["inclusion_path"]]
        text = tlog_proof.decode().split("\n")
        if text[text.index(f"index {i}") + 1 : text.index("")] != path:
            sys.exit(f"accord prove {i}: the tlog-proof's hashes are not the JSON proof's")
        leaves.append(
            {
                "index": i,
                "entry": b64(entry),
                "leaf_hash": b64(hashlib.sha256(b"\x00" + entry).digest()),
                "proof": path,
                "tlog_proof": tlog_proof.decode(),
            }
        )
    with open(out, "w") as f:
        json.dump(
            {"size": size, "root": root, "checkpoint": checkpoint, "vkey": vkey, "leaves": leaves},
            f,
            indent=1,
        )
    print(f"expected: {ledger}: size {size}, root {root}, {len(leaves)} sampled leaves")


if __name__ == "__main__":
    main()
