#!/usr/bin/env bash
# Runs every test and ends with one line "N passed, M failed, K skipped".
#   unit      build/tests/unit/**/test_*  (cmocka, TAP output)
#   blackbox  tests/blackbox/*.sh         (start the real binary; print TAP "ok - name")
#   node      tests/node/*.test.mjs       (official SDK clients; node --test)
#   fuzz      tests/fuzz/fuzz_*.c         (libFuzzer, a short run each; skipped under SANITIZE)
# ONLY=unit|blackbox|node|fuzz and a second filter word (FILTER=name) narrow the run.
# A TAP line with a SKIP directive counts as skipped whatever its "ok"/"not ok" (lib.sh and
# node --test write "ok ... # SKIP reason", cmocka writes "not ok N # SKIP name").
set -uo pipefail
cd "$(dirname "$0")/.."
# The same build directory the Makefile picks: build/, or build/san-<list> under SANITIZE.
if [ -n "${SANITIZE:-}" ]; then BUILD=${BUILD:-build/san-${SANITIZE//,/-}}; else BUILD=${BUILD:-build}; fi
export PORTICO_BIN=$PWD/$BUILD/portico
export PORTICO_ROOT=$PWD
export CMOCKA_MESSAGE_OUTPUT=TAP
ONLY=${ONLY:-}
FILTER=${FILTER:-}
FUZZ_SECONDS=${FUZZ_SECONDS:-15}
logdir=$BUILD/test-logs
mkdir -p "$logdir" # each log is overwritten by its own run; nothing else is removed

passed=0 failed=0 skipped=0
failures=() skips=()
SKIP_RE='^(not )?ok .*# [Ss][Kk][Ii][Pp]([^A-Za-z]|$)'

# Wall-clock milliseconds, to print each suite's time beside its counts.
now_ms() { date +%s%3N; }

# Counts TAP lines of one run. $1 = suite label, $2 = log file, $3 = exit status,
# $4 = how long it took in ms (optional).
tally() {
    local label=$1 log=$2 rc=$3 ms=${4:-} ok nok skip
    ok=$(grep -E '^ok ' "$log" | grep -cvE "$SKIP_RE" || true)
    nok=$(grep -E '^not ok ' "$log" | grep -cvE "$SKIP_RE" || true)
    skip=$(grep -cE "$SKIP_RE" "$log" || true)
    passed=$((passed + ok)); failed=$((failed + nok)); skipped=$((skipped + skip))
    if ((nok > 0)); then
        while IFS= read -r l; do failures+=("$label: ${l#not ok }"); done < <(grep -E '^not ok ' "$log" | grep -vE "$SKIP_RE")
    fi
    if ((skip > 0)); then
        while IFS= read -r l; do skips+=("$label: $l"); done < <(grep -E "$SKIP_RE" "$log" | sed -E 's/^(not )?ok [0-9]* *-? *//')
    fi
    if ((rc != 0 && nok == 0)); then
        failed=$((failed + 1)); failures+=("$label: exited with status $rc (see $log)")
    fi
    if ((ok + nok + skip == 0 && rc == 0)); then
        failed=$((failed + 1)); failures+=("$label: ran no test (see $log)")
    fi
    printf '  %-48s %3d ok %3d failed %3d skipped %s%s\n' "$label" "$ok" "$nok" "$skip" \
        "$([ -n "$ms" ] && printf '%6.1fs' "$((ms / 100))e-1")" "$( ((rc != 0)) && echo " (exit $rc)")"
}

want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }
match() { [ -z "$FILTER" ] || [[ $1 == *"$FILTER"* ]]; }

if want unit; then
    echo "unit tests"
    while IFS= read -r t; do
        match "$t" || continue
        log=$logdir/unit-$(echo "${t#$BUILD/tests/unit/}" | tr / -).log
        t0=$(now_ms); timeout 120 "$t" >"$log" 2>&1; rc=$?
        tally "unit/${t#$BUILD/tests/unit/}" "$log" $rc $(($(now_ms) - t0))
    done < <(find "$BUILD/tests/unit" -type f -name 'test_*' -perm -u+x 2>/dev/null | sort)
fi

# Black-box tests mostly wait on processes and sockets, so BB_JOBS of them run side by side
# (ports are claimed through lib.sh's free_port). A test whose file has a line starting with
# "# run alone:" (it measures time, memory or load) runs by itself after the others.
bb_launch() {
    local t=$1 log=$logdir/blackbox-$(basename "$1" .sh).log t0
    t0=$(now_ms)
    timeout 300 bash "$t" >"$log" 2>&1
    echo "$? $(($(now_ms) - t0))" >"$log.rc.tmp" && mv "$log.rc.tmp" "$log.rc"
}
bb_tally() {
    local log=$logdir/blackbox-$(basename "$1" .sh).log rc ms
    read -r rc ms <"$log.rc"
    rm -f "$log.rc"
    tally "blackbox/$(basename "$1")" "$log" "$rc" "$ms"
}
if want blackbox; then
    bb_jobs=${BB_JOBS:-2}
    echo "black-box tests ($bb_jobs at a time; the ones that must run alone after them)"
    shared=() alone=()
    for t in tests/blackbox/*.sh; do
        [ -e "$t" ] || continue
        [[ "$(basename "$t")" == lib*.sh ]] && continue   # shared helpers, sourced by the tests
        match "$t" || continue
        if grep -q '^# run alone:' "$t"; then alone+=("$t"); else shared+=("$t"); fi
    done
    pending=() running=0
    for t in "${shared[@]}"; do
        if ((running >= bb_jobs)); then wait -n; running=$((running - 1)); fi
        bb_launch "$t" & running=$((running + 1))
        pending+=("$t")
        # tally, in order, the tests at the head of the list that have finished
        while ((${#pending[@]})) && [ -e "$logdir/blackbox-$(basename "${pending[0]}" .sh).log.rc" ]; do
            bb_tally "${pending[0]}"; pending=("${pending[@]:1}")
        done
    done
    wait
    for t in "${pending[@]}"; do bb_tally "$t"; done
    for t in "${alone[@]}"; do bb_launch "$t"; bb_tally "$t"; done
fi

if want node && ls tests/node/*.test.mjs >/dev/null 2>&1; then
    echo "node client tests"
    for t in tests/node/*.test.mjs; do
        match "$t" || continue
        log=$logdir/node-$(basename "$t" .test.mjs).log
        t0=$(now_ms); timeout 300 node --test --test-reporter=tap "$t" >"$log" 2>&1; rc=$?
        tally "node/$(basename "$t")" "$log" $rc $(($(now_ms) - t0))
    done
fi

# Fuzz runs are CPU-bound and independent: as many run at once as there are cores, so the suite
# spends the same fuzzing time per harness in a fraction of the wall-clock time.
fuzz_one() {
    local name=$1 log=$logdir/$1.log corpus=tests/fuzz/corpus/${1#fuzz_} work=$BUILD/fuzz-corpus/$1 rc
    mkdir -p "$work"
    local dirs=("$work"); [ -d "$corpus" ] && dirs+=("$corpus")
    timeout $((FUZZ_SECONDS + 60)) build/fuzz/$name -max_total_time="$FUZZ_SECONDS" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${dirs[@]}" >"$log" 2>&1; rc=$?
    if ((rc == 0)); then echo "ok - $name" >>"$log"; else echo "not ok - $name crashed (see $log)" >>"$log"; fi
}

if want fuzz && [ -z "${SANITIZE:-}" ] && ls tests/fuzz/fuzz_*.c >/dev/null 2>&1; then
    jobs=${FUZZ_JOBS:-$(nproc)}
    echo "fuzz (${FUZZ_SECONDS}s each, $jobs at a time)"
    if make --no-print-directory -j"$(nproc)" fuzz >"$logdir/fuzz-build.log" 2>&1; then
        names=()
        for f in tests/fuzz/fuzz_*.c; do
            name=$(basename "$f" .c)
            match "$name" && names+=("$name")
        done
        t0=$(now_ms) running=0
        for name in "${names[@]}"; do
            if ((running >= jobs)); then wait -n; running=$((running - 1)); fi
            fuzz_one "$name" & running=$((running + 1))
        done
        wait
        for name in "${names[@]}"; do tally "fuzz/$name" "$logdir/$name.log" 0; done
        echo "  fuzzing took $(( ($(now_ms) - t0) / 1000 ))s"
    else
        failed=$((failed + 1)); failures+=("fuzz: harnesses did not build (see $logdir/fuzz-build.log)")
    fi
fi

if ((${#skips[@]})); then
    echo; echo "skipped:"; printf '  %s\n' "${skips[@]}"
fi
if ((${#failures[@]})); then
    echo; echo "failures:"; printf '  %s\n' "${failures[@]}"
fi
echo
echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
