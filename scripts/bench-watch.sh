#!/bin/sh
# Issue 15's monitor benchmark (docs/PERFORMANCE.md): `accord watch` and `accord verify DIR` of a
# published log of N entries, run again after 1,000 more were published, resumed from the
# state the first run left, against a full verification of the same directory (--full, from a
# copy of the same state), in alternating rounds.
#
#   scripts/bench-watch.sh                               # 1,000,000 entries
#   ACCORD_BENCH_ENTRIES=100000 scripts/bench-watch.sh   # a quicker run
#
# It needs the cached ledger and its copy with 1,000 more entries that
# `ACCORD_BENCH_PUBLISH=1 cargo bench --bench ledger` (or scripts/bench-serve.sh) leaves in
# target/accord-bench/. Knob: BENCH_ROUNDS (3, median reported).
set -eu
cd "$(dirname "$0")/.."
: "${ACCORD_BENCH_ENTRIES:=1000000}"
: "${ACCORD_BENCH_ORGS:=300}"
: "${BENCH_ROUNDS:=3}"
base="target/accord-bench/ledger-${ACCORD_BENCH_ENTRIES}-o${ACCORD_BENCH_ORGS}"
[ -d "$base/ledger" ] && [ -d "$base-published-ledger" ] || {
    echo "bench-watch: run ACCORD_BENCH_PUBLISH=1 cargo bench --bench ledger first" >&2
    exit 2
}
cargo build --release --bin accord
accord="$(pwd)/target/release/accord"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
org="Bench Org 0007"
now() { date +%s.%N; }
"$accord" -q --ledger "$base/ledger" publish "$work/public" >/dev/null
vkey=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["vkey"])' "$work/public/accord/log.json")
t0=$(now)
"$accord" -q watch "$work/public" --ledger-key "$vkey" --org "$org" --state "$work/state" >/dev/null
t1=$(now)
first=$(echo "$t1 - $t0" | bc)
# The same log, 1,000 entries on: published over the first.
"$accord" -q --ledger "$base-published-ledger" publish "$work/public" >/dev/null
for r in $(seq 1 "$BENCH_ROUNDS"); do
    for what in watch verify full; do
        rm -rf "$work/s"; cp -a "$work/state" "$work/s"
        t0=$(now)
        case $what in
            watch) "$accord" -q watch "$work/public" --ledger-key "$vkey" --org "$org" --state "$work/s" >/dev/null ;;
            verify) "$accord" -q verify "$work/public" --ledger-key "$vkey" --state "$work/s" >/dev/null ;;
            full) "$accord" -q verify "$work/public" --ledger-key "$vkey" --state "$work/s" --full >/dev/null ;;
        esac
        t1=$(now)
        echo "$what $(echo "$t1 - $t0" | bc)" >> "$work/times"
    done
done
med() { grep "^$1 " "$work/times" | cut -d' ' -f2 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
full=$(med full)
echo "watch and verify of a published directory: $ACCORD_BENCH_ENTRIES entries remembered, 1,000 new; median of $BENCH_ROUNDS alternating rounds; $(nproc) cores"
echo "| measure | time | ratio to the full verification |"
echo "| --- | ---: | ---: |"
echo "| first watch run (verifies all $ACCORD_BENCH_ENTRIES entries) | ${first} s | |"
echo "| verify DIR --full of all entries | ${full} s | 1.00 |"
for what in verify watch; do
    t=$(med $what)
    echo "| $what DIR resumed | ${t} s | $(echo "scale=3; $t / $full" | bc) |"
done
