#!/usr/bin/env python3
"""An independent verifier of accord ledgers, written from docs/FORMAT.md and schemas/ only.

Pure Python 3.11, standard library only (hashlib for SHA-256/SHA-512; Ed25519 and CBOR are
implemented here). Section numbers (§) refer to docs/FORMAT.md.

    accord_verify.py export FILE --ledger-key VKEY       # an `accord export` file (§10, §7)
    accord_verify.py proof FILE --ledger-key VKEY        # a bundle (§8) or consistency file (§9)
    accord_verify.py checkpoint NOTE --ledger-key VKEY   # a signed checkpoint note (§6)
    accord_verify.py state FILE --ledger-key VKEY [--export EXPORT]
                                                         # a remembered replay state (§11.1)
    accord_verify.py names-selftest                      # the §4.1 name rules on known cases
    accord_verify.py names-compare FILE                  # accord's name keys against ours

Exit codes: 0 valid, 1 invalid (the message names the first bad entry), 2 usage or I/O error.
Warnings (stderr, exit 0): entries made untrusted by a later recovery (§7) in a bundle, and
organisation names with code points this Python's Unicode data does not know (§4.1).

Checked: strict deterministic CBOR (§1) with unknown/missing fields refused; Ed25519 with the
§2 acceptance rule (canonical A and R, no small order, S < L, cofactorless); statements (§3-4)
with every per-kind field rule; entries, chain links, log times, iat <= logged_at + 600,
duplicate statement ids, origins, the lifecycle rules and untrusted entries (§7); norms against
the catalogue (schemas/norms-v1.json, or --catalogue FILE); the RFC 9162 Merkle root,
inclusion and consistency proofs; C2SP signed notes and checkpoints (§6); bundles (§8) and
consistency files (§9) in CBOR and JSON; C2SP tlog-proofs (§8, inclusion only); export
framing (§10); entry versions 1-3, and in an export the state map (§18.1-18.3) rebuilt
alongside the replay: every `state` root checked, and required on a version-3 entry that ends
the checkpoint (§7 steps 4-5). Not implemented: status proofs (§18.4).
Replay states (§11.1): `state FILE` checks a `replay-<hex>.state` file that `accord verify
--state DIR` keeps (magic, version, digest, exact decoding with bounded counts and sorted maps,
the tree edge against its signed checkpoint); with `--export FILE` it also verifies that
export and compares every field of the state with this verifier's own replay of it (the
running SHA-256 states of the index digests are finished here, by a SHA-256 written out).
Not implemented: the remembered-checkpoint state directory (rollback/fork, §11), key files
(§2), "live at time t" queries for a given t (status); the export summary counts what is live
now.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import bisect
import hashlib
import json
import os
import re
import sys
import time
import unicodedata

# ---------------------------------------------------------------------------------------------
# Errors


class Invalid(Exception):
    """The data examined is invalid (exit 1)."""


class Usage(Exception):
    """A usage error, bad argument or unreadable file (exit 2)."""


def sha256(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


U64_MAX = 2**64 - 1
I64_MIN, I64_MAX = -(2**63), 2**63 - 1

# ---------------------------------------------------------------------------------------------
# Ed25519 (RFC 8032 §5.1), with the acceptance rule of §2 (ed25519-dalek verify_strict)

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_D2 = 2 * _D % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)
_IDENTITY = (0, 1, 1, 0)


def _pt_add(p, q):
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % _P
    b = (y1 + x1) * (y2 + x2) % _P
    c = t1 * _D2 * t2 % _P
    d = 2 * z1 * z2 % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _pt_double(p):
    x1, y1, z1, _ = p
    a = x1 * x1 % _P
    b = y1 * y1 % _P
    c = 2 * z1 * z1 % _P
    h = a + b
    e = h - (x1 + y1) * (x1 + y1) % _P
    g = a - b
    f = c + g
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _pt_neg(p):
    x, y, z, t = p
    return ((-x) % _P, y, z, (-t) % _P)


def _pt_is_identity(p) -> bool:
    x, y, z, _ = p
    return x % _P == 0 and (y - z) % _P == 0


def _pt_equal(p, q) -> bool:
    x1, y1, z1, _ = p
    x2, y2, z2, _ = q
    return (x1 * z2 - x2 * z1) % _P == 0 and (y1 * z2 - y2 * z1) % _P == 0


def _pt_decode(b: bytes):
    """Decodes a point; None unless `b` is the canonical encoding of a curve point."""
    if len(b) != 32:
        return None
    n = int.from_bytes(b, "little")
    sign = n >> 255
    y = n & ((1 << 255) - 1)
    if y >= _P:  # non-canonical y
        return None
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x2 = u * pow(v, _P - 2, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
        if (x * x - x2) % _P != 0:
            return None  # not on the curve
    if x == 0 and sign:
        return None  # "-0": re-encoding would give another byte string
    if x & 1 != sign:
        x = _P - x
    return (x, y, 1, x * y % _P)


def _pt_small_order(p) -> bool:
    q = _pt_double(_pt_double(_pt_double(p)))
    return _pt_is_identity(q)


_BY = 4 * pow(5, _P - 2, _P) % _P
_B = _pt_decode(_BY.to_bytes(32, "little"))


def ed25519_key_ok(a: bytes) -> bool:
    """§2: a 32-byte canonical point encoding that is not of small order."""
    p = _pt_decode(a)
    return p is not None and not _pt_small_order(p)


def ed25519_verify(a: bytes, msg: bytes, sig: bytes) -> bool:
    """§2 acceptance rule, all four conditions; cofactorless equation."""
    if len(a) != 32 or len(sig) != 64:
        return False
    pa = _pt_decode(a)
    if pa is None or _pt_small_order(pa):
        return False
    rb, sb = sig[:32], sig[32:]
    pr = _pt_decode(rb)
    if pr is None or _pt_small_order(pr):
        return False
    s = int.from_bytes(sb, "little")
    if s >= _L:
        return False
    k = int.from_bytes(hashlib.sha512(rb + a + msg).digest(), "little") % _L
    # [S]B - [k]A by joint double-and-add (Straus), then compare with R without the cofactor.
    neg_a = _pt_neg(pa)
    both = _pt_add(_B, neg_a)
    q = _IDENTITY
    for i in range(max(s.bit_length(), k.bit_length()) - 1, -1, -1):
        q = _pt_double(q)
        sbit = (s >> i) & 1
        kbit = (k >> i) & 1
        if sbit and kbit:
            q = _pt_add(q, both)
        elif sbit:
            q = _pt_add(q, _B)
        elif kbit:
            q = _pt_add(q, neg_a)
    return _pt_equal(q, pr)


# ---------------------------------------------------------------------------------------------
# Strict deterministic CBOR (§1)


class Tag:
    __slots__ = ("tag", "value")

    def __init__(self, tag, value):
        self.tag = tag
        self.value = value


MAX_DEPTH = 16


class _Cbor:
    def __init__(self, data: bytes):
        self.d = data
        self.pos = 0

    def fail(self, msg):
        raise Invalid(f"CBOR: {msg} at byte {self.pos}")

    def head(self):
        d = self.d
        if self.pos >= len(d):
            self.fail("truncated item")
        ib = d[self.pos]
        self.pos += 1
        major, ai = ib >> 5, ib & 0x1F
        if ai < 24:
            return major, ai, ib
        if ai in (24, 25, 26, 27):
            n = 1 << (ai - 24)
            if self.pos + n > len(d):
                self.fail("truncated head")
            val = int.from_bytes(d[self.pos : self.pos + n], "big")
            self.pos += n
            if major == 7:
                return major, ai, ib
            minimum = {24: 24, 25: 0x100, 26: 0x10000, 27: 0x100000000}[ai]
            if val < minimum:
                self.pos -= n + 1
                self.fail("integer, length or tag not in shortest form")
            return major, val, ib
        if ai == 31:
            self.pos -= 1
            self.fail("indefinite length or break")
        self.pos -= 1
        self.fail("reserved additional information")

    def item(self, depth: int):
        if depth > MAX_DEPTH:
            self.fail(f"nesting deeper than {MAX_DEPTH} levels")
        start = self.pos
        major, val, ib = self.head()
        if major == 0:
            return val
        if major == 1:
            return -1 - val
        if major in (2, 3):
            if val > len(self.d) - self.pos:
                self.fail("string longer than the data")
            raw = self.d[self.pos : self.pos + val]
            self.pos += val
            if major == 2:
                return bytes(raw)
            try:
                return raw.decode("utf-8", errors="strict")
            except UnicodeDecodeError:
                self.pos = start
                self.fail("text string is not valid UTF-8")
        if major == 4:
            if val > len(self.d) - self.pos:
                self.fail("array longer than the data")
            return [self.item(depth + 1) for _ in range(val)]
        if major == 5:
            if val > len(self.d) - self.pos:
                self.fail("map longer than the data")
            out = {}
            prev = None
            for _ in range(val):
                kstart = self.pos
                key = self.item(depth + 1)
                kbytes = self.d[kstart : self.pos]
                if type(key) not in (int, str, bytes):
                    self.pos = kstart
                    self.fail("map key is not an integer or string")
                if prev is not None:
                    if kbytes == prev:
                        self.pos = kstart
                        self.fail("duplicate map key")
                    if kbytes < prev:
                        self.pos = kstart
                        self.fail("map keys not in deterministic (bytewise) order")
                prev = kbytes
                out[key] = self.item(depth + 1)
            return out
        if major == 6:
            if val in (2, 3):
                self.pos = start
                self.fail("bignum tag refused")
            return Tag(val, self.item(depth + 1))
        # major 7
        if ib == 0xF4:
            return False
        if ib == 0xF5:
            return True
        if ib == 0xF6:
            return None
        self.pos = start
        if ib == 0xF7:
            self.fail("undefined refused")
        if ib in (0xF9, 0xFA, 0xFB):
            self.fail("floating-point value refused")
        self.fail("simple value refused")


def cbor_decode(data: bytes):
    """Decodes exactly one item in core deterministic encoding; refuses trailing bytes."""
    c = _Cbor(data)
    v = c.item(1)
    if c.pos != len(data):
        c.fail("trailing bytes after the item")
    return v


def cbor_bstr_at(data: bytes, pos: int):
    """Reads one definite byte-string head (shortest form) at pos; returns (start, length)."""
    c = _Cbor(data)
    c.pos = pos
    major, val, _ = c.head()
    if major != 2:
        c.pos = pos
        c.fail("expected a byte string")
    return c.pos, val


# ---------------------------------------------------------------------------------------------
# Field helpers


def is_int(v) -> bool:
    return type(v) is int


def want_map(m, what: str, required: dict, optional: dict | None = None) -> dict:
    """Checks a decoded map has exactly the required keys and only known optional ones."""
    if type(m) is not dict:
        raise Invalid(f"{what}: not a map")
    optional = optional or {}
    for k in m:
        if k not in required and k not in optional:
            raise Invalid(f"{what}: unknown field {k!r}")
    for k, check in required.items():
        if k not in m:
            raise Invalid(f"{what}: missing field {k!r}")
        check(m[k], f"{what}.{k}")
    for k, check in optional.items():
        if k in m:
            check(m[k], f"{what}.{k}")
    return m


def t_uint(v, what):
    if not is_int(v) or v < 0 or v > U64_MAX:
        raise Invalid(f"{what}: not an unsigned integer")


def t_int(v, what):
    if not is_int(v) or v < I64_MIN or v > I64_MAX:
        raise Invalid(f"{what}: not a 64-bit signed integer")


def t_bytes(n=None):
    def check(v, what):
        if type(v) is not bytes:
            raise Invalid(f"{what}: not a byte string")
        if n is not None and len(v) != n:
            raise Invalid(f"{what}: {len(v)} bytes, expected {n}")

    return check


def t_text(v, what):
    if type(v) is not str:
        raise Invalid(f"{what}: not a text string")


def t_const(c):
    def check(v, what):
        if type(v) is not type(c) or v != c:
            raise Invalid(f"{what}: must be {c!r}")

    return check


def t_array(v, what):
    if type(v) is not list:
        raise Invalid(f"{what}: not an array")


def t_any(v, what):
    pass


def is_control(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc"


def check_text(s: str, what: str, allow_lf: bool = False, max_bytes: int = 1024):
    """§4: 1 to 1,024 bytes of UTF-8 without control characters (LF in note and reason)."""
    n = len(s.encode("utf-8"))
    if n < 1 or n > max_bytes:
        raise Invalid(f"{what}: {n} bytes, must be 1 to {max_bytes}")
    for ch in s:
        if is_control(ch) and not (allow_lf and ch == "\n"):
            raise Invalid(f"{what}: contains a control character")


def check_origin(s, what="origin"):
    """§6: 1 to 255 bytes of printable ASCII (0x21-0x7E) without '+'."""
    if type(s) is not str or not 1 <= len(s) <= 255:
        raise Invalid(f"{what}: must be 1 to 255 characters")
    for ch in s:
        if not (0x21 <= ord(ch) <= 0x7E) or ch == "+":
            raise Invalid(f"{what}: {s!r} has a character outside 0x21-0x7E or a '+'")


# fullmatch everywhere below: `$` alone would also match before a trailing LF.
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def check_domain(s: str, what: str):
    """§4.1: a lower-case DNS name: at most 253 bytes, at least two labels separated by '.',
    each 1 to 63 bytes of a-z 0-9 '-', not beginning or ending with '-' (no trailing dot)."""
    check_text(s, what)
    labels = s.split(".")
    if (
        len(s) > 253
        or len(labels) < 2
        or not all(_LABEL.fullmatch(lab) for lab in labels)
    ):
        raise Invalid(f"{what}: {s!r} is not a lower-case DNS name")


_LOCAL = re.compile(r"[\x21-\x3f\x41-\x7e]+")  # printable ASCII except '@'


def check_contact(s: str, what: str):
    """§4.1: a role address local@domain: at most 254 bytes, the local part printable ASCII
    without '@', the domain as check_domain."""
    check_text(s, what)
    local, at, domain = s.rpartition("@")
    if len(s) > 254 or not at or not _LOCAL.fullmatch(local):
        raise Invalid(f"{what}: {s!r} is not a role address local@domain")
    check_domain(domain, what)


_NORM_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def check_norm_id(s, what):
    """§4.2: 1 to 64 bytes of [a-z0-9] words joined by single '-'."""
    if type(s) is not str or len(s) > 64 or not _NORM_ID.fullmatch(s):
        raise Invalid(f"{what}: {s!r} is not a norm id")


UNICODE = unicodedata.unidata_version
WARNINGS: list = []


def warn(msg: str):
    WARNINGS.append(msg)


def unassigned(s: str) -> bool:
    """True if s has code points this Python's Unicode database does not know (category Cn,
    e.g. letters added after its version): their case mapping cannot be checked here."""
    return any(unicodedata.category(ch) == "Cn" for ch in s)


def normalise(name: str, what="name") -> str:
    """§4.1 normalise(name)."""
    n = unicodedata.normalize("NFC", name)
    if not n:
        raise Invalid(f"{what}: empty organisation name")
    if any(is_control(ch) for ch in n):
        raise Invalid(f"{what}: organisation name contains a control character")
    if n[0].isspace() or n[-1].isspace():
        raise Invalid(f"{what}: organisation name begins or ends with white space")
    out = unicodedata.normalize("NFC", n.lower())
    if len(out.encode("utf-8")) > 128:
        raise Invalid(f"{what}: normalised organisation name longer than 128 bytes")
    return out


# ---------------------------------------------------------------------------------------------
# Names under rules version 2 (§4.1 "Names: refusal rules and the comparison key"): the
# refusal rules and the comparison key, from the pinned Unicode 14.0.0 data file.

NAMES_DATA = "names-14.0.0.txt"
# SHA-256 of schemas/unicode/names-14.0.0.txt, as §4.1 records it.
NAMES_DATA_SHA256 = "f66b4698c6781a5986a7f3a712ba0db8d7bdd727ce85a076baca9ebdf697d7e8"
KEY_ROUNDS = 3
_BRAILLE_PATTERN_BLANK = "\u2800"


class NameRefused(Invalid):
    """A name broken by a refusal rule: rule (§4.1 name), code point and position (from 1)."""

    def __init__(self, rule: str, code_point: str | None = None, position: int | None = None):
        self.rule, self.code_point, self.position = rule, code_point, position
        where = "" if code_point is None else f": U+{ord(code_point):04X} at character {position}"
        super().__init__(f"organisation name breaks the {rule} rule{where}")


class _NamesData:
    """The pinned file, parsed: sorted range lists (bisect) and mappings."""

    def __init__(self, text: str):
        self.gc_start, self.gc = [], []  # range starts; (first, last, category)
        self.di, self.ws = [], []
        self.lower, self.nfkc_cf, self.confusable = {}, {}, {}
        for n, line in enumerate(text.split("\n"), 1):
            if not line or line.startswith("#"):
                continue
            parts = line.split(";")
            if len(parts) != 3:
                raise Usage(f"{NAMES_DATA} line {n}: not three fields")
            field, points, value = parts
            first, _, last = points.partition("..")
            a, b = int(first, 16), int(last or first, 16)
            if field in ("lower", "nfkc_cf", "confusable"):
                seq = "".join(chr(int(h, 16)) for h in value.split(" ")) if value else ""
            if field == "gc":
                self.gc.append((a, b, value))
            elif field == "di":
                self.di.append((a, b))
            elif field == "ws":
                self.ws.append((a, b))
            elif field == "lower":
                self.lower[a] = seq
            elif field == "nfkc_cf":
                for c in range(a, b + 1):
                    self.nfkc_cf[c] = seq
            elif field == "confusable":
                self.confusable[a] = seq
            else:
                raise Usage(f"{NAMES_DATA} line {n}: unknown field {field!r}")
        self.gc_start = [r[0] for r in self.gc]
        self.di_start = [r[0] for r in self.di]
        self.ws_start = [r[0] for r in self.ws]

    @staticmethod
    def _find(starts, ranges, c):
        i = bisect.bisect_right(starts, c) - 1
        return ranges[i] if i >= 0 and ranges[i][0] <= c <= ranges[i][1] else None

    def category(self, ch: str):
        r = self._find(self.gc_start, self.gc, ord(ch))
        return r[2] if r else None

    def default_ignorable(self, ch: str) -> bool:
        return self._find(self.di_start, self.di, ord(ch)) is not None

    def white_space(self, ch: str) -> bool:
        return self._find(self.ws_start, self.ws, ord(ch)) is not None


_NAMES: list = []


def names_data() -> _NamesData:
    """The pinned data (§4.1), read once from schemas/unicode/ and checked against its SHA-256."""
    if not _NAMES:
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.join(here, "..", "..", "schemas", "unicode", NAMES_DATA)
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as e:
            raise Usage(f"{path}: {e.strerror}") from None
        if hashlib.sha256(raw).hexdigest() != NAMES_DATA_SHA256:
            raise Usage(f"{path}: SHA-256 is not the one §4.1 records")
        _NAMES.append(_NamesData(raw.decode("ascii")))
    return _NAMES[0]


def check_registered_name(name: str) -> None:
    """§4.1 refusal rules (version 2); raises NameRefused naming the first offending code point."""
    d = names_data()
    # Unassigned code points first, on the name as given: NFC of a later Unicode version could
    # otherwise turn them into something else.
    for i, ch in enumerate(name, 1):
        if d.category(ch) == "Cn":
            raise NameRefused("unassigned", ch, i)
    n = unicodedata.normalize("NFC", name)
    if not n:
        raise NameRefused("empty")
    prev_space = False
    for i, ch in enumerate(n, 1):
        if ch == " ":
            if i == 1 or i == len(n):
                raise NameRefused("space-at-edge", ch, i)
            if prev_space:
                raise NameRefused("double-space", ch, i)
            prev_space = True
            continue
        prev_space = False
        cat = d.category(ch)
        if cat == "Cn":
            raise NameRefused("unassigned", ch, i)
        if cat in ("Co", "Cs"):
            raise NameRefused("private-use", ch, i)
        if cat == "Cc":
            raise NameRefused("control", ch, i)
        if d.default_ignorable(ch):
            raise NameRefused("default-ignorable", ch, i)
        if cat == "Cf":
            raise NameRefused("format", ch, i)
        if d.white_space(ch) or cat == "Zs" or ch == _BRAILLE_PATTERN_BLANK:
            raise NameRefused("space", ch, i)


def nfkc_casefold(s: str) -> str:
    """toNFKC_Casefold(NFD(s)) with the pinned NFKC_CF mapping, then NFC (§4.1)."""
    m = names_data().nfkc_cf
    x = "".join(m.get(ord(ch), ch) for ch in unicodedata.normalize("NFD", s))
    return unicodedata.normalize("NFC", x)


def skeleton(s: str) -> str:
    """UTS #39 §4 skeleton with the pinned confusables.txt: NFD, map, NFD (§4.1)."""
    m = names_data().confusable
    x = "".join(m.get(ord(ch), ch) for ch in unicodedata.normalize("NFD", s))
    return unicodedata.normalize("NFD", x)


