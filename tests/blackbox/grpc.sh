#!/usr/bin/env bash
# HTTP/2 upstreams and gRPC: services with protocol h2c (prior knowledge) and h2 (over TLS by
# ALPN, with a certificate made here) in front of node:http2 (tests/upstreams/h2_echo.mjs) and
# a @grpc/grpc-js echo server (tests/upstreams/grpc/echo.mjs), driven by curl, h2load and the
# @grpc/grpc-js client (grpc_calls.mjs): unary, server-, client- and bidi-streaming calls, an
# error status with its message and custom trailers, a deadline, an unreachable upstream
# (UNAVAILABLE), the client's grpc-timeout enforced by the gateway and passed on as what is left
# of it, an HTTP/1.1-only service (UNIMPLEMENTED), messages past every window, trailers
# to curl (HTTP/2, and HTTP/1.1 after the last chunk with TE: trailers, announced in the head),
# a GOAWAY that leaves streams unprocessed, the access log's grpc_status and metrics.
. "$(dirname "$0")/lib.sh"

command -v h2load >/dev/null || { skip "HTTP/2 upstreams" "h2load (nghttp2-client) is not installed"; done_testing; exit; }
PP=$(free_port); G1=$(free_port); HC=$(free_port); HT=$(free_port); DOWN=$(free_port)
LOG=$T/access.log
self_signed upstream || not_ok "openssl makes the upstream's certificate"

node "$UPSTREAMS/grpc/echo.mjs" --port "$G1" >>"$T/grpc.log" 2>&1 &
track $!
node "$UPSTREAMS/h2_echo.mjs" --port "$HC" >>"$T/h2c.log" 2>&1 &
track $!
node "$UPSTREAMS/h2_echo.mjs" --port "$HT" --tls-cert "$T/upstream.pem" --tls-key "$T/upstream.key" >>"$T/h2t.log" 2>&1 &
track $!
for f in grpc h2c h2t; do
    wait_log '^listening' "$T/$f.log" || not_ok "the $f upstream starts" "$(cat "$T/$f.log")"
done

cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: "$LOG"
services:
  - { name: grpc, protocol: h2c, targets: ["http://127.0.0.1:$G1"] }
  - { name: down, protocol: h2c, targets: ["http://127.0.0.1:$DOWN"], retries: 0 }
  - { name: h1, targets: ["http://127.0.0.1:$G1"] }
  - { name: plain, protocol: h2c, targets: ["http://127.0.0.1:$HC"] }
  - name: tls
    protocol: h2
    targets: ["https://127.0.0.1:$HT"]
    tls: { ca_file: "$T/upstream.pem" }
routes:
  - { name: down, match: { path_prefix: "/portico.test.Echo/", headers: { x-route: down } }, service: down }
  - { name: h1, match: { path_prefix: "/portico.test.Echo/", headers: { x-route: http1 } }, service: h1 }
  - { name: plain, match: { path_prefix: "/c/" }, service: plain, strip_prefix: true }
  - { name: masked, match: { path_prefix: "/m/" }, service: plain, strip_prefix: true }
  - { name: tls, match: { path_prefix: "/t/" }, service: tls, strip_prefix: true }
  - { name: masked-answer, match: { path_prefix: "/ma/" }, service: plain, strip_prefix: true }
  - { name: grpc, match: { path_prefix: "/portico.test.Echo/" }, service: grpc }
policies: # its body is read whole before the call goes upstream
  - { name: masked, applies_to: { route: masked }, mask: { request: [{ regex: "never-in-these-bodies" }] } }
  # an answer masked as text holds back its last bytes until the end: trailers come after them
  - { name: answer, applies_to: { route: masked-answer }, mask: { response: [{ regex: "with", action: replace, with: "WITH" }] } }
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts with h2 and h2c services"
P="http://127.0.0.1:$PP"

# --- gRPC ---------------------------------------------------------------------------------
node "$BB_DIR/grpc_calls.mjs" "127.0.0.1:$PP" unary error server_stream client_stream bidi large deadline gateway_deadline gateway_deadline_midway timeout_passed_on down http1 \
    >"$T/calls.out" 2>"$T/calls.err" || note "grpc_calls.mjs: $(tail -n 3 "$T/calls.err")"
