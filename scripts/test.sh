#!/usr/bin/env bash
# Installs what Eddy's tests need (idempotently) and runs all of them: unit and property
# tests in every crate, the .slt files and client tests against a real eddy process, the
# PostgreSQL oracle, and the Kafka tests against a real broker (tansu).
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/deps.sh
need_build_packages
# The tests' own: PostgreSQL is the oracle for query results.
{ [ -x /usr/lib/postgresql/15/bin/initdb ] && id postgres >/dev/null 2>&1; } || missing+=(postgresql)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
# The tansu broker's build needs cmake too (and clang, as eddy's); only when it is missing.
tansu_bin="$(command -v tansu || echo "$HOME/.cargo/bin/tansu")"
if [ ! -x "$tansu_bin" ]; then
  dpkg -s cmake >/dev/null 2>&1 || missing+=(cmake)
fi
# Python drivers for the client tests (Debian's interpreter, not a pyenv one).
/usr/bin/python3 -c "import psycopg, psycopg2" >/dev/null 2>&1 || missing+=(python3 python3-psycopg python3-psycopg2)
/usr/bin/python3 -c "import sqlalchemy" >/dev/null 2>&1 || missing+=(python3-sqlalchemy)
# Apache Avro's own Python library writes the Avro test messages (an encoder independent
# of Eddy's decoder).
/usr/bin/python3 -c "import avro.io" >/dev/null 2>&1 || missing+=(python3-avro)
install_missing

# The Kafka-compatible broker the Kafka tests run on loopback. Its default features have
# no storage engine; the build takes about 20 minutes, so only when it is missing.
if [ ! -x "$tansu_bin" ]; then
  echo "installing the tansu broker (cargo install tansu; about 20 minutes, once)"
  CARGO_TARGET_DIR="${TANSU_TARGET_DIR:-${CARGO_TARGET_DIR:-target}/tansu}" \
    cargo install tansu --locked --features dynostore,libsql
  tansu_bin="$HOME/.cargo/bin/tansu"
fi
export TANSU_BIN="$tansu_bin"

echo "== build"
cargo build --workspace --all-targets --locked
echo "== tests: unit, property, clients, .slt files and the PostgreSQL oracle"
cargo test --workspace --locked
