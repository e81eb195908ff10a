#!/usr/bin/env bash
# Installs what Eddy's tests need (idempotently) and runs all of them:
# unit and property tests in every crate, and the .slt files against a real eddy process.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use. PostgreSQL is the oracle for query results.
missing=()
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
[ -x /usr/lib/postgresql/15/bin/initdb ] || command -v initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
fi

echo "== build"
cargo build --workspace --all-targets --locked
echo "== unit and property tests"
cargo test --workspace --locked --lib --bins
echo "== sqllogictest files against a real eddy"
cargo test -p eddy-tests --locked --test slt
