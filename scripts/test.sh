#!/usr/bin/env bash
# Installs what Eddy's tests need (idempotently) and runs all of them: unit and property
# tests in every crate, the .slt files and client tests against a real eddy process, the
# PostgreSQL oracle, and the Kafka tests against a real broker (tansu).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use. PostgreSQL is the oracle for query results.
missing=()
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
{ [ -x /usr/lib/postgresql/15/bin/initdb ] && id postgres >/dev/null 2>&1; } || missing+=(postgresql)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
# rdkafka's bundled librdkafka links OpenSSL and zlib (and SASL for GSSAPI).
for pkg in libssl-dev zlib1g-dev libsasl2-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
# RocksDB itself comes from Debian (see .cargo/config.toml); the rocksdb crate generates
# its bindings with bindgen, which needs libclang.
for pkg in librocksdb-dev clang libclang-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
# The tansu broker's build needs clang (bindgen) and cmake; only when it is missing.
tansu_bin="$(command -v tansu || echo "$HOME/.cargo/bin/tansu")"
if [ ! -x "$tansu_bin" ]; then
  for pkg in clang libclang-dev cmake; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
fi
# Python drivers for the client tests (Debian's interpreter, not a pyenv one).
/usr/bin/python3 -c "import psycopg, psycopg2" >/dev/null 2>&1 || missing+=(python3 python3-psycopg python3-psycopg2)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
fi

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
