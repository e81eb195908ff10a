# Debian packages Eddy needs, for scripts/run.sh and scripts/test.sh (sourced, not run).
# Each `need_*` function adds what is missing to the `missing` array; `install_missing`
# installs them with apt-get (idempotent: nothing to do when all are there).

missing=()

# What building eddy needs: a C toolchain; OpenSSL, zlib and SASL for rdkafka's bundled
# librdkafka; RocksDB itself from Debian (see .cargo/config.toml), whose Rust bindings
# bindgen generates with libclang.
need_build_packages() {
  command -v cc >/dev/null 2>&1 || missing+=(build-essential)
  command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
  local pkg
  for pkg in libssl-dev zlib1g-dev libsasl2-dev librocksdb-dev clang libclang-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
}

install_missing() {
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}"
  fi
  missing=()
}
