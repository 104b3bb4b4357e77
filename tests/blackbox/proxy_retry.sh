#!/usr/bin/env bash
# Retries after the request was sent (retry_on): a listed 5xx, a reset and a first-byte timeout
# send an idempotent request to the other target, its body replayed byte for byte; a POST, a 5xx
# that is not listed, and a service with one target pass the upstream's answer on as it came; a
# spent budget stops retries; without retry_on nothing changes. One worker and round robin over
# two targets make the picks alternate (a retry's pick included), so every count below is exact.
. "$(dirname "$0")/lib.sh"

PP=$(free_port)
declare -A P
for n in good b503 b500 breset bslow alone; do P[$n]=$(free_port); done
upstream_start good "${P[good]}" || not_ok "good upstream starts"
upstream_start b503 "${P[b503]}" --behave status=503 || not_ok "503 upstream starts"
upstream_start b500 "${P[b500]}" --behave status=500 || not_ok "500 upstream starts"
upstream_start breset "${P[breset]}" --behave reset=1 || not_ok "resetting upstream starts"
upstream_start bslow "${P[bslow]}" --behave delay=3000 || not_ok "slow upstream starts"
upstream_start alone "${P[alone]}" --behave status=503 || not_ok "lone 503 upstream starts"

svc() { # NAME BAD_PORT EXTRA_LINES
    cat <<EOF
  - name: $1
    targets: ["http://127.0.0.1:$2", "http://127.0.0.1:${P[good]}"]
    passive_health: { max_fails: 0 }
$3
EOF
}
route() { printf '  - { name: %s, match: { path_prefix: "/%s/" }, service: %s }\n' "$1" "$1" "$1"; }
{
    printf 'listen: ["127.0.0.1:%s"]\nworkers: 1\naccess_log: "off"\nservices:\n' "$PP"
    svc on503 "${P[b503]}" '    retry_on: [502, 503, 504]'
    svc on500 "${P[b500]}" '    retry_on: [503]'
    svc onreset "${P[breset]}" '    retry_on: [reset]'
    svc noreset "${P[breset]}" ''
    svc ontimeout "${P[bslow]}" '    retry_on: [timeout]
    timeouts: { first_byte: 300ms }'
    svc broke "${P[b503]}" '    retry_on: [503]
    retry_budget: { percent: 0, min_per_second: 0 }'
    cat <<EOF
  - name: lonely
    targets: ["http://127.0.0.1:${P[alone]}"]
    retry_on: [503]
    passive_health: { max_fails: 0 }
routes:
EOF
    for r in on503 on500 onreset noreset ontimeout broke lonely; do route "$r"; done
} >"$T/portico.yaml"
portico_start "$T/portico.yaml" || not_ok "portico starts with retry_on services"

# statuses PATH N [curl args]: N requests, their statuses sorted and counted ("10x200").
statuses() {
    local path=$1 n=$2 i; shift 2
    for ((i = 0; i < n; i++)); do
        curl -s -o /dev/null -m 10 -w '%{http_code}\n' "$@" "http://127.0.0.1:$PP$path" || echo "curl-exit"
    done | sort | uniq -c | awk '{ printf "%s%sx%s", (NR > 1 ? " " : ""), $1, $2 }'
}
reset_counts() { for n in "${!P[@]}"; do ctl "${P[$n]}" reset >/dev/null; done; }

# ---------------------------------------------------------------------------- a listed 5xx
reset_counts
is "$(statuses /on503/x 10)" "10x200" "GET on [503 target, good target] with retry_on 503: every call 200"
is "$(up_count "${P[b503]}")/$(up_count "${P[good]}")" "10/10" \
    "each met the 503 target first (the retry's pick moves the cursor past it) and ended on the good one"
check "the retry is logged" wait_log "answered 503: trying another target" "$T/portico.err"

reset_counts
http PUT "http://127.0.0.1:$PP/on503/put" --data-binary '{"order":42,"note":"replayed"}' -H 'Content-Type: application/json'
http PUT "http://127.0.0.1:$PP/on503/put" --data-binary '{"order":42,"note":"replayed"}' -H 'Content-Type: application/json'
is "$RESP_STATUS $(jqr .name) $(jqr .body)" '200 good {"order":42,"note":"replayed"}' \
    "a PUT's body is sent again whole to the next target"
is "$(up_count "${P[b503]}")/$(up_count "${P[good]}")" "2/2" "both PUTs met the 503 target first, then the good one"

reset_counts
is "$(statuses /on503/x 4 -X POST -d 'a=1')" "2x200 2x503" "a POST is never sent twice: the 503 is passed on"
is "$(up_count "${P[good]}")" 2 "the good target got only the POSTs picked for it"

reset_counts
is "$(statuses /on500/x 6)" "3x200 3x500" "a 5xx that retry_on does not list is passed on"

reset_counts
is "$(statuses /lonely/x 3)" "3x503" "with no other target the upstream's own 503 is passed on, not a 502"
is "$(up_count "${P[alone]}")" 3 "and it was asked once per call"

# ---------------------------------------------------------------------------- reset and timeout
reset_counts
is "$(statuses /onreset/x 6)" "6x200" "retry_on reset: a connection reset after sending goes to the other target"
is "$(statuses /noreset/x 6)" "3x200 3x502" "without retry_on a reset after sending is a 502, as before"

reset_counts
is "$(statuses /ontimeout/x 4)" "4x200" "retry_on timeout: no head within first_byte goes to the other target"
is "$(up_count "${P[good]}")" 4 "all four answered by the fast target"

# ---------------------------------------------------------------------------- the budget
reset_counts
is "$(statuses /broke/x 10)" "5x200 5x503" "a spent budget (0% and none per second) stops every retry"

alive_after "portico is alive after the retries"

# ---------------------------------------------------------------------------- bad configurations
service_refused() { # NAME LINES MESSAGE_REGEX
    printf 'admin: { enabled: false }\nservices:\n  - name: s\n    targets: ["http://127.0.0.1:9"]\n%s\n' "$2" >"$T/bad.yaml"
    config_refused "$1" "$3"
}
service_refused "a 4xx" '    retry_on: [429]' "retry_on\[0\]: only a 5xx status can be retried, got 429"
service_refused "a misspelt condition" '    retry_on: [rest]' "retry_on\[0\]: unknown retry condition 'rest' \(did you mean 'reset'\?\)"
service_refused "a budget over 100%" '    retry_budget: { percent: 150 }' "retry_budget\.percent: must be between 0 and 100"
done_testing