def _key_rounds(x: str) -> str:
    for _ in range(KEY_ROUNDS):
        x = skeleton(nfkc_casefold(x))
    return x


def comparison_key(name: str) -> str:
    """§4.1 comparison key of a version-2 name: the refusal rules, then KEY_ROUNDS rounds of
    skeleton(toNFKC_Casefold(...)) from NFC(name)."""
    check_registered_name(name)
    return _key_rounds(unicodedata.normalize("NFC", name))


def comparison_key_v1(name: str) -> str | None:
    """§4.1 key recorded for a version-1 registration: no refusal rules; None if the name has
    a code point unassigned in Unicode 14.0.0."""
    d = names_data()
    n = unicodedata.normalize("NFC", name)
    if any(d.category(ch) == "Cn" for ch in name + n):
        return None
    return _key_rounds(n)


def names_selftest() -> int:
    """The §4.1 functions on known cases (the look-alikes of issue 10); exit code 0 if right."""
    failures = []

    def expect(cond, what):
        if not cond:
            failures.append(what)

    def rule_of(name):
        try:
            check_registered_name(name)
            return None
        except NameRefused as e:
            return (e.rule, e.code_point and ord(e.code_point), e.position)

    original = comparison_key("Contoso Ltd")
    expect(original == "contoso ltd", f"key of 'Contoso Ltd' is {original!r}")
    for name, rule, cp, pos in [
        ("Contoso\u200b Ltd", "default-ignorable", 0x200B, 8),
        ("Cont\u200doso Ltd", "default-ignorable", 0x200D, 5),
        ("Contoso\u2060 Ltd", "default-ignorable", 0x2060, 8),
        ("\ufeffContoso Ltd", "default-ignorable", 0xFEFF, 1),
        ("Con\u00adtoso Ltd", "default-ignorable", 0xAD, 4),
        ("Contoso L\u034ftd", "default-ignorable", 0x34F, 10),
        ("Contoso\u180e Ltd", "default-ignorable", 0x180E, 8),
        ("Contoso Ltd\U000e0020", "default-ignorable", 0xE0020, 12),
        ("Contoso\u3164Ltd", "default-ignorable", 0x3164, 8),
        ("Contoso\u00a0Ltd", "space", 0xA0, 8),
        ("Contoso\u3000Ltd", "space", 0x3000, 8),
        ("Contoso\u202fLtd", "space", 0x202F, 8),
        ("Contoso\u2800Ltd", "space", 0x2800, 8),
        ("Contoso  Ltd", "double-space", 0x20, 9),
        (" Contoso Ltd", "space-at-edge", 0x20, 1),
        ("Contoso \U0001faf7", "unassigned", 0x1FAF7, 9),
        ("Contoso \ue000", "private-use", 0xE000, 9),
        ("Contoso\tLtd", "control", 0x9, 8),
        ("Contoso \u0600", "format", 0x600, 9),
    ]:
        got = rule_of(name)
        expect(got == (rule, cp, pos), f"{name!r}: {got}, expected {(rule, cp, pos)}")
    for name in [
        "\uff23\uff4f\uff4e\uff54\uff4f\uff53\uff4f \uff2c\uff54\uff44",  # fullwidth
        "\u0421ontoso Ltd",  # Cyrillic capital ES
        "Cont\u03bfso Ltd",  # Greek small omicron
        "C0NTOSO LTD",  # digit zero
        "\ua4da\ua4f3\ua4e0\ua4d4\ua4f3\ua4e2\ua4f3 \ua4e1\ua4d4\ua4d3",  # Lisu letters
        "Contoso 1td",
    ]:
        expect(rule_of(name) is None, f"{name!r} refused")
        expect(comparison_key(name) == original, f"{name!r}: key {comparison_key(name)!r}")
    for a, b in [("Acme", "Acne"), ("Contoso Ltd", "ContosoLtd"), ("Ørsted", "Orsted")]:
        expect(comparison_key(a) != comparison_key(b), f"{a!r} and {b!r} collide")
    for name in ["Société Générale", "日本電気株式会社", "أرامكو السعودية", "אל על", "Газпром"]:
        expect(rule_of(name) is None, f"{name!r} refused")
    expect(comparison_key_v1("Contoso\u200b Ltd") == original, "v1 key of a ZWSP name")
    expect(comparison_key_v1("Contoso \U0001faf7") is None, "v1 key of an unassigned name")
    for f in failures:
        print(f"FAIL: {f}", file=sys.stderr)
    print(f"names self-test: {'FAILED' if failures else 'ok'} ({len(failures)} failures)")
    return 1 if failures else 0


