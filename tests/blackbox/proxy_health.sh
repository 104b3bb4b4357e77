#!/usr/bin/env bash
# Failing targets: a refused connection is retried on another target (the client never sees it),
# passive health ejects a dead target after max_fails, and active health checks take a target
# whose /healthz answers 500 out of rotation and bring it back when it answers 200 again.
. "$(dirname "$0")/lib.sh"

PP=$(free_port); DEAD1=$(free_port); DEAD2=$(free_port)
LIVE1=$(free_port); LIVE2=$(free_port); H1=$(free_port); H2=$(free_port)
for n in LIVE1 LIVE2 H1 H2; do upstream_start "$n" "${!n}" || not_ok "upstream $n starts"; done
cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: "off"
services:
  - name: retry
    targets: ["http://127.0.0.1:$DEAD1", "http://127.0.0.1:$LIVE1"]
    lb: round_robin
    retries: 1
    passive_health: { max_fails: 1000, eject_for: 1s }
  - name: passive
    targets: ["http://127.0.0.1:$DEAD2", "http://127.0.0.1:$LIVE2"]
    lb: round_robin
    retries: 0
    passive_health: { max_fails: 2, eject_for: 60s }
  - name: active
    targets: ["http://127.0.0.1:$H1", "http://127.0.0.1:$H2"]
    lb: round_robin
    health_check: { path: /healthz, interval: 300ms, timeout: 250ms, healthy_threshold: 1, unhealthy_threshold: 1 }
routes:
  - name: retry
    match: { path_prefix: "/retry/" }
    service: retry
  - name: passive
    match: { path_prefix: "/passive/" }
    service: passive
  - name: active
    match: { path_prefix: "/active/" }
    service: active
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts with the test config"

# statuses N PATH: N sequential requests; prints their statuses, comma-separated.
statuses() {
    local i out=()
    for ((i = 0; i < $1; i++)); do out+=("$(status_of "http://127.0.0.1:$PP$2$i")"); done
    (IFS=,; echo "${out[*]}")
}

# ---------------------------------------------------------------------------- retry
got=$(statuses 10 /retry/r)
is "$got" "200,200,200,200,200,200,200,200,200,200" "retry: with one target refusing, all 10 requests succeed"
is "$(up_count "$LIVE1")" 10 "retry: the live target served all 10"

# A POST body is retried intact too (nothing was sent before the refusal).
for i in 1 2; do
    http POST "http://127.0.0.1:$PP/retry/post$i" -d "payload-$i"
    [ "$RESP_STATUS" = 200 ] && [ "$(jqr .body)" = "payload-$i" ] || break
done
is "$RESP_STATUS:$(jqr .body)" "200:payload-2" "retry: POST bodies reach the live target intact"

# ---------------------------------------------------------------------------- passive health
got=$(statuses 20 /passive/p)
fails=$(tr ',' '\n' <<<"$got" | grep -vc '^200$')
if ((fails >= 1 && fails <= 2)); then ok "passive: at most max_fails (2) requests fail before the dead target is ejected"
else not_ok "passive: at most max_fails (2) requests fail before the dead target is ejected" "statuses: $got"; fi
is "$(cut -d, -f11-20 <<<"$got")" "200,200,200,200,200,200,200,200,200,200" "passive: after ejection every request succeeds"
is "$(up_count "$LIVE2")" $((20 - fails)) "passive: every successful request was served by the live target"

# ---------------------------------------------------------------------------- active health
two_targets() {
    local seen
    seen=$(for i in 1 2 3 4; do curl -s -m 3 "http://127.0.0.1:$PP/active/t$i" | jq -r '.name // "none"'; done | sort -u | paste -sd,)
    [ "$seen" = "H1,H2" ]
}
check "active: both healthy targets serve traffic" two_targets

ctl "$H1" 'health?status=500' >/dev/null
check "active: a target whose /healthz answers 500 is taken out (logged as marked down)" \
    wait_log "target http://127.0.0.1:$H1 marked down" "$T/portico.err"
h1_before=$(up_count "$H1")
got=$(statuses 10 /active/down)
is "$got:$(( $(up_count "$H1") - h1_before ))" "200,200,200,200,200,200,200,200,200,200:0" \
    "active: while it is down the unhealthy target gets none of 10 requests, which all succeed"
h1_probes=$(up_stat "$H1" health_requests)
if [ "${h1_probes:-0}" -ge 2 ]; then ok "active: probes reach the target's /healthz"
else not_ok "active: probes reach the target's /healthz" "health_requests: $h1_probes"; fi

ctl "$H1" 'health?status=200' >/dev/null
check "active: the target comes back when /healthz answers 200 again" wait_for 6 two_targets

alive_after "failing targets"
done_testing
