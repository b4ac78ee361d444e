#!/usr/bin/env python3
"""The Python peer: tlog-scales's `tlog-tiles` command reads accord's tiles, and must agree
with accord's own answers (expected.json, written by expected.py).

    tlog_scales_peer.py TLOG_TILES LOCATION EXPECTED.json
    tlog_scales_peer.py --reject TLOG_TILES LOCATION INDEX

LOCATION is what tlog-tiles takes: an http:// prefix (accord serve) or a directory path
starting with '/' (accord publish; tlog-tiles refuses a bare relative path).

For every sampled index I it runs, as separate processes:

* `tlog-tiles get-leaf -c LOCATION I`: the entry from the entry bundle, which tlog-tiles itself
  checks for inclusion against the checkpoint's root (-c). It must equal accord's entry, so its
  leaf hash SHA-256(0x00 || entry) is accord's.
* `tlog-tiles gen-proof LOCATION I`: a C2SP tlog-proof built from the hash tiles. Its index,
  its proof hashes and its checkpoint (origin, size, root and the signature line, which
  tlog-tiles parses and writes again) must equal accord's `prove I --format tlog-proof` byte
  for byte, but for accord's `extra` line, which tlog-tiles does not write.

It also runs both with the index -1 (tlog-tiles's "last leaf") once. tlog-tiles checks no
signature; the Go peer does. Exit 1 on the first disagreement, naming it.

--reject: a tampered copy; `get-leaf -c` of INDEX must fail (the check can fail).
"""

import base64
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor


def run(tool, *args):
    return subprocess.run([tool, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def fail(msg):
    sys.exit(f"tlog-scales peer: DISAGREES: {msg}")


def without_extra(tlog_proof):
    return "".join(l for l in tlog_proof.splitlines(keepends=True) if not l.startswith("extra "))


def check_leaf(tool, loc, leaf, arg=None):
    """Runs both commands for one leaf; returns a list of disagreements (empty: agreed)."""
    i = leaf["index"]
    arg = str(i) if arg is None else arg
    bad = []
    got = run(tool, "get-leaf", "-c", loc, arg)
    if got.returncode != 0:
        bad.append(f"get-leaf -c {loc} {arg}: exit {got.returncode}: {got.stderr.decode()[-500:]}")
    elif got.stdout != base64.b64decode(leaf["entry"]):
        bad.append(f"get-leaf {loc} {arg}: entry differs from accord's entry {i}")
    got = run(tool, "gen-proof", loc, arg)
    if got.returncode != 0:
        bad.append(f"gen-proof {loc} {arg}: exit {got.returncode}: {got.stderr.decode()[-500:]}")
        return bad
    theirs = got.stdout.decode()
    ours = without_extra(leaf["tlog_proof"])
    if theirs != ours:
        lines = theirs.split("\n")
        hashes = lines[2 : lines.index("")] if "" in lines else []
        what = "proof hashes" if hashes != leaf["proof"] else "checkpoint or index"
        bad.append(
            f"gen-proof {loc} {arg}: {what} differ from accord's prove {i} --format tlog-proof\n"
            f"--- tlog-tiles:\n{theirs}--- accord:\n{ours}"
        )
    return bad


def main():
    args = sys.argv[1:]
    if args and args[0] == "--reject":
        tool, loc, index = args[1:]
        got = run(tool, "get-leaf", "-c", loc, index)
        if got.returncode == 0:
            fail(f"get-leaf -c {loc} {index} ACCEPTED a tampered log")
        last = got.stderr.decode().strip().splitlines()[-1:] or ["(no message)"]
        print(f"tlog-scales peer: {loc}: rejected as it must: get-leaf -c {index}: {last[0]}")
        return
    if len(args) != 3:
        sys.exit(__doc__)
    tool, loc, expected_file = args
    with open(expected_file) as f:
        exp = json.load(f)
    leaves = exp["leaves"]
    jobs = [(leaf, None) for leaf in leaves] + [(leaves[-1], "-1")]
    # Each job is two short processes; two at a time keep both cores busy.
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda job: check_leaf(tool, loc, *job), jobs))
    bad = [b for r in results for b in r]
    if bad:
        fail(f"{len(bad)} disagreement(s) at size {exp['size']}:\n" + "\n".join(bad))
    if leaves[-1]["index"] != exp["size"] - 1:
        fail("the sample does not hold the last leaf")
    print(
        f"tlog-scales peer: {loc}: size {exp['size']}, root {exp['root']}: "
        f"{len(leaves)} sampled leaves (+ index -1): entries and leaf hashes equal accord's and "
        f"check against the root (get-leaf -c); inclusion proofs and checkpoint equal accord's "
        f"tlog-proof byte for byte (gen-proof)"
    )


if __name__ == "__main__":
    main()
