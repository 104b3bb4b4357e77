#!/usr/bin/env bash
# /metrics: request counters per (route, service) grow by exactly the number of requests sent,
# latency histograms count each request once (and +Inf equals _count), upstream pool/target
# gauges exist for each target, request outcomes are counted by class, and the exposition is
# well formed (HELP and TYPE per family).
. "$(dirname "$0")/lib.sh"

PP=$(free_port); UA=$(free_port); UB=$(free_port)
upstream_start a "$UA" || not_ok "upstream a starts"
upstream_start b "$UB" || not_ok "upstream b starts"
cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 2
access_log: "off"
services:
  - name: svc-a
    targets: ["http://127.0.0.1:$UA"]
  - name: svc-b
    targets: ["http://127.0.0.1:$UB"]
routes:
  - name: route-a
    match: { path_prefix: "/a/" }
    service: svc-a
  - name: route-b
    match: { path_prefix: "/b/" }
    service: svc-b
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts with the test config"

# samples FILE: one line per sample: TYPE<TAB>FAMILY<TAB>NAME<TAB>LABELS<TAB>VALUE, where FAMILY
# comes from the # TYPE line the sample belongs to (histograms own _bucket/_sum/_count).
samples() {
    awk '
        /^# TYPE / { type[$3] = $4; next }
        /^#/ || NF == 0 { next }
        {
            s = $0; v = $NF
            name = s; sub(/[{ ].*/, "", name)
            labels = ""; if (index(s, "{")) { labels = substr(s, index(s, "{") + 1); sub(/}[^}]*$/, "", labels) }
            fam = name
            if (!(fam in type)) { f = name; if (sub(/_(bucket|sum|count)$/, "", f) && (f in type)) fam = f }
            printf "%s\t%s\t%s\t%s\t%s\n", (fam in type ? type[fam] : "untyped"), fam, name, labels, v
        }' "$1"
}
# sum_where FILE TYPE FAMILY_REGEX NAME_SUFFIX LABEL...: per family, the sum of samples of that
# type whose family matches, whose name is family+suffix, and whose labels contain every LABEL.
sum_where() {
    local f=$1 ty=$2 re=$3 suf=$4; shift 4
    samples "$f" | awk -F'\t' -v ty="$ty" -v re="$re" -v suf="$suf" -v want="$*" '
        BEGIN { n = split(want, w, " ") }
        $1 == ty && $2 ~ re && $3 == $2 suf {
            okk = 1; for (i = 1; i <= n; i++) if (index("," $4 ",", "," w[i] ",") == 0) okk = 0
            if (okk) sum[$2] += $5
        }
        END { for (k in sum) printf "%s %d\n", k, sum[k] }' | sort
}

curl -s -m 5 "http://127.0.0.1:$PP/metrics" >"$T/m0"
for i in $(seq 1 7); do status_of "http://127.0.0.1:$PP/a/x$i" >/dev/null; done
for i in $(seq 1 3); do status_of "http://127.0.0.1:$PP/b/x$i" >/dev/null; done

# delta FILE0 FILE1 TYPE REGEX SUFFIX LABELS...: "family delta" per family.
delta() {
    local f0=$1 f1=$2; shift 2
    join -a 2 -e 0 -o '2.1,1.2,2.2' <(sum_where "$f0" "$@") <(sum_where "$f1" "$@") | awk '{ print $1, $3 - $2 }'
}
req_fams='^portico_.*(request|response)s?_total$'
# reached DELTAS N: there is at least one family and every one grew by N or more.
reached() { [ -n "$1" ] && awk -v n="$2" '$2 < n { bad = 1 } END { exit bad }' <<<"$1"; }
# Counters are bumped when a response completes, a moment after the client has it: wait until
# both routes' counters and histograms have counted every request, then compare exactly below.
counted() {
    curl -s -m 5 "http://127.0.0.1:$PP/metrics" >"$T/m1"
    reached "$(delta "$T/m0" "$T/m1" counter "$req_fams" "" 'route="route-a"' 'service="svc-a"')" 7 &&
    reached "$(delta "$T/m0" "$T/m1" counter "$req_fams" "" 'route="route-b"' 'service="svc-b"')" 3 &&
    reached "$(delta "$T/m0" "$T/m1" histogram '^portico_' _count 'route="route-a"')" 7
}
wait_for 10 counted || note "the counters never reached the requests sent"

