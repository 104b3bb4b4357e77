#!/usr/bin/env bash
# Installs what building and testing Portico needs on Debian 12, and nothing twice.
# Debian packages first, then the npm packages the black-box tests drive Portico with.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(
  build-essential pkg-config clang libclang-rt-14-dev
  libuv1-dev node-llhttp libjansson-dev libyaml-dev libssl-dev libcmocka-dev
  libsqlite3-dev libargon2-dev
  curl openssl nginx-light wrk iproute2 nftables iptables netcat-openbsd procps jq
  nodejs npm
)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A machine that already has node from elsewhere needs no Debian nodejs/npm.
if command -v node >/dev/null && command -v npm >/dev/null; then
  tmp=(); for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm clients used by black-box tests (official SDKs) live in tests/node.
if [ -f tests/node/package.json ]; then
  stamp=tests/node/node_modules/.portico-stamp
  if [ ! -f "$stamp" ] || [ tests/node/package.json -nt "$stamp" ] || \
     { [ -f tests/node/package-lock.json ] && [ tests/node/package-lock.json -nt "$stamp" ]; }; then
    echo "deps: installing npm packages for tests"
    (cd tests/node && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; \
      else npm install --no-audit --no-fund --loglevel=error; fi) >/dev/null
    touch "$stamp"
  fi
fi
