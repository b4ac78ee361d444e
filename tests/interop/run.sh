#!/usr/bin/env bash
# The interop suites (issue 13, "Real peers"): tlog-tiles clients written without accord read
# what `accord serve` serves and what `accord publish` writes, and must agree with accord.
#
#   tests/interop/run.sh [prepare | python | go | all]      (default: all)
#
# prepare  builds accord (release) and the ledger generator (examples/interop_ledger.rs), makes
#          ledgers of exactly 1, 255, 256, 257, 65,537 and 70,000 entries (70,000 has partial
#          tiles at two levels: 112 hashes at level 0, 17 at level 1), publishes each, and asks
#          accord for its own answers at sampled indexes (expected.py).
# python   PyPI tlog-scales (pinned in requirements.txt, into target/interop/venv): its
#          tlog-tiles get-leaf -c and gen-proof, against each served and each published ledger
#          (tlog_scales_peer.py); then a tampered copy that it must reject.
# go       golang.org/x/mod/sumdb/{note,tlog} and filippo.io/torchwood from the Go module proxy
#          (pinned in go/go.mod and go/go.sum): the checkpoint signature, the tree hash from the
#          tiles, sampled inclusion proofs and every entry bundle, against each served and each
#          published ledger (go/main.go); then tampered copies that it must reject.
#
# Needs Rust, Python >= 3.11 with venv and pip, and Go >= 1.26 (and the package registries, the
# first time). A part whose tool is missing is skipped with a message, or fails when
# ACCORD_REQUIRE_ALL=1 (as in .ci/run). Any disagreement fails. Prints how long each part took.
#
# ACCORD_INTEROP_PROFILE=dev uses the debug build of accord instead of release (quicker to build
# while working on the suites). Everything is written under target/interop/.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$TARGET/interop
WORK=$OUT/work
SIZES=(1 255 256 257 65537 70000)
TAMPERED_SIZE=70000
PROFILE=${ACCORD_INTEROP_PROFILE:-release}
case "$PROFILE" in
release) ACCORD=$TARGET/release/accord ;;
dev) ACCORD=$TARGET/debug/accord ;;
*) echo "ACCORD_INTEROP_PROFILE must be release or dev" >&2; exit 2 ;;
esac

say() { echo "interop: $*"; }
die() { echo "interop: FAILED: $*" >&2; exit 1; }

# A tool a part needs: present, or the part is skipped (exit 1 with ACCORD_REQUIRE_ALL=1).
need() {
    local tool=$1 part=$2
    command -v "$tool" >/dev/null 2>&1 && return 0
    if [ "${ACCORD_REQUIRE_ALL:-}" = 1 ]; then
        die "$part needs $tool, which is not installed (ACCORD_REQUIRE_ALL=1: no skipping)"
    fi
    echo "interop: SKIPPED $part: $tool is not installed (set ACCORD_REQUIRE_ALL=1 to make this fail)" >&2
    return 1
}

# ---------------------------------------------------------------------------------------------
# Servers: one `accord serve` per ledger on a free loopback port; stopped by their own pids.

SERVER_PIDS=()
declare -A URL
start_servers() {
    local n log i
    for n in "${SIZES[@]}"; do
        log=$WORK/$n/serve.log
        "$ACCORD" --ledger "$WORK/$n/ledger" serve --listen 127.0.0.1:0 2>"$log" &
        SERVER_PIDS+=($!)
        for i in $(seq 100); do
            URL[$n]=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$log" | head -n 1 || true)
            [ -n "${URL[$n]}" ] && break
            kill -0 "${SERVER_PIDS[-1]}" 2>/dev/null || die "accord serve of $n entries exited: $(cat "$log")"
            sleep 0.1
        done
        [ -n "${URL[$n]}" ] || die "accord serve of $n entries did not say where it listens: $(cat "$log")"
    done
    say "serving ${#SIZES[@]} ledgers: ${URL[*]}"
}
stop_servers() {
    local pid
    for pid in "${SERVER_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${SERVER_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    SERVER_PIDS=()
}
trap stop_servers EXIT

# A copy of the published 70,000-entry log with one bit of FILE flipped at byte OFFSET.
tampered() {
    local file=$1 offset=$2 name
    name=$WORK/tampered-$(echo "$file" | tr '/.' '--')
    rm -rf "$name"
    cp -r "$WORK/$TAMPERED_SIZE/pub" "$name"
    python3 - "$name/$file" "$offset" <<'EOF'
import sys
path, offset = sys.argv[1], int(sys.argv[2])
data = bytearray(open(path, "rb").read())
data[offset] ^= 1
open(path, "wb").write(data)
EOF
    echo "$name"
}

# ---------------------------------------------------------------------------------------------