def names_compare(path: str) -> int:
    """Compares what accord computed (a JSON file written by tests/names_python.rs) with this
    file's own §4.1 functions, byte for byte; exit code 0 if all agree."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    d = names_data()
    bad = []
    if doc.get("data_sha256") != NAMES_DATA_SHA256:
        bad.append("accord used another data file")
    for name, key, rule, cp, pos, v1 in doc["cases"]:
        try:
            mine = (comparison_key(name), None, None, None)
        except NameRefused as e:
            mine = (None, e.rule, e.code_point and ord(e.code_point), e.position)
        if mine != (key, rule, cp, pos):
            bad.append(f"{name!r}: accord {(key, rule, cp, pos)}, here {mine}")
        if comparison_key_v1(name) != v1:
            bad.append(f"{name!r}: version-1 key: accord {v1!r}, here {comparison_key_v1(name)!r}")
    # Normalisation of every code point assigned in 14.0.0 (surrogates aside): accord listed
    # those its NFC, NFD or NFKC changes; the others must be unchanged here too.
    changed = {cp: forms for cp, *forms in doc["normalisation"]}
    n = 0
    for c in range(0x110000):
        ch = chr(c)
        if d.category(ch) in ("Cn", "Cs"):
            continue
        n += 1
        want = changed.get(c, [ch, ch, ch])
        here = [unicodedata.normalize(f, ch) for f in ("NFC", "NFD", "NFKC")]
        if here != want:
            bad.append(f"U+{c:04X}: NFC/NFD/NFKC accord {want!r}, here {here!r}")
    for b in bad[:50]:
        print(f"DIFFERENT: {b}", file=sys.stderr)
    print(
        f"names compare: {len(doc['cases'])} names and the normalisation of {n} code points, "
        f"{len(bad)} differences (Python's Unicode {UNICODE})"
    )
    return 1 if bad else 0


def b64_canonical(s: str, what: str) -> bytes:
    """Standard alphabet with padding, canonical (re-encoding gives the same text)."""
    if type(s) is not str:
        raise Invalid(f"{what}: not base64 text")
    try:
        raw = base64.b64decode(s.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise Invalid(f"{what}: not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != s:
        raise Invalid(f"{what}: base64 is not canonical")
    return raw


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def hex32(s, what) -> bytes:
    if type(s) is not str or not _HEX64.match(s):
        raise Invalid(f"{what}: not 64 lowercase hex digits")
    return bytes.fromhex(s)


# ---------------------------------------------------------------------------------------------
# Statements (§3, §4)

KINDS = ("registration", "attestation", "withdrawal", "rotation", "revocation", "recovery")
CT_PREFIX = "application/vnd.accord."
CT_SUFFIX = "+cbor"
MAX_STATEMENT = 65_000
MAX_PROTECTED = 1_024


class Statement:
    def __init__(self):
        self.raw = b""
        self.id = b""
        self.kid = b""
        self.iss = ""
        self.iat = 0
        self.kind = ""
        self.payload: dict = {}
        self.signature = b""
        self.tbs = b""
        self.acceptance: Statement | None = None

    def verify_with(self, key: bytes) -> bool:
        return ed25519_verify(key, self.tbs, self.signature)


def _cbor_bstr_head(n: int) -> bytes:
    if n < 24:
        return bytes([0x40 | n])
    if n < 0x100:
        return bytes([0x58, n])
    if n < 0x10000:
        return bytes([0x59]) + n.to_bytes(2, "big")
    if n < 0x100000000:
        return bytes([0x5A]) + n.to_bytes(4, "big")
    return bytes([0x5B]) + n.to_bytes(8, "big")


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """§3: 0x84 0x6a "Signature1" <bstr protected> 0x40 <bstr payload>."""
    return (
        b"\x84\x6aSignature1"
        + _cbor_bstr_head(len(protected))
        + protected
        + b"\x40"
        + _cbor_bstr_head(len(payload))
        + payload
    )


def decode_statement(raw: bytes, nested: bool = False) -> Statement:
    """Decodes and checks a statement strictly (§3-§4). Signatures are not checked here,
    except the nested acceptance of a rotation (§4.5)."""
    if len(raw) > MAX_STATEMENT:
        raise Invalid(f"statement of {len(raw)} bytes, more than {MAX_STATEMENT}")
    top = cbor_decode(raw)
    if not isinstance(top, Tag) or top.tag != 18:
        raise Invalid("statement: not a COSE_Sign1 (tag 18)")
    arr = top.value
    if type(arr) is not list or len(arr) != 4:
        raise Invalid("statement: COSE_Sign1 is not a 4-element array")
    protected, unprotected, payload, signature = arr
    if type(protected) is not bytes:
        raise Invalid("statement: protected header is not a byte string")
    if len(protected) > MAX_PROTECTED:
        raise Invalid("statement: protected header longer than 1,024 bytes")
    if type(unprotected) is not dict or unprotected:
        raise Invalid("statement: unprotected header must be the empty map")
    if type(payload) is not bytes:
        raise Invalid("statement: payload is not an attached byte string")
    if type(signature) is not bytes or len(signature) != 64:
        raise Invalid("statement: signature is not 64 bytes")

    hdr = cbor_decode(protected)
    want_map(
        hdr,
        "protected header",
        {1: t_const(-8), 3: t_text, 4: t_bytes(32), 15: t_any},
    )
    claims = want_map(hdr[15], "CWT claims", {1: t_text, 6: t_int})

    st = Statement()
    st.raw = raw
    st.id = sha256(raw)
    st.kid = hdr[4]
    st.iss = claims[1]
    st.iat = claims[6]
    st.signature = signature
    st.tbs = sig_structure(protected, payload)

    p = cbor_decode(payload)
    if type(p) is not dict:
        raise Invalid("payload: not a map")
    kind = p.get("kind")
    allowed = ("acceptance",) if nested else KINDS
    if kind == "acceptance" and not nested:
        raise Invalid("an acceptance appended on its own is refused")
    if kind not in allowed:
        raise Invalid(f"payload: kind {kind!r} not allowed here")
    st.kind = kind
    if hdr[3] != CT_PREFIX + kind + CT_SUFFIX:
        raise Invalid(f"protected header: content type {hdr[3]!r} does not match kind {kind!r}")

    common = {
        "v": t_const(1),
        "kind": t_text,
        "origin": t_text,
        "iat": t_int,
        "nonce": t_bytes(16),
    }
    b32 = t_bytes(32)
    if kind == "registration":
        req = {"name": t_text, "key": b32}
        opt = {"domain": t_text, "contact": t_text, "recovery": b32}
    elif kind == "attestation":
        req = {"catalogue": t_uint, "norms": t_array, "scope": t_array}
        opt = {"expires": t_int, "note": t_text, "supersedes": b32}
    elif kind == "withdrawal":
        req = {"target": b32, "reason": t_text}
        opt = {}
    elif kind == "acceptance":
        req = {"key": b32, "replaces": b32}
        opt = {}
    elif kind == "rotation":
        req = {"acceptance": t_bytes()}
        opt = {}
    elif kind == "revocation":
        req = {"target": b32, "reason": t_text}
        opt = {}
    else:  # recovery
        req = {"recovery_key": b32, "new_key": b32, "next_recovery": b32, "reason": t_text}
        opt = {"compromised_since": t_int}
    want_map(p, f"{kind} payload", {**common, **req}, opt)
    st.payload = p
    check_origin(p["origin"], "payload origin")
    if p["iat"] != st.iat:
        raise Invalid("payload iat differs from the CWT claims iat")

    # iss is the normalised name of the organisation (at most 128 bytes, no control chars).
    if type(st.iss) is not str:
        raise Invalid("iss is not text")
    if normalise(st.iss, "iss") != st.iss:
        if not unassigned(st.iss):
            raise Invalid(f"iss {st.iss!r} is not a normalised organisation name")
        warn(f"iss {st.iss!r} has code points unassigned in Unicode {UNICODE}: "
             "its normalisation is not checked")

    if kind == "registration":
        name = p["name"]
        check_text(name, "name")
        if normalise(name) != st.iss or unicodedata.normalize("NFC", name) != name:
            if not unassigned(name):
                if unicodedata.normalize("NFC", name) != name:
                    raise Invalid("registration: name is not in Unicode NFC")
                raise Invalid("registration: iss is not normalise(name)")
            warn(f"name {name!r} has code points unassigned in Unicode {UNICODE}: "
                 "iss = normalise(name) is not checked")
        if sha256(p["key"]) != st.kid:
            raise Invalid("registration: kid is not SHA-256(key)")
        if not ed25519_key_ok(p["key"]):
            raise Invalid("registration: key is not an acceptable Ed25519 public key")
        if "domain" in p:
            check_domain(p["domain"], "domain")
        if "contact" in p:
            check_contact(p["contact"], "contact")
    elif kind == "attestation":
        norms = p["norms"]
        if not 1 <= len(norms) <= 32:
            raise Invalid("attestation: 1 to 32 norms required")
        prev = None
        for i, n in enumerate(norms):
            want_map(n, f"norms[{i}]", {"id": check_norm_id, "sha256": b32})
            nid = n["id"].encode("utf-8")
            if prev is not None and nid <= prev:
                raise Invalid("attestation: norms not sorted by id or repeated")
            prev = nid
        scope = p["scope"]
        if not 1 <= len(scope) <= 64:
            raise Invalid("attestation: 1 to 64 scope items required")
        seen = set()
        for i, s in enumerate(scope):
            t_text(s, f"scope[{i}]")
            check_text(s, f"scope[{i}]")
            if not s.strip():
                raise Invalid(f"attestation: scope[{i}] is blank")
            if s in seen:
                raise Invalid(f"attestation: scope item {s!r} repeated")
            seen.add(s)
        if "expires" in p and not p["expires"] > st.iat:
            raise Invalid("attestation: expires is not after iat")
        if "note" in p:
            check_text(p["note"], "note", allow_lf=True)
    elif kind in ("withdrawal", "revocation"):
        check_text(p["reason"], "reason", allow_lf=True)
    elif kind == "acceptance":
        if sha256(p["key"]) != st.kid:
            raise Invalid("acceptance: kid is not SHA-256(key)")
    elif kind == "rotation":
        try:
            acc = decode_statement(p["acceptance"], nested=True)
        except Invalid as e:
            raise Invalid(f"rotation: nested acceptance: {e}") from None
        if acc.iss != st.iss or acc.payload["origin"] != p["origin"]:
            raise Invalid("rotation: acceptance has another iss or origin")
        if acc.payload["replaces"] != st.kid:
            raise Invalid("rotation: acceptance does not replace the rotation's signing key")
        if acc.kid == st.kid:
            raise Invalid("rotation: acceptance installs the same key")
        if not acc.verify_with(acc.payload["key"]):
            raise Invalid("rotation: acceptance signature does not verify with its key")
        st.acceptance = acc
    elif kind == "recovery":
        check_text(p["reason"], "reason", allow_lf=True)
        if sha256(p["recovery_key"]) != st.kid:
            raise Invalid("recovery: kid is not SHA-256(recovery_key)")
        if not ed25519_key_ok(p["new_key"]):
            raise Invalid("recovery: new_key is not an acceptable Ed25519 public key")
        if p["new_key"] == p["recovery_key"]:
            raise Invalid("recovery: the new key must not be the recovery key")
        # §4.7: next_recovery MUST differ from SHA-256 of recovery_key and of new_key (every
        # rules version: the rule is not marked (v2)).
        if p["next_recovery"] == st.kid:
            raise Invalid("recovery: next_recovery commits to the recovery key being used")
        if p["next_recovery"] == sha256(p["new_key"]):
            raise Invalid("recovery: next_recovery commits to the new key")
        if "compromised_since" in p and p["compromised_since"] > st.iat:
            raise Invalid("recovery: compromised_since is after iat")
    return st


# ---------------------------------------------------------------------------------------------
# Entries and the Merkle tree (§5)

MAX_ENTRY = 65_535
ZERO32 = bytes(32)


class Entry:
    def __init__(self, raw, version, index, prev, logged_at, statement):
        self.raw = raw
        self.version = version
        self.index = index
        self.prev = prev
        self.logged_at = logged_at
        self.statement = statement
        self.state = None  # the state-map root (§5, §18), version 3 only
        self.leaf = leaf_hash(raw)


def decode_entry(raw: bytes) -> Entry:
    if len(raw) > MAX_ENTRY:
        raise Invalid(f"entry of {len(raw)} bytes, more than {MAX_ENTRY}")
    m = cbor_decode(raw)
    want_map(
        m,
        "entry",
        {
            "v": t_uint,
            "index": t_uint,
            "prev": t_bytes(32),
            "logged_at": t_int,
            "statement": t_bytes(),
        },
        {"state": t_bytes(32)},
    )
    if m["v"] not in (1, 2, 3):
        raise Invalid(f"unsupported entry version {m['v']} (§5: 1, 2 or 3)")
    if "state" in m and m["v"] < 3:
        raise Invalid(f"state field in a version-{m['v']} entry (§5: version 3 only)")
    e = Entry(raw, m["v"], m["index"], m["prev"], m["logged_at"], m["statement"])
    e.state = m.get("state")
    return e


def leaf_hash(entry: bytes) -> bytes:
    return sha256(b"\x00" + entry)


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


class TreeBuilder:
    """Streaming RFC 9162 MTH: a stack of perfect subtrees."""

    def __init__(self):
        self.stack: list[tuple[int, bytes]] = []
        self.size = 0
        # The root of every full 256-leaf subtree, in order (what level-1 hash tiles hold).
        self.tile_roots: list[bytes] = []

    def push(self, leaf: bytes):
        size, h = 1, leaf
        while self.stack and self.stack[-1][0] == size:
            s, left = self.stack.pop()
            h = node_hash(left, h)
            size += s
            if size == 256:
                self.tile_roots.append(h)
        self.stack.append((size, h))
        self.size += 1

    def root(self) -> bytes:
        if not self.stack:
            return sha256(b"")
        h = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            h = node_hash(left, h)
        return h


def verify_inclusion(leaf: bytes, index: int, size: int, path: list, root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if index >= size or len(leaf) != 32 or len(root) != 32:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root, second_root, path: list) -> bool:
    """RFC 9162 §2.1.4.2 (first >= 1)."""
    if first < 1 or first > second:
        return False
    if first == second:
        return not path and first_root == second_root
    if not path:
        return False
    path = list(path)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


# ---------------------------------------------------------------------------------------------
# Checkpoints and the ledger key (§6)

EM_DASH_SP = "\u2014 "
MAX_NOTE = 16 * 1024
MAX_SIG_LINES = 100


class VKey:
    def __init__(self, text: str):
        parts = text.strip("\n").split("+", 2)
        if len(parts) != 3:
            raise Usage(f"ledger key {text!r}: not <origin>+<hex id>+<base64>")
        name, hid, b64 = parts
        try:
            check_origin(name, "ledger key name")
            if not re.fullmatch(r"[0-9a-f]{8}", hid):
                raise Invalid("ledger key: key id is not 8 lowercase hex digits")
            raw = b64_canonical(b64, "ledger key")
            if len(raw) != 33 or raw[0] != 0x01:
                raise Invalid("ledger key: not 0x01 followed by a 32-byte Ed25519 key")
            if sha256(name.encode() + b"\n" + raw)[:4] != bytes.fromhex(hid):
                raise Invalid("ledger key: key id does not match the key")
            if not ed25519_key_ok(raw[1:]):
                raise Invalid("ledger key: not an acceptable Ed25519 public key")
        except Invalid as e:
            raise Usage(str(e)) from None
        self.name = name
        self.id = bytes.fromhex(hid)
        self.key = raw[1:]
        self.text = text


class Checkpoint:
    def __init__(self, origin, size, root, note):
        self.origin = origin
        self.size = size
        self.root = root
        self.note = note


def open_checkpoint(note: bytes, vkey: VKey, what="checkpoint") -> Checkpoint:
    """Opens a C2SP signed note holding a tlog-checkpoint, as §6 requires."""
    if len(note) > MAX_NOTE:
        raise Invalid(f"{what}: note larger than 16 KiB")
    try:
        text = note.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid(f"{what}: note is not UTF-8") from None
    if any(is_control(ch) and ch != "\n" for ch in text):
        raise Invalid(f"{what}: note contains a control character other than LF")
    split = text.rfind("\n\n")
    if split < 0:
        raise Invalid(f"{what}: note has no signature block")
    body, sigs = text[: split + 1], text[split + 2 :]
    if not sigs.endswith("\n"):
        raise Invalid(f"{what}: note does not end with a newline after its last signature")
    lines = sigs[:-1].split("\n")
    if len(lines) > MAX_SIG_LINES:
        raise Invalid(f"{what}: more than {MAX_SIG_LINES} signature lines")
    verified = False
    for line in lines:
        if not line.startswith(EM_DASH_SP):
            raise Invalid(f"{what}: malformed signature line {line!r}")
        rest = line[len(EM_DASH_SP) :].split(" ")
        if len(rest) != 2 or not rest[0] or "+" in rest[0]:
            raise Invalid(f"{what}: malformed signature line {line!r}")
        name, b64 = rest
        sig = b64_canonical(b64, f"{what}: signature line")
        if len(sig) < 5:
            raise Invalid(f"{what}: signature line shorter than 5 bytes")
        if name == vkey.name and sig[:4] == vkey.id:
            if len(sig) != 68 or not ed25519_verify(vkey.key, body.encode("utf-8"), sig[4:]):
                raise Invalid(f"{what}: the ledger key's signature does not verify")
            verified = True
    if not verified:
        raise Invalid(f"{what}: no signature by the ledger key {vkey.name}+{vkey.id.hex()}")
    blines = body.split("\n")
    if len(blines) != 4 or blines[3] != "":
        raise Invalid(f"{what}: checkpoint text must be exactly three lines")
    origin, size_s, root_s = blines[:3]
    if origin != vkey.name:
        raise Invalid(f"{what}: origin {origin!r} is not the ledger key's {vkey.name!r}")
    if not re.fullmatch(r"0|[1-9][0-9]*", size_s) or int(size_s) > U64_MAX:
        raise Invalid(f"{what}: tree size {size_s!r} is not a decimal without leading zeros")
    root = b64_canonical(root_s, f"{what}: root")
    if len(root) != 32:
        raise Invalid(f"{what}: root is not 32 bytes")
    return Checkpoint(origin, int(size_s), root, note)


# ---------------------------------------------------------------------------------------------
# Norms catalogue


def load_catalogues(paths) -> dict:
    cats: dict[int, dict[str, bytes]] = {}
    for path in paths:
        try:
            with open(path, "rb") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            raise Usage(f"norms catalogue {path}: {e}") from None
        if doc.get("catalogue") != "accord-norms" or not is_int(doc.get("version")):
            raise Usage(f"{path}: not an accord norms catalogue")
        cats[doc["version"]] = {
            n["id"]: sha256(n["text"].encode("utf-8")) for n in doc["norms"]
        }
    return cats


def default_catalogues() -> list:
    here = os.path.dirname(os.path.abspath(__file__))
    d = os.path.join(here, "..", "..", "schemas")
    return [os.path.join(d, "norms-v1.json")]


# ---------------------------------------------------------------------------------------------
# Replaying the lifecycle rules (§7 step 3)


class KeyRec:
    def __init__(self, key, org, installed):
        self.key = key
        self.org = org
        self.installed = installed
        self.ended_index = None
        self.ended_time = None


class OrgRec:
    def __init__(self, reg_index, commitment):
        self.reg_index = reg_index
        self.commitment = commitment


class Replay:
    def __init__(self, catalogues):
        self.cats = catalogues
        self.keys: dict[bytes, KeyRec] = {}
        self.orgs: dict[str, OrgRec] = {}
        self.used_commitments: set[bytes] = set()
        self.live: dict[bytes, tuple[int, str]] = {}
        # attestation id -> index of its ender (the withdrawal or superseding attestation)
        self.ender: dict[bytes, int] = {}
        self.marks: list[tuple[int, int, set, str]] = []
        # org -> [(index, logged_at, kid, id of the attestation it ended or None)], for the
        # entries a compromise mark can cover: not registrations, not recoveries (see apply)
        self.history: dict[str, list] = {}
        self.untrusted_by: dict[int, int] = {}  # entry index -> recovery index
        self.name_keys: dict[str, tuple[int, str]] = {}  # §4.1 comparison key -> (index, name)
        self.index_of: dict[bytes, int] = {}  # statement id -> entry index
        self.expiry: dict[int, int] = {}  # attestation index -> expires
        self.logged: dict[int, int] = {}  # attestation index -> logged_at
        self.counts = {k: 0 for k in KINDS}
        # What the remembered replay state (§11.1) holds besides the above, kept so that the
        # `state` command can compare a state file with this replay:
        self.iss_of: dict[int, str] = {}  # entry index -> organisation
        self.kid_number: dict[bytes, int] = {}  # signing key ids, numbered by first use
        self.org_number: dict[str, int] = {}  # organisations, numbered by first use
        self.org_entries: dict[str, list] = {}  # organisation -> its entries' indexes
        self.norm_entries: dict[str, list] = {}  # norm id -> indexes of attestations citing it
        self.spent_by: dict[bytes, str] = {}  # used recovery commitment -> organisation
        # The live slots of the state map (§18.3): organisation -> attestation index per slot,
        # and attestation index -> its slot; what an entry changed, for the map (StateMap).
        self.slots: dict[str, list[int]] = {}
        self.slot_of: dict[int, int] = {}
        self.id_of: dict[int, bytes] = {}  # entry index -> statement id
        self.kind_of: dict[int, str] = {}  # entry index -> kind
        self.dirty_entries: set[int] = set()
        self.dirty_slots: set[tuple[str, int]] = set()
        self.dirty_names: set[str] = set()

    def live_enter(self, index: int, org: str):
        """§18.3: an attestation enters its organisation's live set: the next slot."""
        slots = self.slots.setdefault(org, [])
        self.slot_of[index] = len(slots)
        self.dirty_slots.add((org, len(slots)))
        slots.append(index)
        self.dirty_entries.add(index)

    def live_leave(self, index: int, org: str):
        """§18.3: an attestation leaves the live set: the last slot moves into its place."""
        slots = self.slots[org]
        s = self.slot_of.pop(index)
        last = len(slots) - 1
        if s != last:
            moved = slots[last]
            slots[s] = moved
            self.slot_of[moved] = s
            self.dirty_entries.add(moved)
            self.dirty_slots.add((org, s))
        slots.pop()
        self.dirty_slots.add((org, last))
        self.dirty_entries.add(index)

    def current_key(self, st: Statement) -> KeyRec:
        rec = self.keys.get(st.kid)
        if rec is None:
            raise Invalid(f"signed by key {st.kid.hex()}, which is not registered")
        if rec.org != st.iss:
            raise Invalid(f"signed by key {st.kid.hex()} of {rec.org!r}, not of {st.iss!r}")
        if rec.ended_index is not None:
            raise Invalid(
                f"signed by key {st.kid.hex()}, which stopped speaking for the organisation "
                f"at entry {rec.ended_index}"
            )
        return rec

    def check_norms(self, st: Statement):
        p = st.payload
        cat = self.cats.get(p["catalogue"])
        if cat is None:
            raise Invalid(f"unknown norms catalogue version {p['catalogue']}")
        for n in p["norms"]:
            h = cat.get(n["id"])
            if h is None:
                raise Invalid(f"norm {n['id']!r} is not in catalogue {p['catalogue']}")
            if h != n["sha256"]:
                raise Invalid(f"norm {n['id']!r}: text hash differs from the catalogue's")

    def check_installable(self, kid: bytes, version: int):
        """§7, installing a key: (v2) never a key a recovery revealed (a used commitment)."""
        if version >= 2 and kid in self.used_commitments:
            raise Invalid("installs a key used before as a recovery key (rules v2, §7)")

    def apply(self, index: int, logged_at: int, st: Statement, keys_only: bool = False, version: int = 1):
        """Applies one statement (§7 step 3). With keys_only, attestations and withdrawals
        are not expected (bundle key-history replay)."""
        p = st.payload
        kind = st.kind
        if kind == "registration":
            if st.iss in self.orgs:
                raise Invalid(f"organisation {st.iss!r} is already registered")
            if st.kid in self.keys:
                raise Invalid("this key is already registered")
            if version >= 2 and p.get("recovery") == st.kid:
                raise Invalid("registration commits to its own key as the recovery key (rules v2)")
            self.check_installable(st.kid, version)
            if version >= 2 and p.get("recovery") in self.keys:
                raise Invalid("recovery commitment to a key installed before (rules v2, §7)")
            if version >= 2:
                # §4.1, the ledger rule: refusal rules, then a key not recorded before.
                check_registered_name(p["name"])
                key = comparison_key(p["name"])
                if key in self.name_keys:
                    index0, name0 = self.name_keys[key]
                    raise Invalid(f"looks like {name0!r}, registered at entry {index0}")
            if not st.verify_with(p["key"]):
                raise Invalid("signature does not verify with the registered key")
            self.keys[st.kid] = KeyRec(p["key"], st.iss, index)
            self.orgs[st.iss] = OrgRec(index, p.get("recovery"))
            key1 = comparison_key_v1(p["name"])
            if key1 is not None and key1 not in self.name_keys:
                self.name_keys[key1] = (index, p["name"])
                self.dirty_names.add(key1)
        elif kind == "recovery":
            org = self.orgs.get(st.iss)
            if org is None:
                raise Invalid(f"organisation {st.iss!r} is not registered")
            c = sha256(p["recovery_key"])
            if c in self.used_commitments:
                raise Invalid("recovery key used before")
            if org.commitment is None:
                raise Invalid("organisation has no recovery commitment")
            if org.commitment != c:
                raise Invalid("recovery key does not match the organisation's commitment")
            new_kid = sha256(p["new_key"])
            if new_kid in self.keys:
                raise Invalid("new key is already registered")
            self.check_installable(new_kid, version)
            if version >= 2 and p["next_recovery"] in self.keys:
                raise Invalid("next_recovery commits to a key installed before (rules v2, §7)")
            t = p.get("compromised_since")
            if t is not None and t > logged_at:
                raise Invalid("compromised_since is after the entry's log time")
            if not st.verify_with(p["recovery_key"]):
                raise Invalid("signature does not verify with the recovery key")
            org_keys = [(k, r) for k, r in self.keys.items() if r.org == st.iss]
            if t is not None:
                marked = {
                    k for k, r in org_keys if r.ended_index is None or r.ended_time > t
                }
                self.marks.append((index, t, marked, st.iss))
                # §7 recovery steps 1 and 2: untrusted entries, and their effects void.
                # The registration and the recoveries are never in the history (§7, §8 step 7).
                covered = [
                    h for h in self.history.get(st.iss, [])
                    if h[0] < index and h[1] > t and h[2] in marked
                ]
                for h in covered:
                    self.untrusted_by.setdefault(h[0], index)
                    self.dirty_entries.add(h[0])
                # (covered is in index order: the attestations made live again enter the
                # live slots in the order of their enders' indexes, §18.3)
                for h in covered:
                    ended_id = h[3]
                    if ended_id is not None and self.ender.get(ended_id) == h[0]:
                        del self.ender[ended_id]
                        self.live[ended_id] = (self.index_of[ended_id], st.iss)
                        self.live_enter(self.index_of[ended_id], st.iss)
                covered_idx = {h[0] for h in covered}
                for _, r in org_keys:
                    if r.ended_index in covered_idx:
                        r.ended_index, r.ended_time = None, None
            for _, r in org_keys:
                if r.ended_index is None:
                    r.ended_index, r.ended_time = index, logged_at
            self.keys[new_kid] = KeyRec(p["new_key"], st.iss, index)
            self.used_commitments.add(c)
            self.spent_by[c] = st.iss
            org.commitment = p["next_recovery"]
        else:
            signer = self.current_key(st)
            if not st.verify_with(signer.key):
                raise Invalid("signature does not verify")
            if kind == "attestation":
                if keys_only:
                    raise Invalid("attestation in key history")
                self.check_norms(st)
                sup = p.get("supersedes")
                if sup is not None:
                    tgt = self.live.get(sup)
                    if tgt is None or tgt[1] != st.iss:
                        raise Invalid(
                            f"supersedes {sup.hex()}, not a live attestation of {st.iss!r}"
                        )
                    del self.live[sup]
                    self.ender[sup] = index
                    self.live_leave(tgt[0], st.iss)
                self.live[st.id] = (index, st.iss)
                self.live_enter(index, st.iss)
                self.logged[index] = logged_at
                if p.get("expires") is not None:
                    self.expiry[index] = p["expires"]
            elif kind == "withdrawal":
                if keys_only:
                    raise Invalid("withdrawal in key history")
                tgt = self.live.get(p["target"])
                if tgt is None or tgt[1] != st.iss:
                    raise Invalid(
                        f"withdraws {p['target'].hex()}, not a live attestation of {st.iss!r}"
                    )
                del self.live[p["target"]]
                self.ender[p["target"]] = index
                self.live_leave(tgt[0], st.iss)
            elif kind == "rotation":
                acc = st.acceptance
                if acc.kid in self.keys:
                    raise Invalid("rotation installs a key already registered")
                self.check_installable(acc.kid, version)
                if version >= 2 and self.orgs[st.iss].commitment == acc.kid:
                    raise Invalid("rotation installs the committed recovery key (rules v2)")
                signer.ended_index, signer.ended_time = index, logged_at
                self.keys[acc.kid] = KeyRec(acc.payload["key"], st.iss, index)
            elif kind == "revocation":
                tgt = self.keys.get(p["target"])
                if tgt is None or tgt.org != st.iss or tgt.ended_index is not None:
                    raise Invalid(
                        f"revokes {p['target'].hex()}, not a current key of {st.iss!r}"
                    )
                if tgt is not signer and not tgt.installed < signer.installed:
                    raise Invalid("revokes a key installed after the signing key")
                tgt.ended_index, tgt.ended_time = index, logged_at
        self.counts[kind] += 1
        self.index_of[st.id] = index
        self.id_of[index] = st.id
        self.kind_of[index] = kind
        self.dirty_entries.add(index)
        self.iss_of[index] = st.iss
        self.kid_number.setdefault(st.kid, len(self.kid_number))
        self.org_number.setdefault(st.iss, len(self.org_number))
        self.org_entries.setdefault(st.iss, []).append(index)
        if kind == "attestation":
            for n in p["norms"]:
                self.norm_entries.setdefault(n["id"], []).append(index)
        # The history a later compromise mark can cover (§7 step 1). A registration never
        # becomes untrusted (§7: its recovery commitment authorises the recovery), and neither
        # does a recovery (§8 step 7: "a registration or a recovery is never untrusted"; each
        # recovery sets the commitment that authorises the next). §7 step 1 names only the
        # registration; a recovery's kid is in K only when its recovery key is also one of the
        # organisation's signing keys (e.g. a next_recovery committing to an ended key), and
        # the two sections then disagree: this verifier follows §8.
        if kind in ("registration", "recovery"):
            return
        ended = None
        if kind == "withdrawal":
            ended = p["target"]
        elif kind == "attestation":
            ended = p.get("supersedes")
        self.history.setdefault(st.iss, []).append((index, logged_at, st.kid, ended, kind))

    def untrusted(self) -> list:
        return sorted(self.untrusted_by)


