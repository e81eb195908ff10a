#!/usr/bin/env bash
# Installs what building Eddy needs (Debian packages, only when missing), then builds and
# runs the server: `bash scripts/run.sh [eddy flags]`, e.g. `--listen 127.0.0.1:6875`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
need_build_packages
install_missing
exec cargo run --release --bin eddy -- "$@"