prepare() {
    need python3 "the interop suites" || return 0
    if [ "$PROFILE" = release ]; then
        cargo build --locked --release --bin accord
    else
        cargo build --locked --bin accord
    fi
    # The generator builds in the dev profile, whose crypto, SHA-2 and redb are optimised
    # (Cargo.toml) and which `cargo test` has already built: a release build of an example
    # compiles every dev-dependency in release too (4.5 minutes on 2 cores, against 13 s saved
    # in generating).
    cargo build --locked --example interop_ledger
    rm -rf "$WORK"
    mkdir -p "$WORK"
    "$TARGET/debug/examples/interop_ledger" "$WORK" "${SIZES[@]}"
    local n
    for n in "${SIZES[@]}"; do
        "$ACCORD" --quiet --ledger "$WORK/$n/ledger" publish "$WORK/$n/pub" >/dev/null
        [ "$(cat "$WORK/$n/vkey")" = "$("$ACCORD" --ledger "$WORK/$n/ledger" ledger-key)" ] ||
            die "the generator's vkey for $n is not accord ledger-key's"
        python3 tests/interop/expected.py "$ACCORD" "$WORK/$n/ledger" "$WORK/$n/expected.json"
    done
    # The shape the sizes are there for: partial tiles at two levels for 70,000.
    for f in tile/0/273.p/112 tile/1/001.p/17 tile/2/000.p/1 tile/entries/273.p/112; do
        [ -f "$WORK/70000/pub/$f" ] || die "publish of 70,000 entries wrote no $f"
    done
    touch "$WORK/ready"
}

ensure_prepared() {
    [ -f "$WORK/ready" ] || prepare
}

python_peer() {
    need python3 "the Python peer (tlog-scales)" || return 0
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
        die "tlog-scales needs Python >= 3.11; python3 is $(python3 --version)"
    ensure_prepared
    local venv=$OUT/venv
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv" || die "cannot create a venv in $venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/interop/requirements.txt ||
        die "cannot install tlog-scales from tests/interop/requirements.txt"
    local tool=$venv/bin/tlog-tiles
    say "tlog-scales $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("tlog-scales"))') at $tool"
    start_servers
    local n
    for n in "${SIZES[@]}"; do
        python3 tests/interop/tlog_scales_peer.py "$tool" "${URL[$n]}" "$WORK/$n/expected.json"
        python3 tests/interop/tlog_scales_peer.py "$tool" "$WORK/$n/pub" "$WORK/$n/expected.json"
    done
    stop_servers
    # The check can fail: leaf 0's entry, and the hash of leaf 1 (in leaf 0's proof), flipped.
    python3 tests/interop/tlog_scales_peer.py --reject "$tool" "$(tampered tile/entries/000 100)" 0
    python3 tests/interop/tlog_scales_peer.py --reject "$tool" "$(tampered tile/0/000 40)" 0
}

go_peer() {
    need go "the Go peer (note, tlog, torchwood)" || return 0
    need python3 "the Go peer's ledgers (expected.py)" || return 0
    ensure_prepared
    local bin=$OUT/bin/interop-go
    (cd tests/interop/go && GOFLAGS="-mod=readonly -buildvcs=false" go build -o "$bin" .) ||
        die "cannot build the Go peer (tests/interop/go) with its pinned modules"
    say "Go peer built with $(cd tests/interop/go && GOFLAGS=-mod=readonly go list -m filippo.io/torchwood golang.org/x/mod | tr "\n" " ")and $(go version)"
    start_servers
    local n
    for n in "${SIZES[@]}"; do
        "$bin" -vkey "$(cat "$WORK/$n/vkey")" -url "${URL[$n]}" -expect "$WORK/$n/expected.json"
        "$bin" -vkey "$(cat "$WORK/$n/vkey")" -dir "$WORK/$n/pub" -expect "$WORK/$n/expected.json"
    done
    stop_servers
    # The check can fail: one bit flipped in a full and a partial hash tile, a full and a
    # partial entry bundle, and the checkpoint's signature.
    local vkey t dir
    vkey=$(cat "$WORK/$TAMPERED_SIZE/vkey")
    for t in "tile/0/000 40" "tile/1/001.p/17 100" "tile/entries/000 100" \
        "tile/entries/273.p/112 30000" "checkpoint 120"; do
        # shellcheck disable=SC2086
        dir=$(tampered $t)
        if "$bin" -vkey "$vkey" -dir "$dir" 2>"$dir.err"; then
            die "the Go peer ACCEPTED a log with ${t% *} tampered ($dir)"
        fi
        grep -q REJECTED "$dir.err" || die "the Go peer failed without a verdict: $(cat "$dir.err")"
        say "tampered ${t% *}: $(cat "$dir.err")"
    done
}

timings=()
part() {
    local name=$1 t0
    shift
    echo "== interop: $name"
    t0=$(date +%s)
    "$@"
    timings+=("$(printf '%5ds  interop: %s' $(( $(date +%s) - t0 )) "$name")")
}

case "${1:-all}" in
prepare) part "build accord and the ledgers" prepare ;;
python) part "python tlog-scales" python_peer ;;
go) part "go note + torchwood" go_peer ;;
all)
    part "build accord and the ledgers" prepare
    part "python tlog-scales" python_peer
    part "go note + torchwood" go_peer
    ;;
*) echo "usage: tests/interop/run.sh [prepare|python|go|all]" >&2; exit 2 ;;
esac
echo "== interop: time per part"
printf '%s\n' "${timings[@]}"
