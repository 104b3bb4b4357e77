#!/usr/bin/env bash
# prompt.sh: what a prompt API adds to the same model call made directly. One Portico, one fast
# upstream (nginx answering a fixed OpenAI chat completion), one model on it, and two ways to
# call it in the same run:
#   direct  POST /v1/chat/completions with the system and user messages written by the client
#   prompt  POST /apis/greet {"name":"world"} on a `kind: prompt` service whose template renders
#           the same two messages (variables checked, messages rendered, the answer's text
#           wrapped as {"output","usage","cost"})
# wrk posts to both, alternating, ROUNDS rounds of DURATION seconds; medians of requests/s,
# latency and the gateway's CPU time per request are printed, and the prompt API's overhead per
# call (microseconds of gateway CPU, and of p50 latency).
#
#   bench/prompt.sh     defaults: DURATION=4 ROUNDS=10 WARMUP=3 CONNS=50 THREADS=2
set -uo pipefail
. "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-4}
ROUNDS=${ROUNDS:-10}
WARMUP=${WARMUP:-3}
UP=$(free_port); PP=$(free_port)

bench_upstream_start "$UP"

cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: $T/portico-access.log
limits: { idle_timeout: 300s }
providers:
  - { name: oai, type: openai, base_url: "http://127.0.0.1:$UP/v1", api_key: bench-key }
models:
  - { name: bench-oai, targets: [{ provider: oai, model: gpt-4o }] }
services:
  - name: greet
    kind: prompt
    model: bench-oai
    prompt: { system: "You greet people.", user: "Greet {{name}}." }
    variables: { name: { type: string, required: true, max_length: 100 } }
routes:
  - { name: greet, match: { path_prefix: /apis/greet }, service: greet }
EOF
portico_start "$T/portico.yaml" || { echo "bench: portico did not start" >&2; exit 1; }

declare -A URL=()
URL[direct]="http://127.0.0.1:$PP/v1/chat/completions"
URL[prompt]="http://127.0.0.1:$PP/apis/greet"
BENCH_BODY='{"model":"bench-oai","messages":[{"role":"system","content":"You greet people."},{"role":"user","content":"Greet world."}],"stream":false}'
post_script "$T/direct.lua"
BENCH_BODY='{"name":"world"}'
post_script "$T/prompt.lua"

# Both answer with the upstream's text, and the prompt API sent what the direct call sends.
got=$(curl -s -m 5 -X POST -H 'Content-Type: application/json' -d '{"name":"world"}' "${URL[prompt]}" | jq -r .output)
[ "$got" = "Hello from the bench upstream." ] || { echo "bench: the prompt API answered '$got'" >&2; exit 1; }
got=$(curl -s -m 5 -X POST -H 'Content-Type: application/json' \
    -d '{"model":"bench-oai","messages":[{"role":"system","content":"You greet people."},{"role":"user","content":"Greet world."}]}' \
    "${URL[direct]}" | jq -r '.choices[0].message.content')
[ "$got" = "Hello from the bench upstream." ] || { echo "bench: the direct call answered '$got'" >&2; exit 1; }

gw=$(pgrep -P "$PORTICO_PID" -x portico | head -n 1); gw=${gw:-$PORTICO_PID}
ticks() { awk '{ print $14 + $15 }' "/proc/$gw/stat" 2>/dev/null || echo 0; }
declare -A rps=() p50=() p99=() cpu=() errs=()
one() { # NAME SECONDS [quiet]
    local t0 r a b c n e s us
    t0=$(ticks)
    r=$(wrk_post "${URL[$1]}" "$2" "$T/$1.lua")
    [ -n "$r" ] || { echo "bench: wrk produced no result for $1" >&2; exit 1; }
    [ -n "${3:-}" ] && return
    read -r a b c n e s <<<"$r"
    us=$(awk -v t=$(($(ticks) - t0)) -v k="$(getconf CLK_TCK)" -v n="$n" 'BEGIN { printf "%.2f", n ? t / k * 1e6 / n : 0 }')
    rps[$1]+="$a "; p50[$1]+="$b "; p99[$1]+="$c "; cpu[$1]+="$us "; errs[$1]+="$((e + s)) "
    printf '  round %d %-7s %10.0f req/s  p50 %7.3f ms  p99 %7.3f ms  %6.2f us CPU/req  %d requests, %d errors, %d non-2xx\n' \
        "$round" "$1" "$a" "$(awk -v x="$b" 'BEGIN { print x / 1000 }')" "$(awk -v x="$c" 'BEGIN { print x / 1000 }')" "$us" "$n" "$e" "$s"
}

echo "Prompt API overhead, loopback, $(nproc) cores, $(uname -r); portico $("$PORTICO" version | awk '{ print $2 }') (workers: 1, access log on)"
echo "  direct: POST /v1/chat/completions (2 messages); prompt: POST /apis/greet {\"name\":\"world\"} rendering the same 2 messages"
echo "  $CONNS connections, $THREADS wrk threads; warm-up ${WARMUP}s each, then $ROUNDS rounds of ${DURATION}s, order alternating"
echo
round=0
one direct "$WARMUP" quiet; one prompt "$WARMUP" quiet
for ((round = 1; round <= ROUNDS; round++)); do
    if ((round % 2)); then one direct "$DURATION"; one prompt "$DURATION"; else one prompt "$DURATION"; one direct "$DURATION"; fi
done

echo
printf '%-8s %12s %10s %10s %12s %8s\n' median req/s "p50 ms" "p99 ms" "us CPU/req" errors
declare -A R=() C=() L=()
for n in direct prompt; do
    # shellcheck disable=SC2086
    R[$n]=$(median ${rps[$n]}); C[$n]=$(median ${cpu[$n]}); L[$n]=$(median ${p50[$n]})
    # shellcheck disable=SC2086
    printf '%-8s %12.0f %10.3f %10.3f %12.2f %8d\n' "$n" "${R[$n]}" "$(awk -v x="${L[$n]}" 'BEGIN { print x / 1000 }')" \
        "$(awk -v x="$(median ${p99[$n]})" 'BEGIN { print x / 1000 }')" "${C[$n]}" \
        "$(printf '%s\n' ${errs[$n]} | awk '{ s += $1 } END { print s }')"
done
awk -v rd="${R[direct]}" -v rp="${R[prompt]}" -v cd="${C[direct]}" -v cp="${C[prompt]}" -v ld="${L[direct]}" -v lp="${L[prompt]}" 'BEGIN {
    printf "\nprompt/direct: req/s %.3fx; gateway CPU per call %+.2f us (%.1f%%); p50 latency %+.0f us\n",
        rp / rd, cp - cd, (cp / cd - 1) * 100, lp - ld }'
