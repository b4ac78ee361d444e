#!/usr/bin/env bash
# The interop suites (issue 13, "Real peers"): tlog-tiles clients written without accord read
# what `accord serve` serves and what `accord publish` writes, and must agree with accord.
#
#   tests/interop/run.sh [prepare | python | go | witness | all]      (default: all)
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
# witness  accord as a witness and as a log next to foreign witness code (issue 16), on its own
#          small ledger (7 entries, and a fork of it that differs from entry 4 on):
#          - litewitness and witnessctl of filippo.io/torchwood v0.6.1 (pinned as Go tools in
#            litewitness/go.mod), their key in a dedicated ssh-agent, the log registered with
#            witnessctl, and `accord witness serve` get the same add-checkpoint requests, built
#            from accord's own checkpoints and `accord consistency` proofs: cosigned steps
#            0 -> 2 -> 4 -> 5 -> 7, and the fork's split views (its other size 5: 422; from
#            size 4: 409 with size 5; its 5 -> 6: 422); both must answer alike;
#          - every cosignature of both witnesses (and the cosigned checkpoint that
#            `accord witness status --json` holds, identical to the last answer) must verify
#            with accord's verifier
#            (examples/verify_cosignature.rs) and with torchwood v0.10.0 (witness-go/main.go,
#            Go 1.27: note.Open with NewCosignatureVerifier, and ParsePolicy + VerifyCheckpoint
#            with the witness as quorum); torchwood must reject accord's cosignature with a bit
#            flipped, moved onto another checkpoint, or under a policy naming another key;
#          - torchwood's NewCosignatureSigner cosigns an accord checkpoint and accord's verifier
#            must accept it, and reject it (and litewitness's) with a bit flipped or moved.
#
# Needs Rust, Python >= 3.11 with venv and pip, and Go >= 1.26 (and the package registries, the
# first time); the witness part also needs ssh-agent, ssh-keygen, ssh-add, curl and jq, and
# fetches the go1.27.0 toolchain from the Go module proxy the first time. A part whose tool is missing is skipped with a message, or fails when
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
TEMP_DIRS=()
cleanup() {
    stop_servers
    [ ${#TEMP_DIRS[@]} = 0 ] || rm -rf "${TEMP_DIRS[@]}"
}
trap cleanup EXIT

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

# ---------------------------------------------------------------------------------------------
# Witnesses (issue 16): accord's cosignatures checked by torchwood v0.10.0, torchwood's and
# litewitness v0.6.1's checked by accord, and litewitness driven with accord's own checkpoints
# and consistency proofs, side by side with `accord witness serve`.

WORIGIN=interop.example/witnessed

# A request body for POST /add-checkpoint from `accord consistency --json` output: MODE proof
# (old = the proof's old size, the proof, the new checkpoint), first (old 0, no proof, the new
# checkpoint) or same (old = the new checkpoint's size, no proof: a re-submission, or a split
# view when that size was cosigned with another root).
witness_request() {
    python3 - "$@" <<'EOF'
import base64, json, sys
mode, src, out = sys.argv[1:]
c = json.load(open(src))
new = c["new_checkpoint"]
if mode == "proof":
    old, proof = int(c["old_checkpoint"].split("\n")[1]), c["path"]
elif mode == "first":
    old, proof = 0, []
elif mode == "same":
    old, proof = int(new.split("\n")[1]), []
else:
    sys.exit("bad mode " + mode)
lines = [f"old {old}"] + [base64.b64encode(bytes.fromhex(h)).decode() for h in proof]
open(out, "w", newline="").write("\n".join(lines) + "\n\n" + new)
EOF
}

# A copy of cosigned checkpoint IN with one bit flipped in the last byte (the Ed25519
# signature) of NAME's cosignature line.
flip_cosignature() {
    python3 - "$@" <<'EOF'
import base64, sys
src, out, name = sys.argv[1:]
lines = open(src, encoding="utf-8", newline="").read().split("\n")
prefix = "\u2014 " + name + " "
hits = [i for i, l in enumerate(lines) if l.startswith(prefix)]
assert len(hits) == 1, f"expected one line of {name} in {src}"
raw = bytearray(base64.b64decode(lines[hits[0]][len(prefix):]))
raw[-1] ^= 1
lines[hits[0]] = prefix + base64.b64encode(bytes(raw)).decode()
open(out, "w", encoding="utf-8", newline="").write("\n".join(lines))
EOF
}

# Signed checkpoint BODY (no cosignature) with NAME's cosignature line taken from FROM.
move_cosignature() {
    local from=$1 body=$2 out=$3 name=$4
    { cat "$body"; grep -F "— $name " "$from"; } >"$out"
    [ "$(grep -c -F "— $name " "$out")" = 1 ] || die "no cosignature of $name in $from"
}

# POST request file REQ to witness URL; the status must be EXPECT. On 200 writes the
# checkpoint of the request with the answered cosignature line appended to COSIGNED.
witness_post() {
    local who=$1 url=$2 req=$3 expect=$4 cosigned=${5:-} status
    status=$(curl -sS -o "$req.answer" -w '%{http_code}' --data-binary "@$req" "${url}add-checkpoint") ||
        die "$who: no answer to $(basename "$req")"
    [ "$status" = "$expect" ] ||
        die "$who answered $status to $(basename "$req"), expected $expect: $(head -c 300 "$req.answer")"
    if [ -n "$cosigned" ]; then
        { sed '1,/^$/d' "$req"; cat "$req.answer"; } >"$cosigned"
    fi
    say "$who: $(basename "$req") -> $status $(head -n 1 "$req.answer" | cut -c 1-60)"
}

# The same sequence of requests to a witness at URL (WHO's cosignatures, vkey WVKEY), written
# as W/WHO-SIZE.cosigned: three cosigned steps of the log, three refusals of the fork (split
# views), and one more cosigned step. accord and litewitness must give the same answers.
drive_witness() {
    local who=$1 url=$2 w=$3 r=$3/req
    witness_post "$who" "$url" "$r/first-2" 200 "$w/$who-2.cosigned"
    witness_post "$who" "$url" "$r/proof-2-4" 200 "$w/$who-4.cosigned"
    witness_post "$who" "$url" "$r/proof-4-5" 200 "$w/$who-5.cosigned"
    # The split view: the fork's checkpoint of size 5 (another root) from the cosigned size, from
    # the size before with the fork's valid proof, and the fork grown to 6 with its valid proof.
    witness_post "$who" "$url" "$r/fork-same-5" 422
    witness_post "$who" "$url" "$r/fork-proof-4-5" 409
    [ "$(cat "$r/fork-proof-4-5.answer")" = 5 ] || die "$who: the 409 does not give size 5"
    witness_post "$who" "$url" "$r/fork-proof-5-6" 422
    witness_post "$who" "$url" "$r/proof-5-7" 200 "$w/$who-7.cosigned"
}

# Starts `accord witness serve` (key W/accord-witness.key, a new state STATE) following the log
# of LOG-VKEY on a free loopback port, its stderr in LOGFILE; prints its URL. Its pid goes to
# SERVER_PIDS through a file, since this runs in a command substitution's subshell.
start_accord_witness() {
    local logv=$1 state=$2 log=$3 url i pid
    "$ACCORD" witness serve --listen 127.0.0.1:0 --key "$OUT/witness/accord-witness.key" --log "$logv" \
        --state "$state" --init >/dev/null 2>"$log" &
    pid=$!
    echo "$pid" >"$log.pid"
    url=
    for i in $(seq 100); do
        url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$log" | head -n 1 || true)
        [ -n "$url" ] && break
        kill -0 "$pid" 2>/dev/null || die "accord witness serve exited: $(cat "$log")"
        sleep 0.1
    done
    [ -n "$url" ] || die "accord witness serve did not say where it listens: $(cat "$log")"
    echo "$url"
}

witness_peers() {
    local t
    for t in go ssh-agent ssh-keygen ssh-add curl jq python3; do
        need "$t" "the witness peers (litewitness, torchwood v0.10)" || return 0
    done
    local w=$OUT/witness bin=$OUT/bin
    rm -rf "$w"
    mkdir -p "$w/req" "$bin"
    if [ "$PROFILE" = release ]; then
        cargo build --locked --release --bin accord
    else
        cargo build --locked --bin accord
    fi
    cargo build --locked --example verify_cosignature
    local accord_check=$TARGET/debug/examples/verify_cosignature
    # torchwood v0.10.0 needs Go 1.27: the pinned toolchain comes from the module proxy.
    (cd tests/interop/witness-go && GOTOOLCHAIN=go1.27.0 GOFLAGS="-mod=readonly -buildvcs=false" \
        go build -o "$bin/witness-go" .) ||
        die "cannot build the Go witness peer (tests/interop/witness-go) with go1.27.0 and its pinned modules"
    (cd tests/interop/litewitness && GOFLAGS="-mod=readonly -buildvcs=false" \
        go build -o "$bin/" filippo.io/torchwood/cmd/litewitness filippo.io/torchwood/cmd/witnessctl) ||
        die "cannot build litewitness and witnessctl (tests/interop/litewitness)"
    say "witness peers: $(cd tests/interop/witness-go && GOTOOLCHAIN=go1.27.0 GOFLAGS=-mod=readonly go list -m filippo.io/torchwood | tr "\n" " ")with go1.27.0; litewitness $(cd tests/interop/litewitness && GOFLAGS=-mod=readonly go list -m filippo.io/torchwood | tr "\n" " ")with $(go version | cut -d ' ' -f 3)"

    # The log: a real accord ledger, and a fork of it (a copy of its data, same ledger key)
    # that goes its own way after size 4.
    local a="$ACCORD --quiet" lk=$w/ledger.skey i
    $a --ledger "$w/ledger" init --origin "$WORIGIN" --key-file "$lk" >"$w/log.vkey"
    local logv
    logv=$(cat "$w/log.vkey")
    $a key generate --dir "$w/keys" acme >/dev/null
    $a --ledger "$w/ledger" register --key "$w/keys/acme.key" --org Acme >/dev/null
    attest() { $a --ledger "$1" attest --key "$w/keys/acme.key" --norm no-backdoors --scope "$2" >/dev/null; }
    for i in 1 2 3; do attest "$w/ledger" "product $i"; done
    cp -r "$w/ledger" "$w/fork"
    attest "$w/ledger" "product A"
    attest "$w/fork" "product B"
    attest "$w/fork" "product B2"
    attest "$w/ledger" "product A2"
    attest "$w/ledger" "product A3"
    consistency() {
        $a --ledger "$1" consistency --from "$2" --to "$3" --json --out "$4" 2>"$w/consistency.err" ||
            die "accord consistency --from $2 --to $3: $(cat "$w/consistency.err")"
    }
    consistency "$w/ledger" 1 2 "$w/c-1-2.json"
    consistency "$w/ledger" 2 4 "$w/c-2-4.json"
    consistency "$w/ledger" 4 5 "$w/c-4-5.json"
    consistency "$w/ledger" 5 7 "$w/c-5-7.json"
    consistency "$w/fork" 4 5 "$w/f-4-5.json"
    consistency "$w/fork" 5 6 "$w/f-5-6.json"
    [ "$(jq -r .new_checkpoint "$w/c-4-5.json" | sed -n 3p)" != "$(jq -r .new_checkpoint "$w/f-4-5.json" | sed -n 3p)" ] ||
        die "the fork's size 5 has the log's root"
    witness_request first "$w/c-1-2.json" "$w/req/first-2"
    witness_request proof "$w/c-2-4.json" "$w/req/proof-2-4"
    witness_request proof "$w/c-4-5.json" "$w/req/proof-4-5"
    witness_request same "$w/f-4-5.json" "$w/req/fork-same-5"
    witness_request proof "$w/f-4-5.json" "$w/req/fork-proof-4-5"
    witness_request proof "$w/f-5-6.json" "$w/req/fork-proof-5-6"
    witness_request proof "$w/c-5-7.json" "$w/req/proof-5-7"
    jq -j .new_checkpoint "$w/c-4-5.json" >"$w/log-5.checkpoint"
    jq -j .new_checkpoint "$w/c-5-7.json" >"$w/log-7.checkpoint"

    # accord as the witness.
    local aname=interop.example/accord-witness aw url log
    aw=$("$ACCORD" --quiet witness key generate --name "$aname" --out "$w/accord-witness.key")
    url=$(start_accord_witness "$logv" "$w/accord-witness-state" "$w/accord-witness.log")
    SERVER_PIDS+=("$(cat "$w/accord-witness.log.pid")")
    drive_witness accord "$url" "$w"
    # The cosigned checkpoint as accord's witness stores it (`witness status`), checked below too.
    "$ACCORD" --quiet witness status --state "$w/accord-witness-state" --json |
        jq -je '.logs[0].checkpoint' >"$w/accord-status.cosigned" || die "accord witness status --json"
    cmp -s "$w/accord-status.cosigned" "$w/accord-7.cosigned" ||
        die "accord witness status does not hold the checkpoint of size 7 with the cosignature answered"

    # litewitness, its key in a dedicated ssh-agent (a short socket path: sun_path is 108 bytes).
    local sock lname=interop.example/litewitness fp port lv
    sock=$(mktemp -d "${TMPDIR:-/tmp}/accord-lw.XXXXXX")
    TEMP_DIRS+=("$sock")
    sock=$sock/agent.sock
    ssh-agent -D -a "$sock" >/dev/null &
    SERVER_PIDS+=($!)
    for i in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
    ssh-keygen -q -t ed25519 -N '' -C litewitness -f "$w/litewitness-ssh"
    SSH_AUTH_SOCK=$sock ssh-add -q "$w/litewitness-ssh" 2>/dev/null || die "ssh-add failed"
    fp=$(ssh-keygen -l -E sha256 -f "$w/litewitness-ssh.pub" | cut -d ' ' -f 2)
    "$bin/witnessctl" add-log -db "$w/litewitness.db" -origin "$WORIGIN" 2>>"$w/witnessctl.log"
    "$bin/witnessctl" add-key -db "$w/litewitness.db" -origin "$WORIGIN" -key "$logv" 2>>"$w/witnessctl.log"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    log=$w/litewitness.log
    "$bin/litewitness" -db "$w/litewitness.db" -name "$lname" -key "$fp" -ssh-agent "$sock" \
        -listen "127.0.0.1:$port" 2>"$log" &
    SERVER_PIDS+=($!)
    for i in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$port/" && break
        kill -0 "${SERVER_PIDS[-1]}" 2>/dev/null || die "litewitness exited: $(cat "$log")"
        sleep 0.1
    done
    lv=$(grep -o 'vkey=[^ ]*' "$log" | head -n 1 | cut -d = -f 2-)
    [ -n "$lv" ] || die "litewitness did not print its vkey: $(cat "$log")"
    say "litewitness $lv at http://127.0.0.1:$port/"
    drive_witness litewitness "http://127.0.0.1:$port/" "$w"
    stop_servers

    # Every cosigned checkpoint, checked by both sides: accord's verifier (examples/
    # verify_cosignature) and torchwood v0.10.0 (note.Open, and VerifyCheckpoint under a policy
    # whose quorum is that witness).
    printf 'log %s\nwitness accord %s\nquorum accord\n' "$logv" "$aw" >"$w/accord.policy"
    printf 'log %s\nwitness lite %s\nquorum lite\n' "$logv" "$lv" >"$w/litewitness.policy"
    local who v size
    for who in accord litewitness; do
        : >"$w/check.out"
        [ "$who" = accord ] && v=$aw || v=$lv
        for size in 2 4 5 7 status; do
            [ "$size" = status ] && [ "$who" != accord ] && continue
            "$accord_check" "$logv" "$v" "$w/$who-$size.cosigned" >>"$w/check.out" ||
                die "accord's verifier refused $who's cosignature of size $size: $(cat "$w/check.out")"
            "$bin/witness-go" verify -log "$logv" -witness "$v" -policy "$w/$who.policy" \
                -checkpoint "$w/$who-$size.cosigned" >>"$w/check.out" ||
                die "torchwood refused $who's cosignature of size $size: $(cat "$w/check.out")"
        done
        grep -q "size 7 root" "$w/check.out" || die "no check of size 7"
        say "$who's cosignatures verify with accord and with torchwood:"
        sed 's/^/    /' "$w/check.out"
    done

    # The checks can fail. torchwood must reject accord's cosignature with a bit flipped, put on
    # another checkpoint body, or under a policy naming another key of the witness's name.
    reject_go() {
        local what=$1 want=$2 cp=$3 v=$4 policy=$5
        if "$bin/witness-go" verify -log "$logv" -witness "$v" -policy "$policy" -checkpoint "$cp" >"$cp.go"; then
            die "torchwood ACCEPTED $what: $(cat "$cp.go")"
        fi
        local line
        while read -r line; do
            grep -qxF "$line" <(cut -d : -f 1 "$cp.go") || die "torchwood on $what: wanted '$line' in: $(cat "$cp.go")"
        done <<<"$want"
        say "torchwood on $what: $(tr '\n' ' ' <"$cp.go")"
    }
    flip_cosignature "$w/accord-7.cosigned" "$w/accord-7.flipped" "$aname"
    reject_go "accord's cosignature with a bit flipped" $'REJECTED note.Open\nREJECTED policy' \
        "$w/accord-7.flipped" "$aw" "$w/accord.policy"
    move_cosignature "$w/accord-7.cosigned" "$w/log-5.checkpoint" "$w/accord-7-on-5" "$aname"
    reject_go "accord's cosignature of size 7 on the checkpoint of size 5" \
        $'REJECTED note.Open\nREJECTED policy' "$w/accord-7-on-5" "$aw" "$w/accord.policy"
    local other
    other=$("$ACCORD" --quiet witness key generate --name "$aname" --out "$w/other-witness.key")
    printf 'log %s\nwitness accord %s\nquorum accord\n' "$logv" "$other" >"$w/other.policy"
    reject_go "accord's cosignature under a policy with another key named $aname" \
        $'OK note.Open\nREJECTED policy' "$w/accord-7.cosigned" "$aw" "$w/other.policy"

    # The reverse: torchwood's CosignatureSigner over accord's checkpoint verifies with accord's
    # verifier, and accord rejects it with a bit flipped, and litewitness's with a bit flipped.
    "$bin/witness-go" cosign -log "$logv" -name interop.example/torchwood -checkpoint "$w/log-7.checkpoint" \
        -out "$w/torchwood-7.cosigned" -vkey-out "$w/torchwood.vkey" >/dev/null
    "$accord_check" "$logv" "$(cat "$w/torchwood.vkey")" "$w/torchwood-7.cosigned" >"$w/check.out" ||
        die "accord's verifier refused torchwood's cosignature: $(cat "$w/check.out")"
    say "torchwood's CosignatureSigner, checked by accord: $(cat "$w/check.out")"
    reject_accord() {
        local what=$1 v=$2 cp=$3
        if "$accord_check" "$logv" "$v" "$cp" >"$cp.accord"; then
            die "accord's verifier ACCEPTED $what: $(cat "$cp.accord")"
        fi
        grep -q '^REJECTED: the cosignature' "$cp.accord" || die "accord on $what: $(cat "$cp.accord")"
        say "accord on $what: $(cat "$cp.accord")"
    }
    flip_cosignature "$w/torchwood-7.cosigned" "$w/torchwood-7.flipped" interop.example/torchwood
    reject_accord "torchwood's cosignature with a bit flipped" "$(cat "$w/torchwood.vkey")" "$w/torchwood-7.flipped"
    flip_cosignature "$w/litewitness-7.cosigned" "$w/litewitness-7.flipped" "$lname"
    reject_accord "litewitness's cosignature with a bit flipped" "$lv" "$w/litewitness-7.flipped"
    move_cosignature "$w/litewitness-7.cosigned" "$w/log-5.checkpoint" "$w/litewitness-7-on-5" "$lname"
    reject_accord "litewitness's cosignature of size 7 on the checkpoint of size 5" "$lv" "$w/litewitness-7-on-5"

    # accord's log collecting cosignatures (FORMAT.md §17) from litewitness and from accord's
    # witness, under a policy (§16) that both accord and torchwood read: a two-of-two quorum.
    # publish must put both cosignatures on the published checkpoint; accord's verifier and
    # torchwood's ParsePolicy + VerifyCheckpoint must accept it under that policy; with
    # litewitness down the next checkpoint must not be published (exit 3), and once it is back
    # it must be.
    local corigin=interop.example/collected cv cdir=$w/collected pub=$w/collected-pub cpol=$w/collected.policy
    $a --ledger "$cdir" init --origin "$corigin" --key-file "$w/collected.skey" >"$w/collected.vkey"
    cv=$(cat "$w/collected.vkey")
    $a --ledger "$cdir" register --key "$w/keys/acme.key" --org Acme >/dev/null
    for i in 1 2 3; do attest "$cdir" "collected product $i"; done
    local aurl lurl lw_pid
    aurl=$(start_accord_witness "$cv" "$w/collected-accord-witness-state" "$w/collected-accord-witness.log")
    SERVER_PIDS+=("$(cat "$w/collected-accord-witness.log.pid")")
    rm -f "$sock"
    ssh-agent -D -a "$sock" >/dev/null &
    SERVER_PIDS+=($!)
    for i in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
    SSH_AUTH_SOCK=$sock ssh-add -q "$w/litewitness-ssh" 2>/dev/null || die "ssh-add failed"
    "$bin/witnessctl" add-log -db "$w/collected-lw.db" -origin "$corigin" 2>>"$w/witnessctl.log"
    "$bin/witnessctl" add-key -db "$w/collected-lw.db" -origin "$corigin" -key "$cv" 2>>"$w/witnessctl.log"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    lurl=http://127.0.0.1:$port/
    start_lw() {
        "$bin/litewitness" -db "$w/collected-lw.db" -name "$lname" -key "$fp" -ssh-agent "$sock" \
            -listen "127.0.0.1:$port" 2>>"$w/collected-litewitness.log" &
        lw_pid=$!
        SERVER_PIDS+=($lw_pid)
        for i in $(seq 100); do
            curl -s -o /dev/null "$lurl" && return 0
            kill -0 "$lw_pid" 2>/dev/null || die "litewitness exited: $(cat "$w/collected-litewitness.log")"
            sleep 0.1
        done
        die "litewitness did not listen at $lurl"
    }
    start_lw
    printf 'log %s\nwitness lite %s %s\nwitness accord %s %s\ngroup both all lite accord\nquorum both\n' \
        "$cv" "$lv" "$lurl" "$aw" "$aurl" >"$cpol"
    local code
    publish_collected() {
        set +e
        $a --ledger "$cdir" publish "$pub" --witness-policy "$cpol" --json >"$w/publish.json" 2>"$w/publish.err"
        code=$?
        set -e
    }
    publish_collected
    [ "$code" = 0 ] || die "publish --witness-policy exited $code: $(cat "$w/publish.err")"
    [ "$(sed -n 2p "$pub/checkpoint")" = 4 ] || die "the published checkpoint is not of size 4: $(cat "$pub/checkpoint")"
    grep -qF "— $lname " "$pub/checkpoint" || die "no litewitness cosignature on the published checkpoint"
    grep -qF "— $aname " "$pub/checkpoint" || die "no accord witness cosignature on the published checkpoint"
    $a verify "$pub" --ledger-key "$cv" --witness-policy "$cpol" --state "$w/verify-state" >"$w/verify.out" 2>&1 ||
        die "accord verify --witness-policy refused what publish collected: $(cat "$w/verify.out")"
    "$bin/witness-go" verify -log "$cv" -witness "$lv" -policy "$cpol" -checkpoint "$pub/checkpoint" >"$w/check.out" ||
        die "torchwood refused the published checkpoint under the policy: $(cat "$w/check.out")"
    say "publish --witness-policy: size 4 cosigned by litewitness and accord's witness; accord verify and torchwood (policy: all of [lite, accord]) accept it:"
    sed 's/^/    /' "$w/check.out"
    # litewitness down: the new checkpoint waits; the published one stays, still witnessed.
    cp "$pub/checkpoint" "$w/published-4"
    kill -TERM "$lw_pid"; wait "$lw_pid" 2>/dev/null || true
    attest "$cdir" "collected product 4"
    publish_collected
    [ "$code" = 3 ] || die "publish with litewitness down exited $code, expected 3: $(cat "$w/publish.err")"
    cmp -s "$pub/checkpoint" "$w/published-4" || die "the checkpoint moved without its quorum"
    jq -e '.witnessing.quorum_met == false' "$w/publish.json" >/dev/null || die "publish JSON: $(cat "$w/publish.json")"
    set +e
    $a verify --ledger "$cdir" --witness-policy "$cpol" --state "$w/verify-state-2" >"$w/verify.out" 2>&1
    code=$?
    set -e
    [ "$code" = 3 ] || die "verify --witness-policy of the ledger with an entry not yet witnessed exited $code, expected 3: $(cat "$w/verify.out")"
    say "litewitness down: publish exits 3 and keeps the checkpoint of size 4; verify of the ledger exits 3"
    start_lw
    publish_collected
    [ "$code" = 0 ] || die "publish after litewitness came back exited $code: $(cat "$w/publish.err")"
    [ "$(sed -n 2p "$pub/checkpoint")" = 5 ] || die "the checkpoint did not advance to 5"
    "$bin/witness-go" verify -log "$cv" -witness "$lv" -policy "$cpol" -checkpoint "$pub/checkpoint" >"$w/check.out" ||
        die "torchwood refused the published checkpoint of size 5: $(cat "$w/check.out")"
    $a verify "$pub" --ledger-key "$cv" --witness-policy "$cpol" --state "$w/verify-state" >"$w/verify.out" 2>&1 ||
        die "accord verify --witness-policy refused size 5: $(cat "$w/verify.out")"
    say "litewitness back: size 5 published with both cosignatures; torchwood and accord verify accept it"
    stop_servers
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
witness) part "witnesses (litewitness, torchwood v0.10)" witness_peers ;;
all)
    part "build accord and the ledgers" prepare
    part "python tlog-scales" python_peer
    part "go note + torchwood" go_peer
    part "witnesses (litewitness, torchwood v0.10)" witness_peers
    ;;
*) echo "usage: tests/interop/run.sh [prepare|python|go|witness|all]" >&2; exit 2 ;;
esac
echo "== interop: time per part"
printf '%s\n' "${timings[@]}"
