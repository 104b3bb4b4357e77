#!/usr/bin/env bash
# SIGHUP applies `listen:` and `workers:` and re-reads TLS certificates, or refuses the whole
# reload with the reason: an added address serves at once beside the old one, a removed one
# stops accepting, the worker threads follow `workers:`, a rotated certificate is the one
# served afterwards, and a reload that cannot be applied (address taken, broken certificate)
# is refused with a message while the old configuration keeps serving every address.
. "$(dirname "$0")/lib.sh"
# A SIGSEGV sent from outside is not a memory error: under a sanitizer build let it kill
# the process as it would any other build, instead of the sanitizer reporting and exiting 1.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}handle_segv=0"

PP=$(free_port); P2=$(free_port); PS=$(free_port); U1=$(free_port)
upstream_start echo "$U1" || not_ok "echo upstream starts"
self_signed certA || not_ok "openssl makes certificate A"
self_signed certB || not_ok "openssl makes certificate B"
cp "$T/certA.pem" "$T/live.pem"; cp "$T/certA.key" "$T/live.key"
CFG=$T/portico.yaml
# write_cfg WORKERS TAG LISTEN...: listeners given as YAML items.
write_cfg() {
    local workers=$1 tag=$2; shift 2
    {
        echo "listen:"
        for l in "$@"; do echo "  - $l"; done
        cat <<EOF2
workers: $workers
access_log: "off"
services:
  - name: echo
    targets: ["http://127.0.0.1:$U1"]
routes:
  - name: main
    match: { path_prefix: "/echo/" }
    service: echo
    response_headers: { add: { x-config: "$tag" } }
EOF2
    } >"$CFG.new"
    mv "$CFG.new" "$CFG"
}
TLS="{ address: \"127.0.0.1:$PS\", tls: { cert: \"$T/live.pem\", key: \"$T/live.key\" } }"
child() { pgrep -P "$PORTICO_PID" | head -n 1; }
# workers_now: worker threads of the gateway process.
workers_now() { grep -l '^portico-w' /proc/"$(child)"/task/*/comm 2>/dev/null | wc -l; }
workers_are() { [ "$(workers_now)" = "$1" ]; }
serves() { answers_200 "http://127.0.0.1:$1/echo/x"; }
refused() { curl -s -o /dev/null -m 1 "http://127.0.0.1:$1/healthz"; [ $? = 7 ]; }
config_is() { [ "$(curl -s -m 2 -D - -o /dev/null "http://127.0.0.1:$1/echo/x" | tr -d '\r' | awk 'tolower($1) == "x-config:" { print $2 }')" = "$2" ]; }
# served_cert PORT: the SHA-256 fingerprint of the certificate the listener presents.
served_cert() { openssl s_client -connect "127.0.0.1:$1" -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 2>/dev/null; }
file_cert() { openssl x509 -in "$1" -noout -fingerprint -sha256; }
new_log() { tail -n +$((LOGMARK + 1)) "$T/portico.err"; }
mark_log() { LOGMARK=$(wc -l <"$T/portico.err"); }
logged() { new_log | grep -q -- "$1"; }

write_cfg 2 A "\"127.0.0.1:$PP\"" "$TLS"
portico_start "$CFG" || not_ok "portico starts with a plain and a TLS listener"
sup=$PORTICO_PID
check "two worker threads at the start" wait_for 5 workers_are 2
is "$(served_cert "$PS")" "$(file_cert "$T/certA.pem")" "the TLS listener serves certificate A"

# ---------------------------------------------------------------------------- add a listener
# New connections to the old address keep being answered while the reload adds one.
mark_log
request_loop "http://127.0.0.1:$PP/echo/l" "$T/stop-loop" >"$T/loop.txt" & lpid=$!; track $lpid
looping() { [ -s "$T/loop.txt" ]; }
wait_for 5 looping || note "the request loop did not start"
write_cfg 2 B "\"127.0.0.1:$PP\"" "\"127.0.0.1:$P2\"" "$TLS"
kill -HUP "$sup"
check "a reload that adds 127.0.0.1:$P2 serves on it" wait_for 5 serves "$P2"
touch "$T/stop-loop"; wait "$lpid"
is "$(grep -vc '^200$' "$T/loop.txt")" 0 "no request to the old address failed while the listener was added ($(wc -l <"$T/loop.txt") sent)"
check "the old listener keeps serving after the addition" serves "$PP"
check "the old listener serves the new configuration" config_is "$PP" B
like "$(new_log)" "configuration reloaded from [^\"]*; listen: added 127\\.0\\.0\\.1 $P2" "the reload log names the added address"
old_child=$(child)

# ---------------------------------------------------------------------------- remove a listener
mark_log
write_cfg 2 C "\"127.0.0.1:$P2\"" "$TLS"
kill -HUP "$sup"
check "a reload that removes 127.0.0.1:$PP stops accepting there" wait_for 5 refused "$PP"
check "the remaining listener serves the new configuration" config_is "$P2" C
like "$(new_log)" "listen: removed 127\\.0\\.0\\.1 $PP" "the reload log names the removed address"
is "$(child)" "$old_child" "listener changes are applied in the running gateway process"

# After a crash the restarted process gets the sockets of the reloaded set.
kill -SEGV "$old_child"
restarted() { [ -n "$(child)" ] && [ "$(child)" != "$old_child" ] && serves "$P2"; }
check "after a crash the restarted process serves the reloaded listener" wait_for 5 restarted
check "and the removed one stays closed" refused "$PP"

# ---------------------------------------------------------------------------- workers
mark_log
write_cfg 3 D "\"127.0.0.1:$P2\"" "$TLS"
kill -HUP "$sup"
check "a reload from 2 to 3 workers runs three worker threads" wait_for 5 workers_are 3
like "$(new_log)" "workers: 2 -> 3" "the reload log names the worker change"
write_cfg 1 E "\"127.0.0.1:$P2\"" "$TLS"
kill -HUP "$sup"
check "a reload from 3 to 1 worker ends the two extra threads" wait_for 5 workers_are 1
check "one worker still serves" config_is "$P2" E

# ---------------------------------------------------------------------------- certificate rotation
cp "$T/certB.pem" "$T/live.pem"; cp "$T/certB.key" "$T/live.key"
kill -HUP "$sup"
rotated() { [ "$(served_cert "$PS")" = "$(file_cert "$T/certB.pem")" ]; }
check "after a reload the TLS listener serves the rotated certificate B" wait_for 5 rotated
check "and answers HTTPS requests with it" answers_200 --cacert "$T/certB.pem" "https://127.0.0.1:$PS/healthz"

# ---------------------------------------------------------------------------- refused reloads
# An address another process listens on (the upstream): the whole reload is refused.
mark_log
write_cfg 1 F "\"127.0.0.1:$P2\"" "\"127.0.0.1:$U1\"" "$TLS"
kill -HUP "$sup"
check "a reload adding an address in use is refused with a message" wait_for 5 logged "reload refused"
like "$(new_log)" "reload refused, the running configuration stays: cannot listen on 127\\.0\\.0\\.1:$U1: address in use by pid ${UP_PID[echo]}" \
    "the refusal names the address and the pid holding it"
is "$(new_log | grep -c 'configuration reloaded')" 0 "a refused reload never logs 'configuration reloaded'"
check "the old configuration keeps serving after the refusal" config_is "$P2" E

# A certificate file that is not a certificate: refused too, the old certificate stays.
mark_log
echo "not a certificate" >"$T/live.pem"
write_cfg 1 G "\"127.0.0.1:$P2\"" "$TLS"
kill -HUP "$sup"
check "a reload with a broken certificate is refused with a message" wait_for 5 logged "reload refused"
like "$(new_log)" "reload refused[^\"]*listener 127\\.0\\.0\\.1:$PS: cannot load certificate" "the refusal names the listener and the certificate problem"
check "the old configuration keeps serving after a refused certificate" config_is "$P2" E
is "$(served_cert "$PS")" "$(file_cert "$T/certB.pem")" "the TLS listener keeps the last good certificate"

portico_stop TERM
is "$PORTICO_STATUS" 0 "portico exits 0 after the reloads"
done_testing
