#!/usr/bin/env bash
# Crash harness: SIGKILL `accord attest` at random moments, many times, on a release build,
# then check that the ledger verifies and holds every append that reported success.
#   KILLS=200 scripts/crash-harness.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
KILLS="${KILLS:-200}" ACCORD_KILLS="${KILLS:-200}" \
  CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}" \
  cargo test --release --quiet --test sigkill -- --nocapture 2>&1 | grep -E 'kills:|test result'
