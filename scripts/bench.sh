#!/bin/sh
# Cost benchmarks of issue 3 (docs/PERFORMANCE.md): builds the release binary, then runs
# benches/ledger.rs, which prints the figures as tables on stdout (criterion's proof benchmarks
# first). The ledger of ACCORD_BENCH_ENTRIES entries (default 1,000,000) is built once and
# cached under target/accord-bench/; delete that directory to rebuild it.
#
#   scripts/bench.sh                              # 1,000,000 entries
#   ACCORD_BENCH_ENTRIES=100000 scripts/bench.sh  # a quicker run
#
# Other knobs: ACCORD_BENCH_ORGS (300), ACCORD_BENCH_REPS (3 rounds, median reported),
# ACCORD_BENCH_APPEND (100,000 statements appended for the bulk-append figure),
# ACCORD_BENCH_VERIFY_ONLY=1 (only the raw, ledger and export verify rates, side by side).
set -eu
cd "$(dirname "$0")/.."
: "${ACCORD_BENCH_ENTRIES:=1000000}"
export ACCORD_BENCH_ENTRIES
cargo build --release --bin accord
cargo bench --bench ledger
