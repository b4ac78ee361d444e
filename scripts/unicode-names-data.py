#!/usr/bin/env python3
"""Rebuilds schemas/unicode/names-14.0.0.txt from the original Unicode 14.0.0 data files.

The file holds exactly the Unicode data that accord's organisation-name rules need
(docs/FORMAT.md section 4.1, "Names: refusal rules and the comparison key"), so that accord
and any independent verifier use the same pinned Unicode version whatever their own tables
are. Standard library only.

    scripts/unicode-names-data.py --ucd DIR --security DIR [--out FILE] [--check]

--ucd DIR       the Unicode 14.0.0 UCD (https://www.unicode.org/Public/14.0.0/ucd/, or
                UCD.zip unpacked): UnicodeData.txt, SpecialCasing.txt, PropList.txt,
                DerivedCoreProperties.txt, DerivedNormalizationProps.txt and
                extracted/DerivedGeneralCategory.txt
--security DIR  the UTS #39 data of 14.0.0 (https://www.unicode.org/Public/security/14.0.0/):
                confusables.txt
--out FILE      where to write (default: schemas/unicode/names-14.0.0.txt of this repository)
--check         also compare the result with this Python's own unicodedata module, which
                must be Unicode 14.0.0 (Python 3.11): General_Category of every code point,
                full lower-case mappings, and NFKC_Casefold recomputed from NFKC and
                str.casefold; exits 1 on the first disagreement

Every input file must have the SHA-256 pinned below: a different file is refused, so the
output is reproducible byte for byte (its SHA-256 is recorded in docs/FORMAT.md).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import unicodedata

VERSION = "14.0.0"

# (name in the header, path under --ucd or --security, SHA-256 of the original file)
SOURCES = [
    ("ucd/UnicodeData.txt", "ucd", "UnicodeData.txt",
     "36018e68657fdcb3485f636630ffe8c8532e01c977703d2803f5b89d6c5feafb"),
    ("ucd/SpecialCasing.txt", "ucd", "SpecialCasing.txt",
     "c667b45908fd269af25fd55d2fc5bbc157fb1b77675936e25c513ce32e080334"),
    ("ucd/extracted/DerivedGeneralCategory.txt", "ucd", "extracted/DerivedGeneralCategory.txt",
     "cde679c8461976ed40d7edf61ae98cbb947540831f06f5bc7da7decbf91a1420"),
    ("ucd/PropList.txt", "ucd", "PropList.txt",
     "6bddfdb850417a5bee6deff19290fd1b138589909afb50f5a049f343bf2c6722"),
    ("ucd/DerivedCoreProperties.txt", "ucd", "DerivedCoreProperties.txt",
     "e3eddd7d469cd1b0feed7528defad1a1cc7c6a9ceb0ae4446a6d10921ed2e7bc"),
    ("ucd/DerivedNormalizationProps.txt", "ucd", "DerivedNormalizationProps.txt",
     "b2c444c20730b097787fdf50bd7d6dd3fc5256ab8084f5b35b11c8776eca674c"),
    ("security/confusables.txt", "security", "confusables.txt",
     "f901938af166c3afa471bd10c224b0979cd024340f290649e16b29f779d48bfe"),
]

# The General_Category values the name rules use (docs/FORMAT.md section 4.1).
CATEGORIES = ("Cc", "Cf", "Cn", "Co", "Cs", "Zs")


def fail(msg: str):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(1)


def read_source(dirs: dict, kind: str, rel: str, want: str) -> str:
    path = os.path.join(dirs[kind], rel)
    if not os.path.exists(path) and "/" in rel:
        path = os.path.join(dirs[kind], os.path.basename(rel))  # a flat copy of the files
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        fail(f"{path}: {e.strerror}")
    got = hashlib.sha256(raw).hexdigest()
    if got != want:
        fail(f"{path}: SHA-256 {got}, not the Unicode {VERSION} file ({want})")
    # confusables.txt starts with a byte order mark.
    return raw.decode("utf-8-sig")


def data_lines(text: str):
    """The fields of each data line of a UCD-format file (comments and blank lines skipped)."""
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            yield [f.strip() for f in line.split(";")]


def cp_range(s: str) -> tuple[int, int]:
    if ".." in s:
        a, b = s.split("..")
        return int(a, 16), int(b, 16)
    return int(s, 16), int(s, 16)


def cps(s: str) -> list[int]:
    return [int(h, 16) for h in s.split()]


def fmt_range(a: int, b: int) -> str:
    return f"{a:04X}" if a == b else f"{a:04X}..{b:04X}"


def fmt_cps(v: list[int]) -> str:
    return " ".join(f"{c:04X}" for c in v)


def merge(ranges):
    """Sorted, with adjacent ranges of the same value joined."""
    out = []
    for a, b, v in sorted(ranges):
        if out and out[-1][1] + 1 == a and out[-1][2] == v:
            out[-1] = (out[-1][0], b, v)
        else:
            out.append((a, b, v))
    return out


def build(texts: dict) -> tuple[str, dict]:
    # General_Category (UAX #44 section 5.7.1), only the values in CATEGORIES.
    gc = []
    for f in data_lines(texts["ucd/extracted/DerivedGeneralCategory.txt"]):
        if f[1] in CATEGORIES:
            a, b = cp_range(f[0])
            gc.append((a, b, f[1]))
    gc = merge(gc)

    ws = merge(
        (*cp_range(f[0]), "")
        for f in data_lines(texts["ucd/PropList.txt"])
        if f[1] == "White_Space"
    )
    di = merge(
        (*cp_range(f[0]), "")
        for f in data_lines(texts["ucd/DerivedCoreProperties.txt"])
        if f[1] == "Default_Ignorable_Code_Point"
    )

    # Full Lowercase_Mapping (Unicode 14.0 section 3.13, UAX #44 section 5.6): the simple
    # mapping of UnicodeData.txt field 13, replaced by SpecialCasing.txt where an entry there
    # has no condition list. Listed only where it differs from the code point itself.
    lower: dict[int, list[int]] = {}
    for f in data_lines(texts["ucd/UnicodeData.txt"]):
        if f[13]:
            lower[int(f[0], 16)] = cps(f[13])
    for f in data_lines(texts["ucd/SpecialCasing.txt"]):
        # code; lower; title; upper; (condition_list;)
        if len(f) >= 5 and f[4]:
            continue  # conditional (Final_Sigma, language-specific): not a default mapping
        c = int(f[0], 16)
        m = cps(f[1])
        if m == [c]:
            lower.pop(c, None)
        else:
            lower[c] = m

    # NFKC_Casefold (UAX #44; DerivedNormalizationProps.txt), as listed there.
    nfkc_cf = []
    for f in data_lines(texts["ucd/DerivedNormalizationProps.txt"]):
        if f[1] == "NFKC_CF":
            a, b = cp_range(f[0])
            nfkc_cf.append((a, b, fmt_cps(cps(f[2]))))
    nfkc_cf = sorted(nfkc_cf)

    # confusables.txt (UTS #39 section 4): source ; prototype ; type (always MA since 6.0).
    conf = []
    for f in data_lines(texts["security/confusables.txt"]):
        if f[2] != "MA":
            fail(f"confusables.txt: unexpected type {f[2]!r}")
        conf.append((int(f[0], 16), fmt_cps(cps(f[1]))))
    conf.sort()
    if len({c for c, _ in conf}) != len(conf):
        fail("confusables.txt: a source is listed twice")

    out = []
    for a, b, v in gc:
        out.append(f"gc;{fmt_range(a, b)};{v}")
    for a, b, _ in di:
        out.append(f"di;{fmt_range(a, b)};")
    for a, b, _ in ws:
        out.append(f"ws;{fmt_range(a, b)};")
    for c in sorted(lower):
        out.append(f"lower;{c:04X};{fmt_cps(lower[c])}")
    for a, b, v in nfkc_cf:
        out.append(f"nfkc_cf;{fmt_range(a, b)};{v}")
    for c, v in conf:
        out.append(f"confusable;{c:04X};{v}")
    tables = {"gc": gc, "di": di, "ws": ws, "lower": lower, "nfkc_cf": nfkc_cf, "conf": conf}
    return "\n".join(out) + "\n", tables


HEADER = """\
# names-{version}.txt: the Unicode data of accord's organisation-name rules
# (docs/FORMAT.md section 4.1, "Names: refusal rules and the comparison key").
#
# Unicode version: {version}
# Generated by scripts/unicode-names-data.py from these original Unicode {version} files
# (UCD: https://www.unicode.org/Public/{version}/ucd/, UTS #39 data:
# https://www.unicode.org/Public/security/{version}/), SHA-256 of each:
{sources}#
# Every other line is FIELD;CODE POINTS;VALUE. CODE POINTS is one code point or a range
# FIRST..LAST, in upper-case hexadecimal of 4 to 6 digits. VALUE is empty, a
# General_Category value, or code points separated by single spaces (possibly none).
# Lines are sorted by FIELD in the order below, then by code point; no range overlaps
# another of the same FIELD. A code point not listed for a FIELD has no value there
# (for lower, nfkc_cf and confusable: it maps to itself).
#   gc          General_Category, only the values Cc Cf Cn Co Cs Zs (from
#               DerivedGeneralCategory.txt; Cn = unassigned, including noncharacters)
#   di          Default_Ignorable_Code_Point (DerivedCoreProperties.txt)
#   ws          White_Space (PropList.txt)
#   lower       full Lowercase_Mapping, where it is not the code point itself: UnicodeData.txt
#               field 13, replaced by the SpecialCasing.txt entries without a condition
#   nfkc_cf     NFKC_Casefold, as listed in DerivedNormalizationProps.txt (empty: removed)
#   confusable  the prototype of confusables.txt (UTS #39 section 4)
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ucd", required=True)
    ap.add_argument("--security", required=True)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument(
        "--out", default=os.path.join(here, "..", "schemas", "unicode", f"names-{VERSION}.txt")
    )
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    dirs = {"ucd": args.ucd, "security": args.security}
    texts = {}
    sources = ""
    for name, kind, rel, want in SOURCES:
        texts[name] = read_source(dirs, kind, rel, want)
        sources += f"#   {want}  {name}\n"
    body, tables = build(texts)
    data = HEADER.format(version=VERSION, sources=sources) + body
    if args.check:
        check(tables)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="ascii", newline="\n") as f:
        f.write(data)
    digest = hashlib.sha256(data.encode("ascii")).hexdigest()
    print(f"wrote {args.out}: {len(data.encode('ascii'))} bytes, SHA-256 {digest}")
    return 0


