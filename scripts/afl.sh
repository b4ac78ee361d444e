#!/usr/bin/env bash
# Coverage-guided fuzzing of every decoder of untrusted bytes with AFL++ (cargo-afl, stable
# Rust), over the same targets as scripts/fuzz.sh (tests/fuzz_targets):
#   scripts/afl.sh                      # AFL_SECONDS (default 60) per target, every target
#   AFL_SECONDS=600 scripts/afl.sh statement proof
# Needs `cargo install cargo-afl` once (its first build compiles the AFL++ runtime).
# Crashing inputs are copied to fuzz/crashes/<target>/, where `cargo test` replays them;
# commit them with the fix. With AFL_KEEP_CORPUS=1 the inputs AFL found new coverage with
# (up to 4 KiB each) are added to fuzz/corpus/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds="${AFL_SECONDS:-60}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(statement payload entry checkpoint vkey proof export keyfile)
fi
command -v cargo-afl >/dev/null || { echo "cargo-afl is not installed: cargo install cargo-afl" >&2; exit 2; }
(cd fuzz/afl && cargo afl build --release)
bin="$root/fuzz/afl/target/release/accord-fuzz-afl"
out="$root/target/afl"
mkdir -p "$out"
export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
status=0
for t in "${targets[@]}"; do
  rm -rf "${out:?}/$t"
  ACCORD_FUZZ_TARGET="$t" cargo afl fuzz -V "$seconds" -i "fuzz/corpus/$t" -o "$out/$t" "$bin" \
    > "$out/$t.log" 2>&1 || true
  stats="$out/$t/default/fuzzer_stats"
  if [ ! -f "$stats" ]; then
    echo "$t: AFL did not run; see $out/$t.log" >&2
    status=1
    continue
  fi
  execs=$(awk -F': ' '/^execs_done/ {print $2}' "$stats")
  found=$(awk -F': ' '/^corpus_found/ {print $2}' "$stats")
  crashes=$(awk -F': ' '/^saved_crashes/ {print $2}' "$stats")
  echo "$t: $execs executions in ${seconds}s, $found new paths, $crashes crashes"
  if [ "$crashes" != "0" ]; then
    mkdir -p "fuzz/crashes/$t"
    for f in "$out/$t/default/crashes"/id:*; do
      cp "$f" "fuzz/crashes/$t/afl-$(sha256sum "$f" | cut -c1-16)"
    done
    status=1
  fi
  if [ "${AFL_KEEP_CORPUS:-0}" = 1 ]; then
    # The inputs with which AFL found new coverage ("+cov"), up to 4 KiB each, so the committed
    # corpus stays small. (cargo afl cmin traces nothing with this persistent-mode harness.)
    for f in "$out/$t/default/queue"/id:*+cov*; do
      [ -f "$f" ] && [ "$(stat -c %s "$f")" -le 4096 ] \
        && cp "$f" "fuzz/corpus/$t/afl-$(sha256sum "$f" | cut -c1-16)"
    done
  fi
done
exit $status