# ---------------------------------------------------------------------------------------------
# Deterministic CBOR encoding (§1), for the state map's keys and values (§18.2)


def _cbor_head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([(major << 5) | n])
    for ai, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([(major << 5) | ai]) + n.to_bytes(size, "big")
    raise ValueError("integer too large for CBOR")


def cbor_encode(v) -> bytes:
    """Core deterministic encoding (§1) of unsigned ints, text, bytes, lists and maps (keys
    sorted by the bytewise order of their encodings)."""
    if type(v) is int:
        if v < 0:
            return _cbor_head(1, -1 - v)
        return _cbor_head(0, v)
    if type(v) is bytes:
        return _cbor_head(2, len(v)) + v
    if type(v) is str:
        b = v.encode("utf-8")
        return _cbor_head(3, len(b)) + b
    if type(v) in (list, tuple):
        return _cbor_head(4, len(v)) + b"".join(cbor_encode(x) for x in v)
    if type(v) is dict:
        items = sorted((cbor_encode(k), cbor_encode(x)) for k, x in v.items())
        return _cbor_head(5, len(items)) + b"".join(k + x for k, x in items)
    raise ValueError(f"cannot encode {type(v).__name__}")


# ---------------------------------------------------------------------------------------------
# The state map (§18): a compressed binary sparse Merkle tree over the replay's state


