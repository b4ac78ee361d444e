#!/usr/bin/env bash
# Installs the S3 server the object-storage tests run against (moto in server mode, pinned in
# tests/moto/requirements.txt) into $CARGO_TARGET_DIR/moto/venv (default target/moto/venv), and
# prints the path of its moto_server. .ci/run exports that path as ACCORD_MOTO_SERVER before
# `cargo test`; a developer can run this once and the tests find the venv by themselves.
#
# Needs Python >= 3.9 with venv and pip (and PyPI, the first time). Idempotent: a venv that
# already holds the pinned versions is left as it is.
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
VENV=$TARGET/moto/venv
REQ=tests/moto/requirements.txt
STAMP=$VENV/.requirements
if [ -x "$VENV/bin/moto_server" ] && [ -f "$STAMP" ] && cmp -s "$REQ" "$STAMP"; then
    echo "$VENV/bin/moto_server"
    exit 0
fi
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" >&2
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ" >&2
cp "$REQ" "$STAMP"
"$VENV/bin/python" -c 'import importlib.metadata as m; print("moto", m.version("moto"), file=__import__("sys").stderr)'
echo "$VENV/bin/moto_server"
