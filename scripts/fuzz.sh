#!/usr/bin/env bash
# Mutation fuzzing of every decoder of untrusted bytes (tests/fuzz_targets), on stable Rust:
#   FUZZ_SECONDS=60 scripts/fuzz.sh        # seconds per target
# Inputs that panic are saved under fuzz/crashes/<target>/ and replayed by `cargo test`.
# (cargo-fuzz/libFuzzer need a nightly toolchain; scripts/afl.sh runs coverage-guided AFL++ on stable.)
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS="${FUZZ_SECONDS:-60}" cargo test --release --test fuzz -- --ignored fuzz_for_a_while --nocapture 2>&1 \
  | grep -E 'inputs in|panicked|saved as|test result'