def map_key(*parts) -> bytes:
    """§18.2: a key is SHA-256 of the deterministic CBOR of an array naming it."""
    return sha256(cbor_encode(list(parts)))


def map_leaf(key: bytes, value: bytes) -> bytes:
    return sha256(b"\x02" + key + sha256(value))


def map_root(items: list) -> bytes:
    """§18.1: the root over [(key as int, leaf hash)] sorted by key."""
    ints = [k for k, _ in items]

    def sub(lo: int, hi: int, depth: int) -> bytes:
        if lo == hi:
            return ZERO32
        if hi - lo == 1:
            return items[lo][1]
        shift = 255 - depth
        # the first key of the range whose bit `depth` is 1 (all share the first depth bits)
        split = ((ints[lo] >> (shift + 1)) << (shift + 1)) | (1 << shift)
        mid = bisect.bisect_left(ints, split, lo, hi)
        return sha256(b"\x03" + sub(lo, mid, depth + 1) + sub(mid, hi, depth + 1))

    return sub(0, len(items), 0)


class StateMap:
    """The state map of §18.2, kept alongside a Replay as §18.3 says: after each entry the
    values of what that entry changed are recomputed from the replay's state."""

    def __init__(self):
        self.values: dict[bytes, bytes] = {}  # key -> value (CBOR)
        self.leaves: dict[bytes, bytes] = {}  # key -> leaf hash
        self.live_count: dict[str, int] = {}

    def put(self, key: bytes, value: bytes | None):
        if value is None:
            self.values.pop(key, None)
            self.leaves.pop(key, None)
        elif self.values.get(key) != value:
            self.values[key] = value
            self.leaves[key] = map_leaf(key, value)

    @staticmethod
    def entry_value(rp: Replay, i: int) -> bytes:
        kind = rp.kind_of[i]
        v = {"id": rp.id_of[i], "kind": kind}
        slot = rp.slot_of.get(i)
        if i in rp.untrusted_by:
            v["standing"], v["by"] = "untrusted", rp.untrusted_by[i]
        elif kind != "attestation":
            v["standing"] = "recorded"
        elif slot is not None:
            v["standing"] = "live"
        else:
            by = rp.ender.get(rp.id_of[i])
            if by is None:
                raise Invalid(f"state map: attestation at entry {i} is neither live nor ended")
            v["standing"] = "withdrawn" if rp.kind_of[by] == "withdrawal" else "superseded"
            v["by"] = by
        if slot is not None:
            v["slot"] = slot
        return cbor_encode(v)

    def update(self, rp: Replay, iss: str):
        """Applies what the last entry (of organisation iss) changed, then clears the marks."""
        for i in rp.dirty_entries:
            self.put(map_key("entry", i), self.entry_value(rp, i))
        org = rp.orgs.get(iss)
        if org is not None:
            keys = []
            for kid, r in rp.keys.items():
                if r.org != iss:
                    continue
                kv = {"org": iss, "key": r.key, "installed": r.installed}
                if r.ended_index is not None:
                    kv["ended"] = r.ended_index
                self.put(map_key("key", kid), cbor_encode(kv))
                item = [kid, r.installed]
                if r.ended_index is not None:
                    item.append(r.ended_index)
                keys.append(item)
            keys.sort(key=lambda k: (k[1], k[0]))
            ov = {"registration": org.reg_index, "keys": keys, "live": len(rp.slots.get(iss, []))}
            if org.commitment is not None:
                ov["recovery"] = org.commitment
            self.put(map_key("org", iss), cbor_encode(ov))
        for o, s in rp.dirty_slots:
            slots = rp.slots.get(o, [])
            key = map_key("live", o, s)
            self.put(key, cbor_encode({"index": slots[s]}) if s < len(slots) else None)
        for n in rp.dirty_names:
            index, name = rp.name_keys[n]
            self.put(map_key("name", n), cbor_encode({"registration": index, "name": name}))
        rp.dirty_entries.clear()
        rp.dirty_slots.clear()
        rp.dirty_names.clear()

    def root(self) -> bytes:
        items = sorted((int.from_bytes(k, "big"), h) for k, h in self.leaves.items())
        return map_root(items)


# ---------------------------------------------------------------------------------------------
# Export files (§10, replayed as §7)

EXPORT_MAGIC = b"accord-export/1\n"
MAX_EXPORT_HEADER = 32 * 1024


def verify_export(data: bytes, vkey: VKey, cats, keep: dict | None = None) -> dict:
    """Verifies an export; with `keep`, also leaves there what the `state` command compares
    (the replay, the tree, the last entry's leaf hash, log time and rules version)."""
    if not data.startswith(EXPORT_MAGIC):
        raise Invalid("not an accord export (no 'accord-export/1' magic line)")
    pos = len(EXPORT_MAGIC)
    try:
        start, n = cbor_bstr_at(data, pos)
        if n > MAX_EXPORT_HEADER:
            raise Invalid("export header larger than 32 KiB")
        if start + n > len(data):
            raise Invalid("export header truncated")
        hdr = cbor_decode(data[start : start + n])
        want_map(
            hdr,
            "export header",
            {"v": t_const(1), "origin": t_text, "size": t_uint, "checkpoint": t_bytes()},
        )
        cp = open_checkpoint(hdr["checkpoint"], vkey)
        if cp.origin != hdr["origin"]:
            raise Invalid("header origin differs from its checkpoint's")
        if cp.size != hdr["size"]:
            raise Invalid(f"header size {hdr['size']} differs from its checkpoint's {cp.size}")
    except Invalid as e:
        raise Invalid(f"export header: {e}") from None
    pos = start + n
    origin, size = hdr["origin"], hdr["size"]

    replay = Replay(cats)
    smap = StateMap()
    last_entry = None
    tree = TreeBuilder()
    seen_ids: set[bytes] = set()
    prev_leaf = ZERO32
    prev_time = None
    prev_version = 1
    for i in range(size):
        nwarn = len(WARNINGS)
        try:
            if pos >= len(data):
                raise Invalid(f"file ends after {i} of {size} entries")
            start, n = cbor_bstr_at(data, pos)
            if n > MAX_ENTRY:
                raise Invalid(f"entry of {n} bytes, more than {MAX_ENTRY}")
            if start + n > len(data):
                raise Invalid("entry truncated")
            raw = data[start : start + n]
            pos = start + n
            e = decode_entry(raw)
            if e.index != i:
                raise Invalid(f"index field is {e.index}")
            if e.prev != prev_leaf:
                raise Invalid("prev is not the leaf hash of the previous entry (chain broken)")
            if prev_time is not None and e.logged_at < prev_time:
                raise Invalid("logged_at decreases")
            if e.version < prev_version:
                raise Invalid("entry version decreases along the chain (§5)")
            prev_version = e.version
            st = decode_statement(e.statement)
            if st.payload["origin"] != origin:
                raise Invalid(f"statement origin {st.payload['origin']!r} is not {origin!r}")
            if st.iat > e.logged_at + 600:
                raise Invalid("statement iat more than 600 s after logged_at")
            if st.id in seen_ids:
                raise Invalid(f"duplicate statement id {st.id.hex()}")
            seen_ids.add(st.id)
            replay.apply(i, e.logged_at, st, version=e.version)
            # §7 step 4, §18.3: the state map after this entry, and the root it commits to.
            smap.update(replay, st.iss)
            if e.state is not None:
                mine = smap.root()
                if mine != e.state:
                    raise Invalid(
                        f"state root {e.state.hex()} is not the state map's root after this "
                        f"entry ({mine.hex()}) (§18.3)"
                    )
            last_entry = e
        except Invalid as err:
            raise Invalid(f"entry {i}: {err}") from None
        for j in range(nwarn, len(WARNINGS)):
            WARNINGS[j] = f"entry {i}: {WARNINGS[j]}"
        tree.push(e.leaf)
        prev_leaf = e.leaf
        prev_time = e.logged_at
    if pos != len(data):
        raise Invalid(f"trailing data after the last entry ({len(data) - pos} bytes)")
    root = tree.root()
    if root != cp.root:
        raise Invalid(f"checkpoint {size}: root differs from the rebuilt Merkle root")
    # §7 step 5, §18.3: the last entry under a checkpoint commits to the state if version 3.
    if last_entry is not None and last_entry.version >= 3 and last_entry.state is None:
        raise Invalid(
            f"entry {size - 1}: version-3 entry ends checkpoint {size} but carries no state "
            f"root (§7 step 5, §18.3)"
        )
    if keep is not None:
        keep.update(
            replay=replay,
            tree=tree,
            root=root,
            last_leaf=prev_leaf,
            last_time=prev_time,
            last_version=prev_version,
            state_map=sorted(smap.values.items()),
            last_state=last_entry is not None and last_entry.state is not None,
        )
    c = replay.counts
    now = int(time.time())
    return {
        "ok": True,
        "origin": origin,
        "entries": size,
        "root": root.hex(),
        "organisations": len(replay.orgs),
        "registrations": c["registration"],
        "attestations": c["attestation"],
        "withdrawals": c["withdrawal"],
        # Live now, as §7 defines "live at time t" for t = now (whole seconds): in the live
        # set, logged at or before t, not untrusted, not expired (expires > t).
        "live_attestations": len(
            [
                v
                for v in replay.live.values()
                if v[0] not in replay.untrusted_by
                and replay.logged[v[0]] <= now
                and not (replay.expiry.get(v[0]) is not None and replay.expiry[v[0]] <= now)
            ]
        ),
        "rotations": c["rotation"],
        "revocations": c["revocation"],
        "recoveries": c["recovery"],
        "untrusted": replay.untrusted(),
        "warnings": list(WARNINGS),
    }


# ---------------------------------------------------------------------------------------------
# The remembered replay state (§11.1)