call() { jq -c "select(.call == \"$1\") | $2" "$T/calls.out" 2>/dev/null; }
is "$(call unary '[.code, .text]')" '[0,"hello"]' "gRPC unary: the answer comes back through h2c"
is "$(call error '[.code, .details, .detail, .bin]')" '[9,"not now: 100% é","why","000102ff"]' \
    "gRPC error: the status, its percent-encoded message and custom trailers (text and -bin) reach the client"
is "$(call server_stream '[.code, (.texts | join(" ")), .count]')" '[0,"s#0 s#1 s#2 s#3 s#4","5"]' \
    "gRPC server streaming: every message, then the status with its trailer"
is "$(call client_stream '[.code, .text]')" '[0,"a,b,c"]' "gRPC client streaming: three messages in, one answer"
is "$(call bidi '[.code, (.texts | join(" "))]')" '[0,"one two three"]' \
    "gRPC bidi: each message is answered before the next is sent (the request streams from its first byte)"
is "$(call large '[.code, .same, .stream_code, .stream_same]')" '[0,true,0,true]' \
    "gRPC: a 6 MiB message both ways and 4 MiB streamed up arrive intact past the flow-control windows"
is "$(call deadline .code)" 4 "gRPC deadline: the client's deadline passes while the upstream is slow (DEADLINE_EXCEEDED)"
wait_log '^cancelled' "$T/grpc.log" && ok "gRPC deadline: the upstream sees the call cancelled" ||
    not_ok "gRPC deadline: the upstream sees the call cancelled" "$(tail -n 3 "$T/grpc.log")"
dl_msg="deadline exceeded: the call's grpc-timeout passed"
is "$(call gateway_deadline '[.code, .details, .trailers_only]')" "[4,\"$dl_msg\",true]" \
    "gRPC grpc-timeout, no answer yet: the gateway ends the call trailers-only with DEADLINE_EXCEEDED"
is "$(call gateway_deadline_midway '[.code, .details, .body]')" "[4,\"$dl_msg\",\"partial\\n\"]" \
    "gRPC grpc-timeout, answer under way: what came goes out, then DEADLINE_EXCEEDED in the trailers"
wait_log '^held stream reset 2' "$T/h2c.log" && ok "gRPC grpc-timeout: the gateway cancels both upstream calls" ||
    not_ok "gRPC grpc-timeout: the gateway cancels both upstream calls" "$(tail -n 3 "$T/h2c.log")"
is "$(call down .code)" 14 "gRPC to an unreachable upstream: UNAVAILABLE"
like "$(call down .details)" "service 'down' is unavailable: connection refused" "gRPC UNAVAILABLE: the message says why"
is "$(call http1 .code)" 12 "gRPC to an HTTP/1.1-only service: UNIMPLEMENTED"
like "$(call http1 .details)" "HTTP/1.1 and gRPC needs HTTP/2: set protocol: h2" "gRPC to HTTP/1.1: the message names the setting"

wait_log '"route":"h1"' "$LOG"
line() { grep "\"route\":\"$1\"" "$LOG" | tail -n 1; }
is "$(line h1 | jq -c '[.status, .grpc_status, .error]')" '[200,12,"upstream_protocol"]' \
    "access log: the refused gRPC call has grpc_status 12 and the gateway's error"
is "$(line down | jq -c '[.grpc_status, .error]')" '[14,"upstream_unavailable"]' "access log: the unreachable upstream, grpc_status 14"
# The deadline call ends either by the client's cancel (no status) or, when the upstream's own
# deadline check answers first, with its DEADLINE_EXCEEDED (4): both are right.
like "$(grep '"route":"grpc"' "$LOG" | jq -r '.grpc_status // empty' | sort -u | tr '\n' ' ')" '^0 (4 )?9 $' \
    "access log: the proxied calls carry the upstream's grpc-status (0, and 9 for the error)"

