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
BUILD=${BUILD:-build}
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

# Counts TAP lines of one run. $1 = suite label, $2 = log file, $3 = exit status.
tally() {
    local label=$1 log=$2 rc=$3 ok nok skip
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
    printf '  %-48s %3d ok %3d failed %3d skipped%s\n' "$label" "$ok" "$nok" "$skip" "$( ((rc != 0)) && echo " (exit $rc)")"
}

want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }
match() { [ -z "$FILTER" ] || [[ $1 == *"$FILTER"* ]]; }

if want unit; then
    echo "unit tests"
    while IFS= read -r t; do
        match "$t" || continue
        log=$logdir/unit-$(echo "${t#$BUILD/tests/unit/}" | tr / -).log
        timeout 120 "$t" >"$log" 2>&1; rc=$?
        tally "unit/${t#$BUILD/tests/unit/}" "$log" $rc
    done < <(find "$BUILD/tests/unit" -type f -name 'test_*' -perm -u+x 2>/dev/null | sort)
fi

if want blackbox; then
    echo "black-box tests"
    for t in tests/blackbox/*.sh; do
        [ -e "$t" ] || continue
        [[ "$(basename "$t")" == lib*.sh ]] && continue   # shared helpers, sourced by the tests
        match "$t" || continue
        log=$logdir/blackbox-$(basename "$t" .sh).log
        timeout 300 bash "$t" >"$log" 2>&1; rc=$?
        tally "blackbox/$(basename "$t")" "$log" $rc
    done
fi

if want node && ls tests/node/*.test.mjs >/dev/null 2>&1; then
    echo "node client tests"
    for t in tests/node/*.test.mjs; do
        match "$t" || continue
        log=$logdir/node-$(basename "$t" .test.mjs).log
        timeout 300 node --test --test-reporter=tap "$t" >"$log" 2>&1; rc=$?
        tally "node/$(basename "$t")" "$log" $rc
    done
fi

if want fuzz && [ -z "${SANITIZE:-}" ] && ls tests/fuzz/fuzz_*.c >/dev/null 2>&1; then
    echo "fuzz (${FUZZ_SECONDS}s each)"
    if make --no-print-directory -j"$(nproc)" fuzz >"$logdir/fuzz-build.log" 2>&1; then
        for f in tests/fuzz/fuzz_*.c; do
            name=$(basename "$f" .c)
            match "$name" || continue
            log=$logdir/$name.log
            corpus=tests/fuzz/corpus/${name#fuzz_}
            work=$BUILD/fuzz-corpus/$name; mkdir -p "$work"
            dirs=("$work"); [ -d "$corpus" ] && dirs+=("$corpus")
            timeout $((FUZZ_SECONDS + 60)) build/fuzz/$name -max_total_time="$FUZZ_SECONDS" \
                -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${dirs[@]}" >"$log" 2>&1; rc=$?
            if ((rc == 0)); then echo "ok - $name" >>"$log"; else echo "not ok - $name crashed (see $log)" >>"$log"; fi
            tally "fuzz/$name" "$log" 0
        done
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