STATE_MAGIC = b"accord replay state\n"
STATE_VERSION = 2
# §11.1, the history: kinds are numbered in this order.
STATE_KINDS = (
    "registration",
    "attestation",
    "withdrawal",
    "acceptance",
    "rotation",
    "revocation",
    "recovery",
)
STATE_NAME = re.compile(r"replay-([0-9a-f]{64})\.state")

_SHA256_K = (
    0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
    0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
    0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
    0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
    0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
    0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
    0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
    0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
)
SHA256_IV = (
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
)
_M32 = 0xFFFFFFFF


def _rotr(x: int, n: int) -> int:
    return ((x >> n) | (x << (32 - n))) & _M32


def _sha256_compress(h: list, block: bytes) -> list:
    """One FIPS 180-4 §6.2.2 compression of a 64-byte block into the chaining value h."""
    w = [int.from_bytes(block[i : i + 4], "big") for i in range(0, 64, 4)]
    for t in range(16, 64):
        s0 = _rotr(w[t - 15], 7) ^ _rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
        s1 = _rotr(w[t - 2], 17) ^ _rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
        w.append((w[t - 16] + s0 + w[t - 7] + s1) & _M32)
    a, b, c, d, e, f, g, hh = h
    for t in range(64):
        t1 = (hh + (_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)) + ((e & f) ^ (~e & g))
              + _SHA256_K[t] + w[t]) & _M32
        t2 = ((_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) & _M32
        a, b, c, d, e, f, g, hh = (t1 + t2) & _M32, a, b, c, (d + t1) & _M32, e, f, g
    return [(x + y) & _M32 for x, y in zip(h, (a, b, c, d, e, f, g, hh))]


def sha256_finish(words, buffered: bytes, total: int) -> bytes:
    """The digest of a running SHA-256 saved as its chaining value `words` (after the
    complete 64-byte blocks), the `buffered` bytes of the incomplete block and the `total`
    number of bytes hashed: the standard padding (0x80, zeros, the bit length as a 64-bit
    big-endian integer) is appended to the buffered bytes and compressed."""
    tail = buffered + b"\x80" + bytes((55 - len(buffered)) % 64) + (total * 8).to_bytes(8, "big")
    h = list(words)
    for i in range(0, len(tail), 64):
        h = _sha256_compress(h, tail[i : i + 64])
    return b"".join(x.to_bytes(4, "big") for x in h)


def index_digest(indexes) -> bytes:
    """§11.1: SHA-256 of the ascending indexes, each as 8 bytes big-endian."""
    return sha256(b"".join(i.to_bytes(8, "big") for i in indexes))


class _StateReader:
    """Strict little-endian reads of a replay state: every length and count is bounded by
    the bytes left (a count by its smallest possible element), nothing is read past the end."""

    def __init__(self, data: bytes):
        self.d = data
        self.p = 0

    def left(self) -> int:
        return len(self.d) - self.p

    def take(self, n: int, what: str) -> bytes:
        if n > self.left():
            raise Invalid(f"{what}: needs {n} bytes at offset {self.p}, only {self.left()} left")
        b = self.d[self.p : self.p + n]
        self.p += n
        return b

    def u8(self, what):
        return self.take(1, what)[0]

    def u32(self, what):
        return int.from_bytes(self.take(4, what), "little")

    def u64(self, what):
        return int.from_bytes(self.take(8, what), "little")

    def i64(self, what):
        return int.from_bytes(self.take(8, what), "little", signed=True)

    def h32(self, what):
        return self.take(32, what)

    def blob(self, what):
        return self.take(self.u64(f"{what} length"), what)

    def string(self, what):
        try:
            return self.blob(what).decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid(f"{what}: not UTF-8") from None

    def option(self, what, read):
        flag = self.u8(f"{what} option")
        if flag == 0:
            return None
        if flag != 1:
            raise Invalid(f"{what}: option byte {flag}, not 0 or 1")
        return read()

    def count(self, what, smallest: int) -> int:
        n = self.u64(f"{what} count")
        if n * smallest > self.left():
            raise Invalid(
                f"{what}: count {n} needs at least {n * smallest} bytes, only {self.left()} left"
            )
        return n

    def items(self, what, smallest: int, read) -> list:
        return [read() for _ in range(self.count(what, smallest))]


def _ascending(items: list, key, what: str):
    """§11.1: each map is sorted by its key, so that one state has one encoding."""
    for a, b in zip(items, items[1:]):
        if not key(a) < key(b):
            raise Invalid(f"{what}: not in strictly ascending order of its key")


def parse_state(data: bytes) -> dict:
    """Decodes a replay state file exactly as §11.1 lays it out (raises Invalid)."""
    if not data.startswith(STATE_MAGIC):
        raise Invalid("not a replay state (no 'accord replay state' magic)")
    if len(data) < len(STATE_MAGIC) + 4 + 32:
        raise Invalid("shorter than its magic, version and digest")
    body, digest = data[:-32], data[-32:]
    r = _StateReader(body)
    r.take(len(STATE_MAGIC), "magic")
    version = r.u32("version")
    if version != STATE_VERSION:
        raise Invalid(f"version {version}, not {STATE_VERSION}")
    if sha256(body) != digest:
        raise Invalid("the trailing SHA-256 does not match the bytes before it")
    s: dict = {}
    s["origin"] = r.string("origin")
    s["note"] = r.blob("checkpoint note")
    s["size"] = r.u64("tree size")
    s["edge"] = r.items("tree edge", 33, lambda: (r.u8("edge level"), r.h32("edge root")))
    s["last_leaf"] = r.h32("last leaf hash")
    s["log_time"] = r.i64("log time")
    s["rules"] = r.u64("rules version")
    s["counts"] = {k: r.u64(f"{k} count") for k in KINDS}
    s["checkpoints"] = r.u64("checkpoints verified")
    s["tile_roots"] = r.items("tile roots", 32, lambda: r.h32("tile root"))

    s["keys"] = r.items(
        "keys",
        32 + 32 + 8 + 8 + 1,
        lambda: (
            r.h32("kid"),
            r.h32("public key"),
            r.u64("installing index"),
            r.string("key organisation"),
            r.option("key end", lambda: (r.u64("ended-at index"), r.i64("ended-at log time"))),
        ),
    )
    _ascending(s["keys"], lambda k: k[0], "keys")
    s["orgs"] = r.items(
        "organisations",
        8 + 8 + 1,
        lambda: (
            r.string("organisation"),
            r.u64("registration index"),
            r.option("recovery commitment", lambda: r.h32("recovery commitment")),
        ),
    )
    _ascending(s["orgs"], lambda o: o[0].encode(), "organisations")
    s["ids"] = r.items("statement ids", 32 + 8, lambda: (r.h32("statement id"), r.u64("index")))
    _ascending(s["ids"], lambda i: i[0], "statement ids")
    s["live"] = r.items(
        "live attestations",
        32 + 8 + 8,
        lambda: (r.h32("live id"), r.u64("live index"), r.string("live organisation")),
    )
    _ascending(s["live"], lambda a: a[0], "live attestations")
    s["ended"] = r.items(
        "ended attestations",
        8 + 8 + 32 + 8,
        lambda: (
            r.u64("ended index"),
            r.string("ended organisation"),
            r.h32("ended id"),
            r.u64("ender index"),
        ),
    )
    _ascending(s["ended"], lambda a: a[0], "ended attestations")
    s["untrusted"] = r.items(
        "untrusted entries", 16, lambda: (r.u64("untrusted index"), r.u64("recovery index"))
    )
    _ascending(s["untrusted"], lambda u: u[0], "untrusted entries")
    s["name_keys"] = r.items(
        "name comparison keys",
        8 + 8 + 8,
        lambda: (r.string("comparison key"), r.u64("registration index"), r.string("name")),
    )
    _ascending(s["name_keys"], lambda n: n[0].encode(), "name comparison keys")
    s["expiries"] = r.items("expiries", 16, lambda: (r.u64("expiry index"), r.i64("expires")))
    _ascending(s["expiries"], lambda e: e[0], "expiries")
    s["kid_numbers"] = r.items("key numbers", 32, lambda: r.h32("numbered kid"))
    if len(set(s["kid_numbers"])) != len(s["kid_numbers"]):
        raise Invalid("key numbers: a key id numbered twice")
    s["org_numbers"] = r.items("organisation numbers", 8, lambda: r.string("numbered organisation"))
    if len(set(s["org_numbers"])) != len(s["org_numbers"]):
        raise Invalid("organisation numbers: an organisation numbered twice")
    s["history"] = r.items(
        "history",
        8 + 8 + 8 + 4 + 4 + 1,
        lambda: (
            r.u64("history index"),
            r.i64("history log time"),
            r.u64("history ended index"),
            r.u32("history key number"),
            r.u32("history organisation number"),
            r.u8("history kind"),
        ),
    )
    _ascending(s["history"], lambda h: h[0], "history")
    for h in s["history"]:
        if h[3] >= len(s["kid_numbers"]) or h[4] >= len(s["org_numbers"]):
            raise Invalid(f"history of entry {h[0]}: key or organisation number out of range")
        if h[5] >= len(STATE_KINDS):
            raise Invalid(f"history of entry {h[0]}: kind {h[5]} out of range")
    s["spent"] = r.items(
        "spent recovery commitments",
        32 + 8,
        lambda: (r.h32("spent commitment"), r.string("spent organisation")),
    )
    _ascending(s["spent"], lambda c: c[0], "spent recovery commitments")

    def mark():
        org = r.string("mark organisation")
        at = r.u64("mark recovery index")
        since = r.i64("compromised-since")
        kids = r.items("mark key ids", 32, lambda: r.h32("mark key id"))
        _ascending(kids, lambda k: k, "key ids of a compromise mark")
        return (org, at, since, kids)

    s["marks"] = r.items("compromise marks", 8 + 8 + 8 + 8, mark)
    _ascending(s["marks"], lambda m: m[1], "compromise marks")
    s["norm_rows"] = r.u64("norm rows count")

    def digest_state(what):
        name = r.string(f"{what} name")
        words = [r.u32(f"{what} SHA-256 word") for _ in range(8)]
        n = r.u8(f"{what} buffered byte count")
        if n % 8 or n >= 64:
            raise Invalid(f"{what} {name!r}: buffered byte count {n}, not a multiple of 8 below 64")
        buffered = r.take(n, f"{what} buffered bytes")
        total = r.u64(f"{what} total byte count")
        if total % 64 != n:
            raise Invalid(f"{what} {name!r}: total {total} bytes does not leave {n} buffered")
        if total == n and words != list(SHA256_IV):
            raise Invalid(f"{what} {name!r}: no complete block hashed, yet not the initial state")
        return (name, words, buffered, total)

    smallest = 8 + 32 + 1 + 8
    s["org_digests"] = r.items("organisation index digests", smallest, lambda: digest_state("org"))
    _ascending(s["org_digests"], lambda d: d[0].encode(), "organisation index digests")
    s["norm_digests"] = r.items("norm index digests", smallest, lambda: digest_state("norm"))
    _ascending(s["norm_digests"], lambda d: d[0].encode(), "norm index digests")
    flag = r.u8("state flag")
    if flag not in (0, 1):
        raise Invalid(f"state flag {flag}, not 0 or 1")
    s["last_state"] = flag == 1
    s["state_map"] = r.items("state map values", 32 + 8, lambda: (r.h32("state map key"), r.blob("state map value")))
    _ascending(s["state_map"], lambda kv: kv[0], "state map values")
    for _, v in s["state_map"]:
        if len(v) > 65536:
            raise Invalid("a state map value is larger than 65,536 bytes")
    if r.left():
        raise Invalid(f"{r.left()} bytes left over after the last field")
    return s


def _first_difference(what: str, theirs: list, mine: list, show) -> str | None:
    """None if equal, else a message naming the first element that differs."""
    if theirs == mine:
        return None
    for i, (a, b) in enumerate(zip(theirs, mine)):
        if a != b:
            return f"{what}: element {i} is {show(a)} in the state, {show(b)} in the export"
    return f"{what}: {len(theirs)} in the state, {len(mine)} in the export"


def _show(v):
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, (tuple, list)):
        return "(" + ", ".join(_show(x) for x in v) + ")"
    return repr(v)


