#!/usr/bin/env bash
# Installs what one use of Portico needs on Debian 12, nothing twice, and says nothing when
# nothing is missing.
#   scripts/deps.sh run     building and running: the toolchain and the libraries (make run)
#   scripts/deps.sh test    what the tests drive and check Portico with, and the npm SDK
#                           clients in tests/node (make test; building needs `run` too)
#   scripts/deps.sh bench   the benchmarks' load generator and reference proxy (bench/*.sh)
# Several sets may be named at once; with none, all three.
set -euo pipefail
cd "$(dirname "$0")/.."

run_debs=(build-essential pkg-config libuv1-dev node-llhttp libjansson-dev libyaml-dev libssl-dev
  libsqlite3-dev libargon2-dev libnghttp2-dev libpq-dev libhiredis-dev)
# cmocka: unit tests; clang + its runtime: fuzz harnesses; nftables, iptables, iproute2 (ip
# netns, ss) and netcat: the doctor's network tests; wrk: keep-alive load in the reload test.
# sqlite3: the fault tests check the store file with PRAGMA integrity_check. postgresql and
# redis-server: the cluster tests start their own servers on loopback; chromium: the console's
# end-to-end tests, driven by puppeteer-core from tests/node.
test_debs=(libcmocka-dev clang libclang-rt-14-dev curl openssl jq iproute2 nftables iptables
  netcat-openbsd procps wrk sqlite3 nodejs npm nghttp2-client postgresql redis-server chromium)
bench_debs=(wrk nginx-light curl jq iproute2 procps nodejs valgrind nghttp2-client)

sets=("$@")
((${#sets[@]})) || sets=(run test bench)
debs=() npm=0
for s in "${sets[@]}"; do
  case $s in
    run) debs+=("${run_debs[@]}") ;;
    test) debs+=("${test_debs[@]}"); npm=1 ;;
    bench) debs+=("${bench_debs[@]}") ;;
    *) echo "deps: unknown set '$s' (run, test or bench)" >&2; exit 64 ;;
  esac
done

# A machine that already has node from elsewhere needs no Debian nodejs/npm.
have_node=0
command -v node >/dev/null && command -v npm >/dev/null && have_node=1
missing=()
for p in $(printf '%s\n' "${debs[@]}" | sort -u); do
  [[ $have_node == 1 && ($p == nodejs || $p == npm) ]] && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm clients used by the tests (official SDKs) live in tests/node. They are current when our
# stamp or npm's own record of the install (node_modules/.package-lock.json) is newer than the
# manifests. A node_modules that is a symlink is an install shared with another checkout: it is
# never reinstalled from here (npm ci would empty the shared directory first); one that leads
# nowhere is removed and replaced by a local install.
if ((npm)) && [ -L tests/node/node_modules ] && [ ! -d tests/node/node_modules ]; then
  rm -f tests/node/node_modules
fi
npm_current() {
  local m
  for m in tests/node/node_modules/.portico-stamp tests/node/node_modules/.package-lock.json; do
    [ -f "$m" ] && [ "$m" -nt tests/node/package.json ] &&
      { [ ! -f tests/node/package-lock.json ] || [ "$m" -nt tests/node/package-lock.json ]; } && return 0
  done
  return 1
}
if ((npm)) && [ -f tests/node/package.json ] && [ ! -L tests/node/node_modules ] && ! npm_current; then
  echo "deps: installing npm packages for tests"
  (cd tests/node && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; \
    else npm install --no-audit --no-fund --loglevel=error; fi) >/dev/null
  touch tests/node/node_modules/.portico-stamp
fi
