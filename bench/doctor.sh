#!/usr/bin/env bash
# doctor.sh: how long `portico doctor` takes to decide on the servers that make it wait, beside
# its promise of an answer within 3 seconds. The black-box tests (tests/blackbox/doctor_proto.sh)
# check what it decides on these servers; how long that takes is a timing, so it is measured here.
#
#   bench/doctor.sh                 ROUNDS runs of the doctor on each case (default 5)
#
# The cases: a server that reads every probe and waits for more, an HTTP handler that blocks,
# one that answers after 1.6 s (past the default 1 s probe timeout), a stdio MCP server that reads
# and never answers, and one that never reads its stdin. Each line prints the median and the
# largest duration the doctor reported (its own `duration_ms`), and whether both are under 3 s.
set -u
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-5}
LAB=$UPSTREAMS/doctor
PROMISE_MS=3000

# lab NAME CMD...: starts a lab server and waits for its "listening" line.
lab() {
    local name=$1
    shift
    "$@" >"$T/$name.log" 2>&1 &
    track $!
    wait_for 20 grep -q '^listening' "$T/$name.log" || { echo "bench: lab server $name did not start" >&2; exit 1; }
}

# measure NAME DOCTOR_ARG...: ROUNDS runs; prints the case's median and largest duration.
measure() {
    local name=$1 ms=() i d max=0
    shift
    for ((i = 0; i < ROUNDS; i++)); do
        d=$("$PORTICO" doctor --json "$@" 2>/dev/null | jq -r '.duration_ms | floor')
        [[ $d =~ ^[0-9]+$ ]] || { echo "bench: $name: the doctor gave no report" >&2; exit 1; }
        ms+=("$d")
        ((d > max)) && max=$d
    done
    local med
    med=$(median "${ms[@]}")
    printf '%-44s %8s ms %8s ms   %s\n' "$name" "$med" "$max" \
        "$([ "${med%.*}" -lt $PROMISE_MS ] && [ "$max" -lt $PROMISE_MS ] && echo within || echo OVER)"
}

echo "portico doctor: duration_ms over $ROUNDS runs per case; promise: under $PROMISE_MS ms"
printf '%-44s %11s %11s\n' case median largest
P1=$(free_port)
lab waits python3 "$LAB/slowlab.py" waits "$P1"
measure "server that reads and waits (host:port)" "127.0.0.1:$P1"
P2=$(free_port)
lab blocked python3 "$LAB/slowlab.py" blocked "$P2"
measure "HTTP handler that blocks" "http://127.0.0.1:$P2/"
P3=$(free_port)
lab slow python3 "$LAB/slowlab.py" slow "$P3" 1.6
measure "HTTP handler answering after 1.6 s" "http://127.0.0.1:$P3/"
measure "stdio MCP server that never answers" --mcp-stdio -- node -e 'process.stdin.on("data", () => {})'
measure "stdio MCP server that never reads" --mcp-stdio -- sh -c 'exec sleep 30'