# The client's grpc-timeout goes upstream as what is left of it (gRPC's PROTOCOL-HTTP2
# TimeoutValue and TimeoutUnit), less than the client's 5 s: the call waited in the gateway
# first (the client sends its message 300 ms after the gateway read its headers). How much
# less depends on the machine's clock and load, so only "less" is asserted.
timeout_ms() { # grpc-timeout value -> milliseconds (rounded up), empty when malformed
    [[ $1 =~ ^([0-9]{1,8})([HMSmun])$ ]] || return
    local v=$((10#${BASH_REMATCH[1]}))
    case ${BASH_REMATCH[2]} in
    H) echo $((v * 3600000)) ;; M) echo $((v * 60000)) ;; S) echo $((v * 1000)) ;; m) echo "$v" ;;
    u) echo $(((v + 999) / 1000)) ;; n) echo $(((v + 999999) / 1000000)) ;;
    esac
}
got=$(call timeout_passed_on .got); got=${got//\"/}
ms=$(timeout_ms "$got")
check "gRPC grpc-timeout 5S: the upstream gets what is left after the wait in the gateway ($got)" \
    test "$(call timeout_passed_on .code)" = 200 -a -n "$ms" -a "${ms:-5000}" -lt 5000

# --- plain HTTP/2 upstreams -----------------------------------------------------------------
http POST "$P/c/echo?q=1" --http2-prior-knowledge -H 'TE: trailers' --data-binary @"$BB_DIR/lib.sh"
want=$(sha256sum "$BB_DIR/lib.sh" | cut -d' ' -f1)
is "$RESP_STATUS:$(jqr '[.method, .path, .scheme, .authority] | join(" ")')" "200:POST /echo?q=1 http 127.0.0.1:$HC" \
    "h2c upstream: the request's pseudo-headers (path rewritten, :authority the target)"
is "$(jqr .body_sha256)" "$want" "h2c upstream: the body arrives intact"
is "$(jqr .headers.te)" trailers "h2c upstream: TE: trailers is kept"
http GET "$P/t/hello" -H 'Connection: keep-alive'
is "$RESP_STATUS:$(jqr .scheme):$(jqr .headers.connection)" "200:https:null" \
    "h2 upstream over TLS (ALPN) from an HTTP/1.1 client: no connection-specific field goes up"
head -c 3000000 /dev/urandom >"$T/big.bin"
http POST "$P/t/up" --http2-prior-knowledge --data-binary @"$T/big.bin"
is "$(jqr .body_len):$(jqr .body_sha256)" "3000000:$(sha256sum "$T/big.bin" | cut -d' ' -f1)" \
    "h2 upstream: a 3 MB body goes up past the stream windows"
n=$(curl -s --http2-prior-knowledge -o /dev/null -w '%{size_download}' "$P/c/big?n=5000000")
is "$n" 5000000 "h2c upstream: a 5 MB answer comes down past the stream windows"
http HEAD "$P/c/big?n=1234" --http2-prior-knowledge -I
is "$RESP_STATUS:$(hdr content-length)" "200:1234" "h2c upstream: a HEAD answer keeps the resource's length"
curl -s --http2-prior-knowledge -D "$T/tr.h" -o /dev/null "$P/t/trailers"
like "$(tr -d '\r' <"$T/tr.h")" $'\nx-trailer: yes\nx-sum: [0-9a-f]{64}' "h2 upstream: its trailers reach an HTTP/2 client"
# HTTP/1.1: after the last chunk when the client said TE: trailers, and not otherwise (the
# final blank line is cut by $(...))
raw=$(curl -s --raw -H 'TE: trailers' "$P/t/trailers" | tr -d '\r')
like "$raw" $'^e\nwith trailers\n\n0\nx-trailer: yes\nx-sum: [0-9a-f]{64}$' \
    "h2 upstream: its trailers follow the last chunk to an HTTP/1.1 client that sent TE: trailers"
raw=$(curl -s --raw "$P/t/trailers" | tr -d '\r')
is "$raw" $'e\nwith trailers\n\n0' "h2 upstream: an HTTP/1.1 client without TE: trailers gets the body without them"
# The head announces them (RFC 9110 §6.6.2 Trailer) when they will follow: the upstream's own
# Trailer field, and for a gRPC answer the two fields every one ends with.
raw=$(curl -s -m 10 --raw -H 'TE: trailers' "$P/ma/trailers" | tr -d '\r')
like "$raw" $'^e\nWITH trailers\n\n0\nx-trailer: yes\nx-sum: [0-9a-f]{64}$' \
    "h2 upstream, answer masked: what masking held back goes out before the trailers (HTTP/1.1)"
curl -s -m 10 --http2-prior-knowledge -D "$T/trm.h" -o "$T/trm.body" "$P/ma/trailers"
is "$(cat "$T/trm.body")" "WITH trailers" "h2 upstream, answer masked: the whole masked body reaches an HTTP/2 client"
like "$(tr -d '\r' <"$T/trm.h")" $'\nx-trailer: yes\nx-sum: [0-9a-f]{64}' "h2 upstream, answer masked: and then the trailers"
http GET "$P/t/trailers" -H 'TE: trailers'
is "$(hdr trailer)" "x-trailer, x-sum" "h2 upstream: its Trailer field reaches an HTTP/1.1 client that sent TE: trailers"
http GET "$P/t/trailers"
check "h2 upstream: no Trailer field without TE: trailers (nothing follows)" bash -c "! grep -qi '^trailer:' '$RESP_HEADERS'"
printf '\0\0\0\0\0' >"$T/empty.grpc" # one empty EchoRequest message
curl -s --raw -D "$T/g1.h" -o "$T/g1.body" -H 'content-type: application/grpc' -H 'TE: trailers' \
    --data-binary @"$T/empty.grpc" "$P/portico.test.Echo/Unary"
like "$(tr -d '\r' <"$T/g1.h")" $'\n[Tt]railer: grpc-status, grpc-message($|\n)' \
    "gRPC to an HTTP/1.1 client with TE: trailers: the head announces grpc-status and grpc-message"
like "$(tr -d '\r' <"$T/g1.body")" $'\n0\ngrpc-status: 0\n' "gRPC to an HTTP/1.1 client: the announced trailers follow the last chunk"
out=$(curl -s -H 'TE: trailers' "$P/t/trailers" -o /dev/null -w '%{http_code}' --next -s "$P/t/hello" -o /dev/null -w ' %{http_code} %{num_connects}')
is "$out" "200 200 0" "HTTP/1.1: the connection serves the next request after an answer with trailers"
is "$(status_of --http2-prior-knowledge "$P/c/status?s=503")" 503 "h2c upstream: its status is relayed as it is"

# GOAWAY naming the first of three concurrent streams: the other two go on a new connection
out=$(h2load -n 3 -c 1 -m 3 "$P/c/goaway?n=3" 2>&1)
like "$out" "status codes: 3 2xx" "GOAWAY: every stream is answered, the unprocessed ones on another connection"
wait_metric portico_upstream_http2_goaways_total 1 && ok "metrics: the GOAWAY is counted" || not_ok "metrics: the GOAWAY is counted"
is "$(metric_sum portico_upstream_http2_streams_retried_total)" 2 "metrics: the two unprocessed streams were sent again"
like "$(metric_sum portico_upstream_http2_streams_total)" '^[1-9][0-9]+$' "metrics: streams to HTTP/2 upstreams are counted"
is "$(metric_sum portico_upstream_http2_streams_open)" 0 "metrics: no stream is left open"

# --- configuration ---------------------------------------------------------------------------
cat >"$T/bad.yaml" <<EOF
admin: { enabled: false }
services: [{ name: a, protocol: h2c, targets: ["https://127.0.0.1:$HT"] }]
routes: [{ name: r, match: { path_prefix: /r/ }, service: a }]
EOF
config_refused "protocol h2c with an https target" "h2c is HTTP/2 without TLS, but target 'https://127.0.0.1:$HT' is https"
sed -i 's/protocol: h2c/protocol: http2/' "$T/bad.yaml"
config_refused "an unknown protocol" "protocol.*(http1|h2)"
alive_after "gRPC and HTTP/2 upstream traffic"
portico_stop TERM
is "$PORTICO_STATUS" 0 "portico exits 0 with HTTP/2 upstream connections open"
# Only a sanitizer build can see a read of freed memory or a leak; elsewhere this is skipped.
if [ -z "${SANITIZE:-}" ]; then
    skip "no sanitizer report" "not a sanitizer build (SANITIZE is unset)"
elif grep -q 'Sanitizer' "$T/portico.err"; then
    not_ok "no sanitizer report" "$(grep -A14 'ERROR: .*Sanitizer' "$T/portico.err" | head -30)"
else
    ok "no sanitizer report"
fi
done_testing
