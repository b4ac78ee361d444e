#!/usr/bin/env python3
"""Offline dependency check for .ci/run: RustSec advisories (from a local snapshot of the
advisory database), licences, and duplicate versions.

Advisory database: $ACCORD_ADVISORY_DB, default ../shared/advisory-db (relative to the
repository). Where it is absent, as in a plain clone, the advisory step says so and is skipped.

Exit 1 when a vulnerability advisory affects a locked version and is not acknowledged in
docs/DEPENDENCIES.md (by its id), or when a licence is not on the allow list.
Unmaintained/unsound notices and duplicate versions are reported, not fatal.
"""
import json
import os
import re
import subprocess
import sys
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALLOWED = {
    "MIT", "Apache-2.0", "Apache-2.0 WITH LLVM-exception", "BSD-2-Clause", "BSD-3-Clause", "ISC",
    "Unicode-3.0", "Unicode-DFS-2016", "Unlicense", "Zlib", "CC0-1.0", "0BSD", "BSL-1.0", "MPL-2.0",
    "CDLA-Permissive-2.0", "MIT-0",
}


def parse_version(v):
    v = v.split("+")[0]
    core, _, pre = v.partition("-")
    parts = [int(x) for x in core.split(".")] + [0, 0, 0]
    return (parts[0], parts[1], parts[2], 0 if pre else 1, pre)


def matches(version, req):
    """Cargo-style version requirement, as used by RustSec (comma = AND)."""
    v = parse_version(version)
    for comp in [c.strip() for c in req.split(",") if c.strip()]:
        m = re.match(r"^(>=|<=|>|<|=|\^|~)?\s*([0-9][0-9A-Za-z.\-+]*)$", comp)
        if not m:
            raise ValueError(f"cannot read requirement {comp!r}")
        op, ver = m.group(1) or "^", m.group(2)
        nparts = len(ver.split("-")[0].split("."))
        r = parse_version(ver)
        if op == ">=" and not v >= r: return False
        if op == ">" and not v > r: return False
        if op == "<=" and not v <= r: return False
        if op == "<" and not v < r: return False
        if op == "=" and not v[:3] == r[:3]: return False
        if op == "~":
            upper = (r[0], r[1] + 1, 0) if nparts >= 2 else (r[0] + 1, 0, 0)
            if not (v >= r and v[:3] < upper): return False
        if op == "^":
            if r[0] > 0 or nparts == 1: upper = (r[0] + 1, 0, 0)
            elif r[1] > 0 or nparts == 2: upper = (0, r[1] + 1, 0)
            else: upper = (0, 0, r[2] + 1)
            if not (v >= r and v[:3] < upper): return False
    return True


def advisories(db, packages):
    crates = os.path.join(db, "crates")
    hits = []
    for name, versions in sorted(packages.items()):
        d = os.path.join(crates, name)
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            text = open(os.path.join(d, f), encoding="utf-8").read()
            m = re.search(r"```toml\n(.*?)\n```", text, re.S)
            if not m:
                continue
            meta = tomllib.loads(m.group(1))
            adv = meta.get("advisory", {})
            t = re.search(r"^# (.+)$", text[m.end():], re.M)
            adv.setdefault("title", t.group(1).strip() if t else "")
            if adv.get("withdrawn"):
                continue
            vers = meta.get("versions", {})
            safe = vers.get("patched", []) + vers.get("unaffected", [])
            for v in versions:
                if not any(matches(v, req) for req in safe):
                    hits.append((adv.get("id"), name, v, adv.get("informational"), adv.get("title", "")))
    return hits


def spdx_ok(expr):
    expr = (expr or "").replace("/", " OR ")
    if not expr.strip():
        return False
    for alt in re.split(r"\s+OR\s+", expr.replace("(", " ").replace(")", " ")):
        terms = [t.strip() for t in re.split(r"\s+AND\s+", alt) if t.strip()]
        if terms and all(t in ALLOWED for t in terms):
            return True
    return False


def main():
    lock = tomllib.load(open(os.path.join(ROOT, "Cargo.lock"), "rb"))
    packages = {}
    for p in lock["package"]:
        if p.get("source", "").startswith("registry+"):
            packages.setdefault(p["name"], []).append(p["version"])
    failed = False

    db = os.environ.get("ACCORD_ADVISORY_DB", os.path.join(ROOT, "..", "shared", "advisory-db"))
    acknowledged = open(os.path.join(ROOT, "docs", "DEPENDENCIES.md"), encoding="utf-8").read()
    if os.path.isdir(os.path.join(db, "crates")):
        hits = advisories(db, packages)
        for aid, name, v, info, title in hits:
            kind = f"informational ({info})" if info else "vulnerability"
            known = aid in acknowledged
            print(f"advisory {aid}: {name} {v}: {kind}: {title}" + (" [acknowledged in docs/DEPENDENCIES.md]" if known else ""))
            if not info and not known:
                failed = True
        print(f"advisories: {len(hits)} hit(s) among {sum(len(v) for v in packages.values())} locked crates")
    else:
        print(f"advisories: SKIPPED (no advisory database at {db}; set ACCORD_ADVISORY_DB)")

    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"], cwd=ROOT,
        capture_output=True, text=True, check=True).stdout)
    bad = [(p["name"], p["version"], p.get("license")) for p in meta["packages"]
           if p.get("source") and not spdx_ok(p.get("license"))]
    for name, v, lic in bad:
        print(f"licence not allowed: {name} {v}: {lic!r}")
    failed |= bool(bad)
    print(f"licences: {len(meta['packages'])} packages checked, {len(bad)} not allowed")

    dups = {n: v for n, v in packages.items() if len(v) > 1}
    for n, v in sorted(dups.items()):
        print(f"duplicate versions (warning): {n} {', '.join(sorted(v))}")
    print(f"duplicates: {len(dups)} crate(s) locked at more than one version (see docs/DEPENDENCIES.md)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