def check(t: dict):
    """Compares the tables with Python's own Unicode 14.0.0 database."""
    if unicodedata.unidata_version != VERSION:
        fail(f"--check needs Python's unicodedata {VERSION}, this one is "
             f"{unicodedata.unidata_version} (Python 3.11 has {VERSION})")


    # Flatten for speed.
    gc = {}
    for a, b, v in t["gc"]:
        for c in range(a, b + 1):
            gc[c] = v
    di = {c for a, b, _ in t["di"] for c in range(a, b + 1)}
    nfkc_cf = {}
    for a, b, v in t["nfkc_cf"]:
        for c in range(a, b + 1):
            nfkc_cf[c] = "".join(chr(int(h, 16)) for h in v.split())
    n_assigned = 0
    for c in range(0x110000):
        ch = chr(c)
        cat = unicodedata.category(ch)
        want = cat if cat in CATEGORIES else None
        if gc.get(c) != want:
            fail(f"U+{c:04X}: General_Category {cat} in Python, {gc.get(c)} in the data")
        if cat == "Cn" or cat == "Cs":
            continue
        n_assigned += 1
        lo = "".join(chr(x) for x in t["lower"].get(c, [c]))
        # Python's str.lower() is the full default mapping (with Final_Sigma, which a lone
        # U+03A3 does not meet).
        if ch.lower() != lo:
            fail(f"U+{c:04X}: lower-case {ch.lower()!r} in Python, {lo!r} in the data")
        # NFKC_Casefold recomputed as UAX #44 describes its derivation: NFKC, full case
        # folding (CaseFolding.txt C+F, Python's str.casefold) and removal of
        # Default_Ignorable_Code_Point, repeated until nothing changes.
        x = ch
        while True:
            y = unicodedata.normalize("NFKC", x)
            y = unicodedata.normalize("NFKC", y.casefold())
            y = "".join(k for k in y if ord(k) not in di)
            if y == x:
                break
            x = y
        if nfkc_cf.get(c, ch) != x:
            fail(f"U+{c:04X}: NFKC_Casefold {nfkc_cf.get(c, ch)!r} in the data, {x!r} "
                 "recomputed from Python's NFKC and casefold")
    for c, v in t["conf"]:
        for x in [c] + [int(h, 16) for h in v.split()]:
            if unicodedata.category(chr(x)) == "Cn":
                fail(f"confusables: U+{x:04X} is unassigned in {VERSION}")
    print(f"check: agrees with Python's unicodedata {VERSION} on all code points "
          f"({n_assigned} assigned, not surrogates)")


if __name__ == "__main__":
    sys.exit(main())
