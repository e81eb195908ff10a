#!/usr/bin/env bash
# Installs what Eddy's tests need (idempotently) and runs all of them:
# unit and property tests in every crate, and the .slt files against a real eddy process.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use. PostgreSQL is the oracle for query results.
missing=()
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
{ [ -x /usr/lib/postgresql/15/bin/initdb ] && id postgres >/dev/null 2>&1; } || missing+=(postgresql)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
# Python drivers for the client tests (Debian's interpreter, not a pyenv one).
/usr/bin/python3 -c "import psycopg, psycopg2" >/dev/null 2>&1 || missing+=(python3 python3-psycopg python3-psycopg2)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
fi

echo "== build"
cargo build --workspace --all-targets --locked
echo "== tests: unit, property, clients, .slt files and the PostgreSQL oracle"
cargo test --workspace --locked