# ---------------------------------------------------------------------------- well-formed
is "$(status_of "http://127.0.0.1:$PP/metrics")" 200 "/metrics answers 200"
untyped=$(samples "$T/m1" | awk -F'\t' '$1 == "untyped" { print $3 }' | sort -u | head -5 | paste -sd' ')
is "$untyped" "" "every sample belongs to a family with a # TYPE line"
nohelp=$(awk '/^# TYPE / { t[$3] = 1 } /^# HELP / { h[$3] = 1 } END { for (f in t) if (!(f in h)) print f }' "$T/m1" | head -5 | paste -sd' ')
is "$nohelp" "" "every family has a # HELP line"
dups=$(awk '/^# TYPE / { c[$3]++ } END { for (f in c) if (c[f] > 1) print f }' "$T/m1" | paste -sd' ')
is "$dups" "" "no family is declared twice"
bad=$(samples "$T/m1" | awk -F'\t' '$5 !~ /^([-+]?[0-9.]+([eE][-+]?[0-9]+)?|[-+]?Inf|NaN)$/ { print $3 }' | head -3 | paste -sd' ')
is "$bad" "" "every sample value is a number"

# ---------------------------------------------------------------------------- counters
da=$(delta "$T/m0" "$T/m1" counter "$req_fams" "" 'route="route-a"' 'service="svc-a"')
db=$(delta "$T/m0" "$T/m1" counter "$req_fams" "" 'route="route-b"' 'service="svc-b"')
if [ -n "$da" ]; then ok "a portico_*requests/responses_total counter has route/service labels"
else not_ok "a portico_*requests/responses_total counter has route/service labels" "families: $(grep '^# TYPE portico_' "$T/m1" | awk '{print $3}' | paste -sd' ')"; fi
is "$(awk '$2 != 7' <<<"$da")" "" "route-a's request counters grew by exactly 7 ($(paste -sd';' <<<"$da"))"
is "$(awk '$2 != 3' <<<"$db")" "" "route-b's request counters grew by exactly 3 ($(paste -sd';' <<<"$db"))"

# ---------------------------------------------------------------------------- histograms
ha=$(delta "$T/m0" "$T/m1" histogram '^portico_' _count 'route="route-a"')
if [ -n "$ha" ]; then ok "a latency histogram family has route labels"
else not_ok "a latency histogram family has route labels" "histogram families: $(grep '^# TYPE portico_.* histogram' "$T/m1" | awk '{print $3}' | paste -sd' ')"; fi
is "$(awk '$2 != 7' <<<"$ha")" "" "route-a's histogram counts grew by exactly 7 ($(paste -sd';' <<<"$ha"))"
inf=$(sum_where "$T/m1" histogram '^portico_' _bucket 'route="route-a"' 'le="+Inf"')
cnt=$(sum_where "$T/m1" histogram '^portico_' _count 'route="route-a"')
is "$inf" "$cnt" "histogram: the +Inf bucket equals _count"
nonmono=$(samples "$T/m1" | awk -F'\t' '$1 == "histogram" && $3 ~ /_bucket$/ {
        key = $4; sub(/(^|,)le="[^"]*"/, "", key); key = $2 "|" key
        if ((key in last) && $5 < last[key]) bad[key] = 1; last[key] = $5 }
        END { for (k in bad) print k }' | head -3)
is "$nonmono" "" "histogram buckets are cumulative (never decrease)"

# ---------------------------------------------------------------------------- upstream gauges
gauges=$(samples "$T/m1" | awk -F'\t' -v p=":$UA" '$1 == "gauge" && $2 ~ /^portico_.*(upstream|pool|target)/ && index($4, p) { print $2 }' | sort -u | paste -sd' ')
if [ -n "$gauges" ]; then ok "upstream pool/target gauges exist for target 127.0.0.1:$UA ($gauges)"
else not_ok "upstream pool/target gauges exist for target 127.0.0.1:$UA" \
    "gauge families: $(grep '^# TYPE portico_.* gauge' "$T/m1" | awk '{print $3}' | paste -sd' ')"; fi

# ---------------------------------------------------------------------------- outcomes
# outcome_of FILE LABEL: the value of portico_request_outcomes_total{outcome="LABEL"}.
outcome_of() { awk -v l="portico_request_outcomes_total{outcome=\"$2\"}" '$1 == l { print $2 }' "$1"; }
ok0=$(outcome_of "$T/m0" ok); ok1=$(outcome_of "$T/m1" ok)
if [ -n "$ok0" ] && [ -n "$ok1" ] && ((ok1 - ok0 >= 10)); then ok "outcome \"ok\" counts the 10 proxied requests ($ok0 -> $ok1)"
else not_ok "outcome \"ok\" counts the 10 proxied requests" "before '$ok0', after '$ok1'"; fi
nr0=$(outcome_of "$T/m1" no_route)
is "$(status_of "http://127.0.0.1:$PP/nowhere")" 404 "a path no route matches answers 404"
no_route_counted() {
    curl -s -m 5 "http://127.0.0.1:$PP/metrics" >"$T/m2"
    [ "$(outcome_of "$T/m2" no_route)" = "$((nr0 + 1))" ]
}
wait_for 3 no_route_counted
is "$(outcome_of "$T/m2" no_route)" "$((nr0 + 1))" "outcome \"no_route\" counts the 404 once"

alive_after "metrics"
done_testing
