#!/usr/bin/env bash
# control_snapshot.sh: how long compiling the control snapshot takes and how much memory it
# adds, for an empty store and for a large one (100,000 consumers with 200,000 keys by
# default), each in a fresh process, with the cost of one key lookup.
#
# Targets (issue: control plane): compile in under 1 s, memory added under 64 MB.
#
#   bench/control_snapshot.sh
#   CONSUMERS=10000 KEYS=20000 bench/control_snapshot.sh     a smaller run
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh run   # the toolchain and libraries it builds against, when missing

CONSUMERS=${CONSUMERS:-100000}
KEYS=${KEYS:-200000}
SERVICES=${SERVICES:-100}
ROUNDS=${ROUNDS:-5}
BUILD=${BUILD:-build}
BIN=$BUILD/bench/control_snapshot

make --no-print-directory -j"$(nproc)" "$BUILD/libportico.a" >/dev/null
mkdir -p "$BUILD/bench"
PKGS="libuv jansson yaml-0.1 openssl sqlite3 libargon2 libpq"
# shellcheck disable=SC2046
cc -std=c11 -O2 -g -D_GNU_SOURCE -Isrc $(pkg-config --cflags $PKGS) -o "$BIN" bench/control_snapshot.c \
    "$BUILD/libportico.a" $(pkg-config --libs $PKGS) -lpthread -lm

T=$(mktemp -d /tmp/pt-bench-snapshot.XXXXXX)
trap 'rm -rf "$T"' EXIT

echo "empty store"
empty=$("$BIN" compile "$T/empty" "$ROUNDS")
echo "  $empty"

echo "large store: $CONSUMERS consumers, $KEYS keys, $SERVICES services"
"$BIN" fill "$T/large" "$CONSUMERS" "$KEYS" "$SERVICES" | sed 's/^/  /'
echo "  database: $(du -sh "$T/large" | cut -f1)"
large=$("$BIN" compile "$T/large" "$ROUNDS")
echo "  $large"

field() { sed -n "s/.*$1=\([0-9.-]*\).*/\1/p" <<<"$2"; }
ms=$(field compile_ms_median "$large")
added=$(( $(field rss_added_kb "$large") - $(field rss_added_kb "$empty") ))
echo
printf 'compile (median of %d): %s ms   target < 1000 ms\n' "$ROUNDS" "$ms"
printf 'memory added by the snapshot beyond the empty one: %d kB (%s MB)   target < 64 MB\n' "$added" \
    "$(awk -v kb="$added" 'BEGIN { printf "%.1f", kb / 1024 }')"
printf 'key lookup: %s ns (empty store: no keys)\n' "$(field lookup_ns "$large")"
