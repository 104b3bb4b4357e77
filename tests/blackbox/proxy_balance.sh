#!/usr/bin/env bash
# Load balancing with one worker, so counts are exact: round_robin splits 20 requests 10/10,
# weighted 1:3 splits them 5/15, least_conn sends new requests to the idle target while the
# other is busy with a slow one.
. "$(dirname "$0")/lib.sh"

PP=$(free_port)
R1=$(free_port); R2=$(free_port); W1=$(free_port); W2=$(free_port); L1=$(free_port); L2=$(free_port)
for n in R1 R2 W1 W2 L1 L2; do upstream_start "$n" "${!n}" || not_ok "upstream $n starts"; done
cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: "off"
services:
  - name: rr
    targets: ["http://127.0.0.1:$R1", "http://127.0.0.1:$R2"]
    lb: round_robin
  - name: weighted
    targets: [{url: "http://127.0.0.1:$W1", weight: 1}, {url: "http://127.0.0.1:$W2", weight: 3}]
    lb: weighted
  - name: lc
    targets: ["http://127.0.0.1:$L1", "http://127.0.0.1:$L2"]
    lb: least_conn
routes:
  - name: rr
    match: { path_prefix: "/rr/" }
    service: rr
  - name: weighted
    match: { path_prefix: "/w/" }
    service: weighted
  - name: lc
    match: { path_prefix: "/lc/" }
    service: lc
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts with the test config"

# send N PATH: N sequential requests; prints how many did not answer 200.
send() {
    local n=$1 path=$2 bad=0 i
    for ((i = 0; i < n; i++)); do
        [ "$(status_of "http://127.0.0.1:$PP$path$i")" = 200 ] || bad=$((bad + 1))
    done
    echo "$bad"
}

# ---------------------------------------------------------------------------- round robin
is "$(send 20 /rr/)" 0 "round_robin: 20 requests all answer 200"
is "$(up_count "$R1")/$(up_count "$R2")" "10/10" "round_robin: 20 requests split 10/10"

# Strict alternation: the next 4 requests go A, B, A, B (whichever A is).
seq4=$(for i in 1 2 3 4; do curl -s -m 5 "http://127.0.0.1:$PP/rr/alt$i" | jq -r .name; done | paste -sd,)
like "$seq4" '^(R1,R2,R1,R2|R2,R1,R2,R1)$' "round_robin alternates between the two targets"

# ---------------------------------------------------------------------------- weighted
is "$(send 20 /w/)" 0 "weighted: 20 requests all answer 200"
is "$(up_count "$W1")/$(up_count "$W2")" "5/15" "weighted 1:3: 20 requests split 5/15"

# ---------------------------------------------------------------------------- least_conn
# One slow request holds a target; while it is in flight every new request goes to the other.
# The upstream holds it (hold=lc) until the checks are done.
curl -s -m 15 -o "$T/slow.json" "http://127.0.0.1:$PP/lc/slow?hold=lc" &
slowpid=$!; track $slowpid
busy_one() { [ "$(up_stat "$L1" active)" = 1 ] || [ "$(up_stat "$L2" active)" = 1 ]; }
if wait_for 5 busy_one; then
    if [ "$(up_stat "$L1" active)" = 1 ]; then busy=L1 idle=L2; else busy=L2 idle=L1; fi
    ok "least_conn: the slow request is in flight on $busy"
    before_idle=$(up_count "${!idle}"); before_busy=$(up_count "${!busy}")
    is "$(send 6 /lc/fast)" 0 "least_conn: six requests during the slow one answer 200"
    is "$(( $(up_count "${!idle}") - before_idle ))/$(( $(up_count "${!busy}") - before_busy ))" "6/0" \
        "least_conn: all six go to the idle target while the other is busy"
    if [ "$(up_stat "${!busy}" active)" = 1 ]; then ok "least_conn: the slow request was still in flight throughout"
    else not_ok "least_conn: the slow request was still in flight throughout" "it finished early; the check above proves nothing"; fi
else
    not_ok "least_conn: the slow request is in flight on one target" "neither upstream reports an active request"
fi
for u in "$L1" "$L2"; do ctl "$u" 'release?id=lc' >/dev/null; done
wait "$slowpid"
is "$(jq -r .name "$T/slow.json" 2>/dev/null)" "${busy:-?}" "least_conn: the slow request completes on its target"

alive_after "balancing"
done_testing