def check_state(data: bytes, vkey: VKey, name: str | None) -> tuple[dict, dict]:
    """The checks §11.1 makes on load that need no ledger; returns the parsed state and a
    summary (raises Invalid)."""
    if name is not None:
        m = STATE_NAME.fullmatch(name)
        want = sha256(vkey.text.strip("\n").encode()).hex()
        if m and m.group(1) != want:
            raise Invalid(f"file named for another ledger key (replay-{want}.state expected)")
    s = parse_state(data)
    cp = open_checkpoint(s["note"], vkey, "the state's checkpoint")
    if cp.origin != s["origin"]:
        raise Invalid(f"origin {s['origin']!r}, but its checkpoint's is {cp.origin!r}")
    size = s["size"]
    if cp.size != size:
        raise Invalid(f"tree size {size}, but its checkpoint's is {cp.size}")
    if size == 0:
        raise Invalid("a state of 0 entries (accord never keeps one)")
    levels = [lv for lv, _ in s["edge"]]
    want_levels = [b for b in range(63, -1, -1) if size >> b & 1]
    if levels != want_levels:
        raise Invalid(f"tree edge levels {levels} are not the bits of the size {size}")
    root = s["edge"][-1][1]
    for _, left in reversed(s["edge"][:-1]):
        root = node_hash(left, root)
    if root != cp.root:
        raise Invalid("the root of the tree edge is not its checkpoint's root")
    if size & 1 and s["edge"][-1][1] != s["last_leaf"]:
        raise Invalid("odd size, but the level-0 subtree of the edge is not the last leaf")
    if len(s["tile_roots"]) != size // 256:
        raise Invalid(f"{len(s['tile_roots'])} tile roots for {size} entries")
    start = 0
    for level, sub in s["edge"]:
        if level >= 8:
            layer = s["tile_roots"][start >> 8 : (start + (1 << level)) >> 8]
            while len(layer) > 1:
                layer = [node_hash(layer[i], layer[i + 1]) for i in range(0, len(layer), 2)]
            if layer[0] != sub:
                raise Invalid(f"the tile roots under the edge's subtree of level {level} do not make its root")
        start += 1 << level
    if s["rules"] not in (1, 2, 3):
        raise Invalid(f"rules version {s['rules']}")
    if len(s["ids"]) != size:
        raise Invalid(f"{len(s['ids'])} statement ids for {size} entries")
    if sum(s["counts"].values()) != size:
        raise Invalid(f"counts by kind add up to {sum(s['counts'].values())}, not {size}")
    if len(s["orgs"]) != s["counts"]["registration"]:
        raise Invalid("not one organisation per registration")
    if sum(d[3] // 8 for d in s["org_digests"]) != size:
        raise Invalid("the organisation index digests do not cover every entry once")
    if sum(d[3] // 8 for d in s["norm_digests"]) != s["norm_rows"]:
        raise Invalid("the norm index digests do not hold the norm rows count")
    summary = {
        "ok": True,
        "origin": s["origin"],
        "entries": size,
        "root": cp.root.hex(),
        "rules_version": s["rules"],
        "checkpoints_verified": s["checkpoints"],
        "organisations": len(s["orgs"]),
        **{("recoveries" if k == "recovery" else k + "s"): n for k, n in s["counts"].items()},
        "keys": len(s["keys"]),
        "statement_ids": len(s["ids"]),
        "live_set": len(s["live"]),
        "ended_attestations": len(s["ended"]),
        "untrusted": [u[0] for u in s["untrusted"]],
        "compromise_marks": len(s["marks"]),
        "norm_rows": s["norm_rows"],
        "org_index_digests": {
            d[0]: sha256_finish(d[1], d[2], d[3]).hex() for d in s["org_digests"]
        },
        "norm_index_digests": {
            d[0]: sha256_finish(d[1], d[2], d[3]).hex() for d in s["norm_digests"]
        },
    }
    return s, summary


def compare_state(s: dict, keep: dict) -> list:
    """Compares a parsed state with this verifier's own replay of an export of the same size
    (verify_export's `keep`); returns the differences, as messages."""
    rp: Replay = keep["replay"]
    tree: TreeBuilder = keep["tree"]
    out = []

    def same(what, theirs, mine, show=_show):
        d = _first_difference(what, theirs, mine, show)
        if d:
            out.append(d)

    if s["size"] != tree.size:
        return [f"tree size: {s['size']} in the state, {tree.size} in the export"]
    same("tree edge", s["edge"], [(n.bit_length() - 1, h) for n, h in tree.stack])
    same("last leaf hash", [s["last_leaf"]], [keep["last_leaf"]])
    same("tile roots", s["tile_roots"], tree.tile_roots)
    same("log time", [s["log_time"]], [keep["last_time"]])
    same("rules version", [s["rules"]], [keep["last_version"]])
    same("last entry's state root", [s["last_state"]], [keep["last_state"]])
    same("state map values", s["state_map"], keep["state_map"])
    same("counts by kind", list(s["counts"].items()), list(rp.counts.items()))
    same(
        "keys",
        s["keys"],
        sorted(
            (
                kid,
                k.key,
                k.installed,
                k.org,
                None if k.ended_index is None else (k.ended_index, k.ended_time),
            )
            for kid, k in rp.keys.items()
        ),
    )
    same(
        "organisations",
        s["orgs"],
        sorted(
            ((n, o.reg_index, o.commitment) for n, o in rp.orgs.items()),
            key=lambda o: o[0].encode(),
        ),
    )
    same("statement ids", s["ids"], sorted(rp.index_of.items()))
    same("live attestations", s["live"], sorted((i, v[0], v[1]) for i, v in rp.live.items()))
    same(
        "ended attestations",
        s["ended"],
        sorted((rp.index_of[i], rp.iss_of[rp.index_of[i]], i, e) for i, e in rp.ender.items()),
    )
    same("untrusted entries", s["untrusted"], sorted(rp.untrusted_by.items()))
    same(
        "name comparison keys",
        s["name_keys"],
        sorted(((k, v[0], v[1]) for k, v in rp.name_keys.items()), key=lambda n: n[0].encode()),
    )
    same("expiries", s["expiries"], sorted(rp.expiry.items()))
    same("key numbers", s["kid_numbers"], sorted(rp.kid_number, key=rp.kid_number.get))
    same("organisation numbers", s["org_numbers"], sorted(rp.org_number, key=rp.org_number.get))
    kind_code = {k: n for n, k in enumerate(STATE_KINDS)}
    same(
        "history",
        s["history"],
        sorted(
            (
                index,
                t,
                U64_MAX if ended is None else rp.index_of[ended],
                rp.kid_number[kid],
                rp.org_number[org],
                kind_code[kind],
            )
            for org, hs in rp.history.items()
            for index, t, kid, ended, kind in hs
        ),
    )
    same("spent recovery commitments", s["spent"], sorted(rp.spent_by.items()))
    same(
        "compromise marks",
        s["marks"],
        [(org, at, since, sorted(kids)) for at, since, kids, org in rp.marks],
    )
    same(
        "norm rows count",
        [s["norm_rows"]],
        [sum(len(v) for v in rp.norm_entries.values())],
    )
    for what, theirs, mine in (
        ("organisation index digests", s["org_digests"], rp.org_entries),
        ("norm index digests", s["norm_digests"], rp.norm_entries),
    ):
        same(
            what,
            [(d[0], d[3], sha256_finish(d[1], d[2], d[3])) for d in theirs],
            sorted(
                ((n, 8 * len(ix), index_digest(ix)) for n, ix in mine.items()),
                key=lambda d: d[0].encode(),
            ),
        )
    return out


def verify_state(path: str, vkey: VKey, export: str | None, cats) -> dict:
    s, summary = check_state(_read(path), vkey, os.path.basename(path))
    if export is not None:
        keep: dict = {}
        verify_export(_read(export), vkey, cats, keep)
        diffs = compare_state(s, keep)
        summary["export"] = {"entries": keep["tree"].size, "root": keep["root"].hex()}
        summary["differences"] = diffs
        if diffs:
            summary["ok"] = False
    return summary


# ---------------------------------------------------------------------------------------------
# Proof bundles (§8) and consistency files (§9)

MAX_PROOF = 256 * 1024
MAX_PATH = 128
MAX_HISTORY = 256


def _hash_list(v, what, from_hex: bool):
    if type(v) is not list:
        raise Invalid(f"{what}: not an array")
    if len(v) > MAX_PATH:
        raise Invalid(f"{what}: more than {MAX_PATH} hashes")
    out = []
    for i, h in enumerate(v):
        if from_hex:
            out.append(hex32(h, f"{what}[{i}]"))
        else:
            t_bytes(32)(h, f"{what}[{i}]")
            out.append(h)
    return out


def _json_pairs(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise Invalid(f"JSON: duplicate member {k!r}")
        d[k] = v
    return d


def _json_int(text: str) -> int:
    # §8: "JSON numbers are integers (no fraction or exponent)". Whether -0 is such an
    # integer (0) FORMAT.md does not say; it is refused here, the stricter reading.
    if text == "-0":
        raise Invalid("JSON: -0 is not an integer")
    return int(text)


def _json_uint(v, what):
    if not is_int(v) or v < 0 or v > U64_MAX:
        raise Invalid(f"{what}: not an unsigned integer")
    return v


def _note_text(v, what) -> bytes:
    if type(v) is not str:
        raise Invalid(f"{what}: not text")
    try:
        return v.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate escape (\ud800) is not Unicode text
        raise Invalid(f"{what}: not valid Unicode text") from None


def parse_proof(data: bytes) -> dict:
    """Returns a normalised dict: type, plus the bundle or consistency fields, bytes-valued."""
    if len(data) > MAX_PROOF:
        raise Invalid("proof file larger than 256 KiB")
    if data[:1] == b"{":  # §8: JSON iff the first byte is '{'; any other, CBOR
        try:
            doc = json.loads(
                data.decode("utf-8"), object_pairs_hook=_json_pairs, parse_int=_json_int
            )
        except (UnicodeDecodeError, ValueError) as e:
            raise Invalid(f"JSON proof: {e}") from None
        if type(doc) is not dict:
            raise Invalid("JSON proof: not an object")
        typ = doc.get("type")
        if typ == "inclusion":
            inc = {"leaf_index": t_any, "inclusion_path": t_any, "entry": t_any}
            want_map(
                doc,
                "JSON bundle",
                {
                    "format": t_const("accord-proof/1"),
                    "type": t_any,
                    **inc,
                    "tree_size": t_any,
                    "checkpoint": t_any,
                    "signatory_key": t_any,
                    "registration": t_any,
                    "key_history": t_array,
                },
                {"consistency": t_any},
            )

            def included(o, what, top=False):
                if not top:
                    want_map(o, what, inc)
                return {
                    "leaf_index": _json_uint(o["leaf_index"], f"{what}.leaf_index"),
                    "entry": b64_canonical(o["entry"], f"{what}.entry"),
                    "inclusion_path": _hash_list(
                        o["inclusion_path"], f"{what}.inclusion_path", True
                    ),
                }

            out = {
                "type": "inclusion",
                "checkpoint": _note_text(doc["checkpoint"], "checkpoint"),
                "tree_size": _json_uint(doc["tree_size"], "tree_size"),
                "entry": included(doc, "bundle", top=True),
                "signatory_key": b64_canonical(doc["signatory_key"], "signatory_key"),
                "registration": included(doc["registration"], "registration"),
                "key_history": [
                    included(o, f"key_history[{i}]") for i, o in enumerate(doc["key_history"])
                ],
            }
            if doc.get("consistency") is not None:  # §8: null is read as absent
                c = want_map(
                    doc["consistency"], "consistency", {"from_checkpoint": t_any, "path": t_any}
                )
                out["consistency"] = {
                    "from_checkpoint": _note_text(c["from_checkpoint"], "from_checkpoint"),
                    "path": _hash_list(c["path"], "consistency.path", True),
                }
        elif typ == "consistency":
            want_map(
                doc,
                "JSON consistency proof",
                {
                    "format": t_const("accord-proof/1"),
                    "type": t_any,
                    "old_checkpoint": t_any,
                    "new_checkpoint": t_any,
                    "path": t_any,
                },
            )
            out = {
                "type": "consistency",
                "old_checkpoint": _note_text(doc["old_checkpoint"], "old_checkpoint"),
                "new_checkpoint": _note_text(doc["new_checkpoint"], "new_checkpoint"),
                "path": _hash_list(doc["path"], "path", True),
            }
        else:
            raise Invalid(f"JSON proof: unknown type {typ!r}")
        if len(out.get("signatory_key", b"\0" * 32)) != 32:
            raise Invalid("signatory_key is not 32 bytes")
        return out

    m = cbor_decode(data)
    if type(m) is not dict:
        raise Invalid("proof: not a map")
    typ = m.get("type")
    inc = {"leaf_index": t_uint, "entry": t_bytes(), "inclusion_path": t_any}
    if typ == "inclusion":
        want_map(
            m,
            "bundle",
            {
                "v": t_const(1),
                "type": t_any,
                "checkpoint": t_bytes(),
                "tree_size": t_uint,
                "entry": t_any,
                "signatory_key": t_bytes(32),
                "registration": t_any,
                "key_history": t_array,
            },
            {"consistency": t_any},
        )

        def included(o, what):
            want_map(o, what, inc)
            return {
                "leaf_index": o["leaf_index"],
                "entry": o["entry"],
                "inclusion_path": _hash_list(o["inclusion_path"], f"{what}.inclusion_path", False),
            }

        out = {
            "type": "inclusion",
            "checkpoint": m["checkpoint"],
            "tree_size": m["tree_size"],
            "entry": included(m["entry"], "entry"),
            "signatory_key": m["signatory_key"],
            "registration": included(m["registration"], "registration"),
            "key_history": [
                included(o, f"key_history[{i}]") for i, o in enumerate(m["key_history"])
            ],
        }
        if "consistency" in m:
            c = want_map(
                m["consistency"],
                "consistency",
                {"from_checkpoint": t_bytes(), "path": t_any},
            )
            out["consistency"] = {
                "from_checkpoint": c["from_checkpoint"],
                "path": _hash_list(c["path"], "consistency.path", False),
            }
        return out
    if typ == "consistency":
        want_map(
            m,
            "consistency proof",
            {
                "v": t_const(1),
                "type": t_any,
                "old_checkpoint": t_bytes(),
                "new_checkpoint": t_bytes(),
                "path": t_any,
            },
        )
        return {
            "type": "consistency",
            "old_checkpoint": m["old_checkpoint"],
            "new_checkpoint": m["new_checkpoint"],
            "path": _hash_list(m["path"], "path", False),
        }
    raise Invalid(f"proof: unknown type {typ!r}")


def _open_included(inc, cp: Checkpoint, what: str):
    try:
        e = decode_entry(inc["entry"])
        if e.index != inc["leaf_index"]:
            raise Invalid(f"entry index {e.index} differs from leaf_index {inc['leaf_index']}")
        if not verify_inclusion(e.leaf, inc["leaf_index"], cp.size, inc["inclusion_path"], cp.root):
            raise Invalid(f"inclusion proof does not verify against checkpoint {cp.size}")
        st = decode_statement(e.statement)
        if st.payload["origin"] != cp.origin:
            raise Invalid(f"statement origin {st.payload['origin']!r} is not {cp.origin!r}")
        # §8 step 2: the ledger rule iat <= logged_at + 600 holds for every included statement.
        if st.iat > e.logged_at + 600:
            raise Invalid("statement iat more than 600 s after logged_at")
    except Invalid as err:
        raise Invalid(f"{what} (leaf {inc['leaf_index']}): {err}") from None
    return e, st


TLOG_PROOF_HEADER = b"c2sp.org/tlog-proof@v1\n"


def verify_tlog_proof(data: bytes, vkey: VKey, entry: bytes | None = None) -> str:
    """§8, "C2SP tlog-proof": inclusion of the entry (from the extra line or given) only."""
    if len(data) > MAX_PROOF:
        raise Invalid("tlog-proof larger than 256 KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("tlog-proof is not UTF-8") from None
    if not data.startswith(TLOG_PROOF_HEADER):
        raise Invalid("not a c2sp.org/tlog-proof@v1")
    rest = text[len(TLOG_PROOF_HEADER):]
    if "\n\n" not in rest:
        raise Invalid("tlog-proof: no empty line before the checkpoint")
    head, note = rest.split("\n\n", 1)
    lines = head.split("\n")
    extra = None
    if lines[0].startswith("extra "):
        extra = b64_canonical(lines[0][len("extra "):], "extra")
        if len(extra) > MAX_ENTRY:
            raise Invalid("tlog-proof: extra data larger than an entry")
        lines = lines[1:]
    if not lines or not lines[0].startswith("index "):
        raise Invalid("tlog-proof: index line missing")
    n = lines[0][len("index "):]
    if not re.fullmatch(r"0|[1-9][0-9]*", n):
        raise Invalid("tlog-proof: index is not a decimal number without leading zeros")
    index = int(n)
    if index >= 2**64:
        raise Invalid("tlog-proof: index out of range")
    path = []
    for i, l in enumerate(lines[1:]):
        h = b64_canonical(l, f"hash {i}")
        if len(h) != 32:
            raise Invalid(f"hash {i} is not 32 bytes")
        path.append(h)
    if len(path) > MAX_PATH:
        raise Invalid("tlog-proof: more than 128 hashes")
    cp = open_checkpoint(note.encode("utf-8"), vkey)
    # §8: "take the entry bytes from extra, or from the user when the line is absent".
    # Entry bytes given as well as an extra line must be the same bytes (FORMAT.md does not
    # say what to do when they differ; refusing is the careful choice).
    if extra is not None and entry is not None and entry != extra:
        raise Invalid("tlog-proof: the entry given differs from the one in its extra line")
    raw = extra if extra is not None else entry
    if raw is None:
        raise Invalid("tlog-proof carries no entry (no extra line); give it with --entry")
    e = decode_entry(raw)
    if not verify_inclusion(e.leaf, index, cp.size, path, cp.root):
        raise Invalid(f"inclusion proof does not verify against checkpoint {cp.size}")
    if e.index != index:
        raise Invalid(f"entry says index {e.index}, the proof {index}")
    st = decode_statement(e.statement)
    if st.payload["origin"] != cp.origin:
        raise Invalid("statement is for another ledger")
    return (
        f"OK: entry {index} is included at checkpoint size {cp.size}; its signature and key "
        "binding are not checked (a tlog-proof does not carry them)"
    )


def verify_bundle(b: dict, vkey: VKey, cats) -> str:
    cp = open_checkpoint(b["checkpoint"], vkey)
    if b["tree_size"] != cp.size:
        raise Invalid(f"tree_size {b['tree_size']} differs from the checkpoint's {cp.size}")
    entry, st = _open_included(b["entry"], cp, "entry")
    reg_e, reg = _open_included(b["registration"], cp, "registration")
    i = entry.index
    key = b["signatory_key"]
    if sha256(key) != st.kid:
        raise Invalid(f"entry {i}: kid is not SHA-256(signatory_key)")
    if not st.verify_with(key):
        raise Invalid(f"entry {i}: signature does not verify with signatory_key")
    if reg.kind != "registration":
        raise Invalid(f"registration (leaf {reg_e.index}): not a registration")
    if reg.iss != st.iss:
        raise Invalid(f"registration (leaf {reg_e.index}) is of {reg.iss!r}, not {st.iss!r}")
    if reg_e.index > i:
        raise Invalid(f"registration (leaf {reg_e.index}) is after the entry {i}")
    if reg_e.index == i and reg_e.raw != entry.raw:
        raise Invalid(f"registration (leaf {reg_e.index}) differs from the entry")

    replay = Replay(cats)
    try:
        replay.apply(reg_e.index, reg_e.logged_at, reg, keys_only=True, version=reg_e.version)
    except Invalid as err:
        raise Invalid(f"registration (leaf {reg_e.index}): {err}") from None
    hist = b["key_history"]
    if len(hist) > MAX_HISTORY:
        raise Invalid(f"key history of more than {MAX_HISTORY} items")
    last = reg_e.index
    state_checked = False
    untrusted_by: list = []

    def check_signer():
        if st.kind == "registration":
            ok = key == reg.payload["key"]
        elif st.kind == "recovery":
            org = replay.orgs[st.iss]
            ok = org.commitment == sha256(key) and sha256(key) not in replay.used_commitments
        else:
            rec = replay.keys.get(st.kid)
            ok = rec is not None and rec.org == st.iss and rec.ended_index is None
        if not ok:
            raise Invalid(
                f"entry {i}: signatory_key did not speak for {st.iss!r} at the entry, "
                "according to the bundle's key history"
            )

    for n, inc in enumerate(hist):
        he, hs = _open_included(inc, cp, f"key_history[{n}]")
        where = f"key_history[{n}] (leaf {he.index})"
        if he.index <= last:
            raise Invalid(f"{where}: indexes not strictly increasing after the registration")
        last = he.index
        if hs.iss != st.iss:
            raise Invalid(f"{where}: of {hs.iss!r}, not {st.iss!r}")
        if hs.kind not in ("rotation", "revocation", "recovery"):
            raise Invalid(f"{where}: a {hs.kind}, not a rotation, revocation or recovery")
        if he.index >= i and not state_checked:
            check_signer()
            state_checked = True
        if he.index == i and he.raw != entry.raw:
            raise Invalid(f"{where}: differs from the entry at the same index")
        if he.index < i:
            try:
                replay.apply(he.index, he.logged_at, hs, keys_only=True, version=he.version)
            except Invalid as err:
                raise Invalid(f"{where}: {err}") from None
        t = hs.payload.get("compromised_since") if hs.kind == "recovery" else None
        if (
            he.index > i
            and t is not None
            and t < entry.logged_at
            and st.kind not in ("recovery", "registration")
        ):
            # §7: the signing key was current at the entry's log time, after T, so it is in K.
            untrusted_by.append((he.index, t))
    if not state_checked:
        check_signer()
    if st.kind == "attestation":
        try:
            replay.check_norms(st)
        except Invalid as err:
            raise Invalid(f"entry {i}: {err}") from None

    extra = ""
    if "consistency" in b:
        c = b["consistency"]
        old = open_checkpoint(c["from_checkpoint"], vkey, "from_checkpoint")
        if old.size > cp.size:
            raise Invalid("consistency: from_checkpoint is larger than the bundle's checkpoint")
        if not verify_consistency(old.size, cp.size, old.root, cp.root, c["path"]):
            raise Invalid(
                f"consistency proof from size {old.size} to {cp.size} does not verify"
            )
        extra = f"; consistent with checkpoint size {old.size}"
    for r, t in untrusted_by[:1]:  # §7: the earliest covering recovery is the one named
        warn(
            f"entry {i} is UNTRUSTED: the recovery at entry {r} in the bundle's key history "
            f"reports the organisation's keys compromised since {t}"
        )
    return (
        f"OK: entry {i} ({st.kind} by {st.iss!r}) is included in {cp.origin} at checkpoint "
        f"size {cp.size} (root {cp.root.hex()}); signed by a key that spoke for the "
        f"organisation (registration at entry {reg_e.index}, {len(hist)} key-history "
        f"entries){extra}"
    )


def verify_consistency_file(c: dict, vkey: VKey) -> str:
    old = open_checkpoint(c["old_checkpoint"], vkey, "old_checkpoint")
    new = open_checkpoint(c["new_checkpoint"], vkey, "new_checkpoint")
    if old.size < 1 or old.size > new.size:
        raise Invalid(f"old size {old.size} must be between 1 and the new size {new.size}")
    if old.size == new.size and old.root != new.root:
        # §9: two checkpoints of one size with different roots, both signed by the ledger
        # key, are evidence of a fork whatever the path says.
        raise Invalid(
            f"two checkpoints of size {old.size} signed by the ledger key with different "
            "roots: evidence of a fork"
        )
    if not verify_consistency(old.size, new.size, old.root, new.root, c["path"]):
        # §9: the path is not signed; one that fails proves nothing about the two checkpoints
        # and is not evidence of a fork.
        raise Invalid(
            f"consistency proof from size {old.size} to {new.size} does not verify (the path "
            "is not signed: this is not evidence of a fork)"
        )
    return f"OK: {new.origin} of size {new.size} extends its tree of size {old.size}"


# ---------------------------------------------------------------------------------------------
# Command line


def _read(path: str, limit: int | None = None) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read() if limit is None else f.read(limit + 1)
    except OSError as e:
        raise Usage(f"{path}: {e.strerror}") from None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="accord_verify.py",
        description="Independent verifier of accord exports, proofs and checkpoints "
        "(written from docs/FORMAT.md).",
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, helptext in (
        ("export", "verify an export file (accord export --out FILE)"),
        ("proof", "verify an audit proof bundle or consistency proof (CBOR or JSON)"),
        ("checkpoint", "verify a checkpoint note"),
        ("state", "check a remembered replay state (replay-<hex>.state, §11.1)"),
    ):
        sp = sub.add_parser(name, help=helptext)
        sp.add_argument("file")
        sp.add_argument("--ledger-key", required=True, metavar="VKEY")
        sp.add_argument(
            "--catalogue",
            action="append",
            metavar="FILE",
            help="norms catalogue JSON (default: schemas/norms-v1.json of this repository)",
        )
        sp.add_argument("--json", action="store_true", help="print the summary as JSON")
        if name == "proof":
            sp.add_argument("--entry", metavar="FILE", help="entry bytes for a tlog-proof without extra")
        if name == "state":
            sp.add_argument(
                "--export",
                metavar="FILE",
                help="an export of the same ledger at the state's size: verify it and compare "
                "the state with this verifier's own replay of it",
            )
    sub.add_parser("names-selftest", help="check the §4.1 name functions on known cases")
    sp = sub.add_parser("names-compare", help="compare accord's §4.1 name keys (JSON) with ours")
    sp.add_argument("file")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "names-selftest":
            return names_selftest()
        if args.cmd == "names-compare":
            return names_compare(args.file)
        vkey = VKey(args.ledger_key)
        if args.cmd == "export":
            cats = load_catalogues(args.catalogue or default_catalogues())
            summary = verify_export(_read(args.file), vkey, cats)
            if args.json:
                print(json.dumps(summary, indent=2, sort_keys=True))
            else:
                print(
                    f"OK: export of {summary['origin']} verified: {summary['entries']} entries "
                    f"({summary['registrations']} registrations, {summary['attestations']} "
                    f"attestations, {summary['withdrawals']} withdrawals, "
                    f"{summary['rotations']} rotations, {summary['revocations']} revocations, "
                    f"{summary['recoveries']} recoveries), {summary['organisations']} "
                    f"organisations, {summary['live_attestations']} live attestations"
                )
                print(f"root {summary['root']} at size {summary['entries']}")
                if summary["untrusted"]:
                    print("untrusted entries: " + ", ".join(map(str, summary["untrusted"])))
        elif args.cmd == "state":
            cats = load_catalogues(args.catalogue or default_catalogues())
            summary = verify_state(args.file, vkey, args.export, cats)
            # The summary is JSON whether or not --json is given.
            print(json.dumps(summary, indent=2, sort_keys=True))
            if not summary["ok"]:
                raise Invalid(
                    "replay state differs from the replay of the export: "
                    + "; ".join(summary["differences"])
                )
        elif args.cmd == "proof" and _read(args.file, MAX_PROOF).startswith(TLOG_PROOF_HEADER):
            entry = _read(args.entry, MAX_ENTRY) if args.entry else None
            msg = verify_tlog_proof(_read(args.file, MAX_PROOF), vkey, entry)
            print(json.dumps({"ok": True, "message": msg}) if args.json else msg)
        elif args.cmd == "proof":
            data = _read(args.file, MAX_PROOF)
            proof = parse_proof(data)
            if proof["type"] == "inclusion":
                cats = load_catalogues(args.catalogue or default_catalogues())
                msg = verify_bundle(proof, vkey, cats)
            else:
                msg = verify_consistency_file(proof, vkey)
            print(json.dumps({"ok": True, "message": msg}) if args.json else msg)
        else:
            cp = open_checkpoint(_read(args.file, MAX_NOTE), vkey)
            msg = f"OK: checkpoint of {cp.origin} at size {cp.size}, root {cp.root.hex()}"
            print(json.dumps({"ok": True, "size": cp.size, "root": cp.root.hex()}) if args.json else msg)
    except Usage as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Invalid as e:
        print(f"INVALID: {e}", file=sys.stderr)
        return 1
    except RecursionError:
        print("INVALID: structure nested too deeply", file=sys.stderr)
        return 1
    finally:
        for w in WARNINGS:
            print(f"warning: {w}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
