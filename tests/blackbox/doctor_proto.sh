#!/usr/bin/env bash
# doctor_proto.sh: the doctor's protocol-level lab. Each case starts a real broken (or healthy)
# server on loopback, runs `portico doctor --json`, and asserts the root-cause id, the key
# evidence and the exit status. Servers live in tests/upstreams/doctor; lib.sh stops them on exit.
# run alone: a lab server answers after 1.6 s and the doctor waits 2.4 s for it; the margin is kept
# for a machine that runs nothing else.
. "$(dirname "$0")/lib.sh"

LAB=$UPSTREAMS/doctor
SDK=$ROOT/tests/node/node_modules/@modelcontextprotocol/sdk

# doctor ARGS...: runs the doctor with --json; sets DJ (the document) and DRC (its exit status).
doctor() {
    DJ=$("$PORTICO" doctor --json "$@" 2>"$T/doctor.err")
    DRC=$?
}
# ev CHECK FILTER: jq FILTER on the evidence of CHECK in the last run.
ev() { jq -r --arg c "$1" ".checks[] | select(.id == \$c) | .evidence | $2" <<<"$DJ" 2>/dev/null; }
# field FILTER: jq FILTER on the last run's document.
field() { jq -r "$1" <<<"$DJ" 2>/dev/null; }

# expect NAME CAUSE EXIT: the root cause and the exit status of the last run.
expect() {
    local got
    got=$(field '.root_cause.id // "none"')
    if [ "$got" = "$2" ] && [ "$DRC" = "$3" ]; then
        ok "$1: root cause $2, exit $3"
    else
        not_ok "$1: root cause $2, exit $3" "got root cause '$got', exit $DRC" \
            "summary: $(field '.root_cause.summary')" "stderr: $(head -c 400 "$T/doctor.err")"
    fi
}

# lab NAME COMMAND...: starts a lab server that prints "listening PORT" once it is ready.
lab() {
    local name=$1; shift
    "$@" >"$T/$name.log" 2>&1 &
    track $!
    LAB_PID=$!
    if ! wait_for 20 grep -q '^listening' "$T/$name.log"; then
        note "lab server $name did not start: $(tail -n 5 "$T/$name.log")"
        return 1
    fi
}

if [ ! -x "$PORTICO" ]; then
    not_ok "portico binary exists" "missing: $PORTICO (run make)"
    done_testing; exit
fi

# cert NAME DAYS SAN [CA]: $T/NAME.pem and $T/NAME.key for CN=localhost with subjectAltName SAN,
# valid DAYS days (negative: already expired), self-signed or signed by $T/ca.pem. The lib's
# certificates live 2 days, which the doctor rightly warns about, so these live 30.
cert() {
    openssl req -newkey rsa:2048 -nodes -keyout "$T/$1.key" -out "$T/$1.csr" -subj "/CN=localhost" >/dev/null 2>&1
    printf 'subjectAltName=%s\n' "$3" >"$T/$1.ext"
    if [ -n "${4:-}" ]; then
        openssl x509 -req -in "$T/$1.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days "$2" \
            -extfile "$T/$1.ext" -out "$T/$1.pem" >/dev/null 2>&1
    else
        openssl x509 -req -in "$T/$1.csr" -signkey "$T/$1.key" -days "$2" -extfile "$T/$1.ext" \
            -out "$T/$1.pem" >/dev/null 2>&1
    fi
}

# ---------------------------------------------------------------------- plain HTTP vs TLS
cert self 30 "DNS:localhost,IP:127.0.0.1"
P=$(free_port)
if lab tls node "$LAB/lab.mjs" https "$P" "$T/self.pem" "$T/self.key"; then
    doctor "http://localhost:$P/health"
    expect "TLS server hit with http://" plain_http_on_tls_port 2
    is "$(ev protocol .protocol)" tls "TLS server hit with http://: protocol evidence says tls"
    like "$(field .root_cause.remedy)" "https://localhost:$P/health" \
        "TLS server hit with http://: the fix gives the https:// URL with the real port"
fi

P=$(free_port)
if lab plain node "$LAB/lab.mjs" http "$P" 200; then
    doctor "https://localhost:$P/"
    expect "plain server hit with https://" tls_on_plain_port 2
    is "$(ev protocol .protocol)" http1 "plain server hit with https://: protocol evidence says http1"
    like "$(field .root_cause.remedy)" "http://localhost:$P/" \
        "plain server hit with https://: the fix gives the http:// URL"
    is "$(ev tls .tls.error)" "wrong version number" "plain server hit with https://: the handshake error is kept"

    doctor "http://127.0.0.1:$P/"
    is "$(field '[.checks[] | select(.id == "protocol" or .id == "http") | .status] | join(",")')" "pass,pass" \
        "healthy plain server: protocol and http pass"
    is "$(ev http .status)" 200 "healthy plain server: http evidence has the status"
    like "$(ev http '.timing | has("connect_ms") and has("first_byte_ms") and has("total_ms")')" true \
        "healthy plain server: http evidence has the timing phases"
fi

# ---------------------------------------------------------------------- certificates
P=$(free_port)
if lab selfsigned node "$LAB/lab.mjs" https "$P" "$T/self.pem" "$T/self.key"; then
    doctor "https://localhost:$P/"
    expect "self-signed certificate" tls_self_signed 2
    is "$(ev tls '[.problems[].id] | join(",")')" self_signed "self-signed certificate: the only problem listed"
    is "$(ev tls .tls.handshake)" true "self-signed certificate: the handshake itself works"
    like "$(ev tls .tls.version)" '^TLSv1\.[23]$' "self-signed certificate: the protocol version is reported"
    like "$(field .root_cause.remedy)" "curl --cacert server.pem https://localhost:$P/" \
        "self-signed certificate: the fix says how to trust it, with the real address"
fi

# A server that requires a client certificate: after the handshake in TLS 1.3
# (certificate_required), in it with TLS 1.2; one that only asks is fine.
P=$(free_port)
if lab mtls node "$LAB/lab.mjs" mtls "$P" "$T/self.pem" "$T/self.key"; then
    doctor "https://localhost:$P/"
    expect "client certificate required (TLS 1.3)" tls_client_cert_required 2
    like "$(field .root_cause.summary)" "alert certificate_required" "client certificate (TLS 1.3): the server's alert is named"
    like "$(field .root_cause.remedy)" "curl --cert client.pem" "client certificate (TLS 1.3): the fix says how to give one"
fi
P=$(free_port)
if lab mtls12 node "$LAB/lab.mjs" mtls "$P" "$T/self.pem" "$T/self.key" TLSv1.2; then
    doctor "https://localhost:$P/"
    expect "client certificate required (TLS 1.2)" tls_client_cert_required 2
fi
P=$(free_port)
if lab mtlsopt node "$LAB/lab.mjs" mtls-optional "$P" "$T/self.pem" "$T/self.key"; then
    doctor "https://localhost:$P/"
    is "$(ev tls .tls.client_certificate)" optional "client certificate only asked for: noted as optional"
    is "$(field .root_cause.id)" tls_self_signed "client certificate only asked for: not the cause"
fi

# HTTP/2 over TLS only: the TLS check connects the h2 it negotiated with the HTTP/1.1 failure.
P=$(free_port)
if lab h2tls node "$LAB/lab.mjs" h2tls "$P" "$T/self.pem" "$T/self.key"; then
    doctor "https://localhost:$P/"
    expect "a TLS server speaking only HTTP/2" tls_h2_only 2
    like "$(field .root_cause.remedy)" "allowHTTP1" "HTTP/2 only: the fix says how to accept HTTP/1.1"
fi

# A TLS server that never answers the request (OpenSSL's own server without -www, its stdin
# kept open): the http check cannot tell slow from hung over TLS, so it says how to tell.
P=$(free_port)
sleep 60 | openssl s_server -accept "127.0.0.1:$P" -cert "$T/self.pem" -key "$T/self.key" >"$T/tlshung.log" 2>&1 &
track $!
if wait_for 10 grep -q '^ACCEPT' "$T/tlshung.log"; then
    doctor "https://localhost:$P/"
    is "$(field '.checks[] | select(.id == "http") | .cause')" handler_hung "TLS server that never answers: the http check says hung"
    like "$(field '.checks[] | select(.id == "http") | .remedy')" "rerun with --timeout [0-9]+" \
        "TLS server that never answers: the fix says how to tell a slow handler from a hung one"
else
    skip "TLS server that never answers" "openssl s_server did not start: $(tail -n 2 "$T/tlshung.log")"
fi

# A server that speaks only TLS 1.1 (OpenSSL's own server, legacy algorithms allowed): named
# as such, not as a handshake failure with an alert.
P=$(free_port)
openssl s_server -accept "127.0.0.1:$P" -cert "$T/self.pem" -key "$T/self.key" -tls1_1 \
    -cipher 'DEFAULT:@SECLEVEL=0' -www </dev/null >"$T/legacy.log" 2>&1 &
track $!
if wait_for 10 grep -q '^ACCEPT' "$T/legacy.log"; then
    doctor "https://localhost:$P/"
    expect "a server speaking only TLS 1.1" tls_legacy_version 2
    is "$(ev tls .tls.legacy_version)" TLSv1.1 "TLS 1.1 only: the version it speaks"
else
    skip "a server speaking only TLS 1.1" "openssl s_server could not serve TLS 1.1 here: $(tail -n 2 "$T/legacy.log")"
fi

# A private CA with an intermediate: the server sends its certificate and the intermediate,
# the root stays with whoever runs the CA. The root is named; no intermediate is missing.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/root.key" -out "$T/root.pem" -days 30 \
    -subj "/CN=Lab Private Root" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -keyout "$T/inter.key" -out "$T/inter.csr" -subj "/CN=Lab Intermediate" >/dev/null 2>&1
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$T/inter.ext"
openssl x509 -req -in "$T/inter.csr" -CA "$T/root.pem" -CAkey "$T/root.key" -CAcreateserial -days 30 \
    -extfile "$T/inter.ext" -out "$T/inter.pem" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -keyout "$T/leaf.key" -out "$T/leaf.csr" -subj "/CN=localhost" >/dev/null 2>&1
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$T/leaf.ext"
openssl x509 -req -in "$T/leaf.csr" -CA "$T/inter.pem" -CAkey "$T/inter.key" -CAcreateserial -days 30 \
    -extfile "$T/leaf.ext" -out "$T/leaf.pem" >/dev/null 2>&1
cat "$T/leaf.pem" "$T/inter.pem" >"$T/leafchain.pem"
P=$(free_port)
if lab privca node "$LAB/lab.mjs" https "$P" "$T/leafchain.pem" "$T/leaf.key"; then
    doctor "https://localhost:$P/"
    expect "a private CA behind an intermediate" tls_untrusted_ca 2
    like "$(field .root_cause.summary)" "Lab Private Root" "private CA: the untrusted root is named"
    like "$(field .root_cause.summary)" "2 certificates" "private CA: the chain that was sent is counted"
    unlike_intermediates() { ! grep -q "intermediate" <<<"$(field .root_cause.remedy)"; }
    check "private CA: the fix does not claim intermediates are missing" unlike_intermediates
    like "$(field .root_cause.remedy)" "NODE_EXTRA_CA_CERTS=ca.pem" "private CA: the fix says how to trust it"
fi

# An expired certificate from a private CA, for DNS:localhost only, used through 127.0.0.1: three
# problems at once, where curl shows only the first.
test_ca
cert old -1 "DNS:localhost" ca
P=$(free_port)
if lab expired node "$LAB/lab.mjs" https "$P" "$T/old.pem" "$T/old.key"; then
    doctor "https://127.0.0.1:$P/"
    expect "expired certificate" tls_expired 2
    probs=$(ev tls '[.problems[].id] | sort | join(",")')
    is "$probs" "expired,incomplete_chain,name_mismatch" "expired certificate: every problem is listed at once"
    like "$(ev tls '.problems[] | select(.id == "expired") | .days_ago')" '^[1-9][0-9]*$' \
        "expired certificate: how long ago it expired"
    is "$(ev tls '.problems[] | select(.id == "expired") | .not_after')" \
        "$(date -u -d "$(openssl x509 -in "$T/old.pem" -noout -enddate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ)" \
        "expired certificate: the expiry date is the certificate's"
    is "$(ev tls '.problems[] | select(.id == "name_mismatch") | .names | join(",")')" "DNS:localhost" \
        "expired certificate: the names it is valid for"

    # The same server with a certificate the client trusts: only the real problems stay.
    cert good 30 "DNS:localhost,IP:127.0.0.1" ca
    P2=$(free_port)
    if lab trusted node "$LAB/lab.mjs" https "$P2" "$T/good.pem" "$T/good.key"; then
        DJ=$(SSL_CERT_FILE=$T/ca.pem "$PORTICO" doctor --json "https://localhost:$P2/" 2>"$T/doctor.err"); DRC=$?
        is "$(field '.checks[] | select(.id == "tls") | .status')" pass "trusted CA (SSL_CERT_FILE): tls passes"
        is "$(ev tls '.problems | length')" 0 "trusted CA (SSL_CERT_FILE): no problem listed"
    fi
fi

# ---------------------------------------------------------------------- unresponsive
P=$(free_port)
if lab silent node "$LAB/lab.mjs" silent "$P"; then
    doctor "http://127.0.0.1:$P/"
    expect "server that accepts and never answers" handler_hung 2
    is "$(ev protocol .protocol)" silent "server that never answers: protocol says silent"
    is "$(ev unresponsive .owner.pid)" "$LAB_PID" "server that never answers: the owner's PID is named"
    is "$(ev unresponsive '.http_request | .unread_bytes == .sent_bytes')" true \
        "server that never answers: the request still waits unread in its receive queue"
fi

# Silence and slowness told apart (servers in slowlab.py). A protocol where the client speaks
# first reads every probe and waits for more: not hung, and not HTTP.
SLOW="$LAB/slowlab.py"
P=$(free_port)
if lab waits python3 "$SLOW" waits "$P"; then
    doctor "127.0.0.1:$P"
    expect "server that reads and waits for more (host:port)" none 0
    is "$(ev unresponsive .http_request.every_probe_read)" true "server that waits: every probe was read"
    is "$(ev unresponsive .http_request.unread_bytes)" 0 "server that waits: the request left nothing unread"
    like "$(field '.checks[] | select(.id == "unresponsive") | .summary')" "not hung" "server that waits: said not to be hung"
    doctor "http://127.0.0.1:$P/"
    expect "server that reads and waits for more (HTTP URL)" protocol_not_http 2
    like "$(field .root_cause.summary)" "even to a request it cannot parse" "server that waits (HTTP URL): the evidence is the malformed request"
fi

# An HTTP server whose handler blocks: malformed requests still get its error page at once.
P=$(free_port)
if lab blocked python3 "$SLOW" blocked "$P"; then
    doctor "http://127.0.0.1:$P/"
    expect "HTTP handler that blocks" handler_hung 2
    is "$(ev protocol .protocol)" http1 "blocked handler: the port is still known to speak HTTP"
    like "$(field .root_cause.summary)" "answers other requests at once .*error page" \
        "blocked handler: the error page to a malformed request is the evidence"
    is "$(ev unresponsive .http_request.answer_ms)" null "blocked handler: no late answer"
    like "$(field .root_cause.remedy)" "--timeout 5000" "blocked handler: the fix says how to wait longer"
fi

# A handler that answers after 1.6 s, longer than the default 1 s timeout: slow, not hung. (The
# doctor waits until 2.4 s after its protocol check began, about 2.1 s after the request; 1.6 s
# leaves room for a loaded machine.)
P=$(free_port)
if lab slow python3 "$SLOW" slow "$P" 1.6; then
    doctor "http://127.0.0.1:$P/"
    expect "handler answering after 1.6 s" slow_response 1
    ms=$(ev unresponsive .http_request.answer_ms)
    is "$((ms >= 1600))" 1 "slow handler: the late answer is timed ($ms ms)"
    to=$(field .root_cause.remedy | grep -o -- '--timeout [0-9]*' | head -n 1)
    is "$((${to#--timeout } > ms))" 1 "slow handler: the fix says to raise --timeout above the answer ($to)"
    is "$(field '.checks[] | select(.id == "http") | .status')" skip "slow handler: the HTTP check does not wait twice"
fi

cc -O1 -o "$T/noaccept" "$LAB/noaccept.c" 2>"$T/cc.err" || note "cc failed: $(cat "$T/cc.err")"
P=$(free_port)
if [ -x "$T/noaccept" ] && lab noaccept "$T/noaccept" "$P"; then
    doctor "127.0.0.1:$P"
    expect "listener whose accept queue is full" accept_queue_full 2
    q=$(ev unresponsive '.queue_before | "\(.accept_queue)/\(.backlog)"')
    like "$q" '^[2-9]/1$' "accept queue full: queue length above the backlog of 1 ($q)"
    is "$(ev unresponsive .owner.pid)" "$LAB_PID" "accept queue full: the owner's PID is named"
    like "$(field .root_cause.remedy)" "PID $LAB_PID \\(.*noaccept.*\\) is stuck or overloaded" \
        "accept queue full: the fix names the process that does not accept"
fi

# ---------------------------------------------------------------------- other protocols
P=$(free_port)
if lab h2c node "$LAB/lab.mjs" h2c "$P"; then
    doctor "http://127.0.0.1:$P/"
    expect "h2c-only server" h2c_only 2
    is "$(ev protocol .protocol)" h2c "h2c-only server: protocol says h2c"
    like "$(field .root_cause.remedy)" "--http2-prior-knowledge http://127.0.0.1:$P/" \
        "h2c-only server: the fix gives the prior-knowledge command"
fi

P=$(free_port)
if lab ssh node "$LAB/lab.mjs" banner "$P" "SSH-2.0-OpenSSH_9.2p1 lab"; then
    doctor "http://127.0.0.1:$P/"
    expect "SSH on the port an HTTP URL names" protocol_not_http 2
    is "$(ev protocol .detail)" "SSH-2.0-OpenSSH_9.2p1 lab" "SSH on an HTTP port: the banner is shown"
fi

P=$(free_port)
if lab mongo node "$LAB/lab.mjs" mongo "$P"; then
    doctor "http://127.0.0.1:$P/"
    expect "MongoDB's driver port named by an HTTP URL" protocol_not_http 2
    is "$(ev protocol .protocol)" mongodb "MongoDB: named although it answers 200"
fi

P=$(free_port)
if lab http503 node "$LAB/lab.mjs" http "$P" 503; then
    doctor "http://127.0.0.1:$P/ready"
    expect "server answering 503" http_error_status 2
    is "$(ev http .status)" 503 "server answering 503: the status is the evidence"
fi

# ---------------------------------------------------------------------- MCP over HTTP
if [ ! -d "$SDK" ]; then
    skip "MCP lab cases" "@modelcontextprotocol/sdk missing in tests/node (scripts/deps.sh installs it)"
else
    P=$(free_port)
    if lab mcp node "$LAB/mcp_http.mjs" "$P" streamable /mcp; then
        doctor "mcp+http://127.0.0.1:$P/sse"
        expect "MCP server on /mcp asked at /sse" mcp_wrong_path 2
        is "$(ev mcp .working_path)" /mcp "MCP asked at /sse: the working path is found"
        like "$(field .root_cause.remedy)" "mcp\\+http://127.0.0.1:$P/mcp" "MCP asked at /sse: the fix gives the URL"

        doctor "mcp+http://127.0.0.1:$P/mcp"
        is "$(field '.checks[] | select(.id == "mcp") | .status')" pass "MCP at /mcp: the handshake passes"
        is "$(ev mcp .tools)" 2 "MCP at /mcp: tools/list on the session finds both tools"
        is "$(ev mcp .session)" true "MCP at /mcp: the session id was used"
        is "$(ev mcp .unknown_session_status)" 404 "MCP at /mcp: an unknown session gets 404"
        is "$(ev mcp .accept_json_only_status)" 406 "MCP at /mcp: a JSON-only Accept would get 406, and it says so"
    fi

    P=$(free_port)
    if lab hidden node "$LAB/mcp_http.mjs" "$P" hidden-session /mcp; then
        doctor "mcp+http://127.0.0.1:$P/mcp"
        expect "session id that never reaches the client" mcp_session_error 2
        like "$(field .root_cause.summary)" "without an Mcp-Session-Id header.*refused with 400" \
            "hidden session id: the summary says what happened"
    fi

    P=$(free_port)
    if lab authbare node "$LAB/mcp_http.mjs" "$P" auth-bare /mcp; then
        doctor "mcp+http://127.0.0.1:$P/mcp"
        expect "401 without WWW-Authenticate" mcp_auth_no_metadata 2
        is "$(ev mcp .www_authenticate)" null "401 without metadata: no WWW-Authenticate in the evidence"
    fi

    # A 401 whose protected-resource metadata URL is itself broken (404), and one that works.
    P=$(free_port)
    if lab prmbroken node "$LAB/mcp_http.mjs" "$P" auth-prm-broken /mcp; then
        doctor "mcp+http://127.0.0.1:$P/mcp"
        expect "401 whose OAuth metadata URL answers 404" mcp_auth_metadata_broken 2
        is "$(ev mcp .resource_metadata)" "http://127.0.0.1:$P/.well-known/oauth-protected-resource" \
            "broken metadata: the URL clients are sent to is the evidence"
        like "$(field .root_cause.summary)" "answers 404" "broken metadata: what fetching it gave"
    fi
    P=$(free_port)
    if lab prm node "$LAB/mcp_http.mjs" "$P" auth-prm /mcp; then
        doctor "mcp+http://127.0.0.1:$P/mcp"
        is "$(field '.checks[] | select(.id == "mcp") | "\(.status) \(.cause)"')" "warn mcp_auth_required" \
            "401 with working OAuth metadata: only a warning from the mcp check"
        like "$(field '.checks[] | select(.id == "mcp") | .summary')" "answers with authorization servers" \
            "working metadata: fetched and found usable"
    fi

    P=$(free_port)
    if lab version node "$LAB/mcp_http.mjs" "$P" version-refuse /mcp; then
        doctor "mcp+http://127.0.0.1:$P/mcp"
        expect "server refusing the protocol version" mcp_version_mismatch 2
        like "$(field .root_cause.summary)" "supported: 2024-11-05, 2025-03-26" \
            "version refused: the versions the server supports are listed"
    fi

    # Over TLS with a self-signed certificate: MCP itself works, the certificate is the problem.
    P=$(free_port)
    if lab mcps node "$LAB/mcp_http.mjs" "$P" streamable /mcp "$T/self.pem" "$T/self.key"; then
        doctor "mcp+https://localhost:$P/mcp"
        expect "MCP over TLS with a self-signed certificate" tls_self_signed 2
        is "$(field '.checks[] | select(.id == "mcp") | .status')" pass "MCP over TLS: the handshake passes"
        is "$(ev mcp .certificate_verified)" false "MCP over TLS: the mcp check says it did not verify"
    fi

    # A server of the stateless 2026-07-28 revision refuses initialize: the doctor goes on with
    # server/discover and tools/list, and warns that 2025-era clients cannot use it.
    MODERN=$UPSTREAMS/mcp/modern.mjs
    P=$(free_port)
    if lab modern node "$MODERN" http mh "$P"; then
        doctor "mcp+http://127.0.0.1:$P/mcp"
        expect "a server speaking only 2026-07-28 (HTTP)" mcp_modern_only 1
        is "$(ev mcp '[.server, .protocol_version, .tools] | join(" ")')" "modern-mh 1.0.0 2026-07-28 2" \
            "2026-07-28 over HTTP: its name from server/discover and its tools from tools/list"
        is "$(ev mcp '[.requests[].sent] | join(",")')" "initialize,server/discover,tools/list" \
            "2026-07-28 over HTTP: initialize refused, then the revision's requests"
        like "$(field .root_cause.remedy)" "through Portico" "2026-07-28 over HTTP: the fix names the way around"
    fi
    doctor --mcp-stdio -- node "$MODERN" stdio ms
    expect "a server speaking only 2026-07-28 (stdio)" mcp_modern_only 1
    like "$(field .root_cause.summary)" "modern-ms 1.0.0 speaks only MCP 2026-07-28 over stdio: .*2 tools: whoami, echo" \
        "2026-07-28 over stdio: named, with its tools"

    P=$(free_port)
    if lab vlater node "$LAB/mcp_http.mjs" "$P" version-later /mcp; then
        doctor "mcp+http://127.0.0.1:$P/mcp"
        expect "a server refusing the version it negotiated, after initialize" mcp_version_mismatch 2
        like "$(field .root_cause.summary)" "Unsupported protocol version" "version after initialize: the server's words"
    fi

    P=$(free_port)
    if lab slash node "$LAB/mcp_http.mjs" "$P" slash-redirect /mcp/; then
        doctor "mcp+http://127.0.0.1:$P/mcp"
        is "$(field '.checks[] | select(.id == "mcp") | .status')" pass "a 307 /mcp -> /mcp/ that clients follow passes"
        is "$(ev mcp .redirect.to)" /mcp/ "307 redirect: where it leads is shown"
        is "$DRC" 0 "307 redirect: exit status 0"
    fi

    P=$(free_port)
    if lab moved node "$LAB/mcp_http.mjs" "$P" moved-redirect /mcp/; then
        doctor "mcp+http://127.0.0.1:$P/mcp"
        expect "a 301 that clients follow with a GET" mcp_redirect_changes_method 2
        like "$(field .root_cause.remedy)" "mcp\+http://127.0.0.1:$P/mcp/" "301 redirect: the fix names the URL to use"
    fi

    P=$(free_port)
    if lab oldsse node "$LAB/mcp_http.mjs" "$P" old-sse /sse; then
        doctor "mcp+http://127.0.0.1:$P/sse"
        expect "old HTTP+SSE transport" mcp_old_sse_transport 2
        like "$(ev mcp .old_sse_endpoint_event)" '^/messages\?sessionId=' "old transport: the endpoint event is shown"
    fi

    P=$(free_port)
    if lab hosts node "$LAB/mcp_http.mjs" "$P" hosts-only /mcp; then
        doctor "mcp+http://localhost:$P/mcp"
        expect "MCP server refusing the Host header" mcp_host_origin_rejected 2
        like "$(field .root_cause.summary)" "Invalid Host header: localhost:$P" \
            "Host refused: the server's own words are shown"
    fi

    # ------------------------------------------------------------------ MCP over stdio
    tok=lab-$RANDOM$RANDOM
    doctor --mcp-stdio -- node "$LAB/mcp_stdio.mjs" --noisy "--token=$tok"
    expect "stdio server printing logs on stdout" mcp_stdio_stdout_noise 2
    is "$(ev mcp .stdout_noise.first_line)" 1 "stdout noise: the offending line number"
    is "$(ev mcp .stdout_noise.text)" "Lab MCP server started on stdio" "stdout noise: the offending line"
    if pgrep -f -- "--token=$tok" >/dev/null; then
        not_ok "stdout noise: the doctor stopped and reaped the server it started" "still running: $(pgrep -af -- "--token=$tok")"
    else
        ok "stdout noise: the doctor stopped and reaped the server it started"
    fi

    doctor --mcp-stdio -- node "$LAB/mcp_stdio.mjs"
    is "$(field '.checks[] | select(.id == "mcp") | .status')" pass "healthy stdio server: the handshake passes"
    is "$(ev mcp .tools)" 1 "healthy stdio server: tools/list counts its tool"
fi

doctor --mcp-stdio -- portico-lab-no-such-command --stdio
expect "missing stdio command" mcp_stdio_not_found 2

mkdir -p "$T/home/.local/bin"
printf '#!/bin/sh\nexit 0\n' >"$T/home/.local/bin/portico-lab-tool"
chmod +x "$T/home/.local/bin/portico-lab-tool"
DJ=$(HOME=$T/home PATH=/usr/bin:/bin "$PORTICO" doctor --json --mcp-stdio -- portico-lab-tool 2>"$T/doctor.err"); DRC=$?
expect "stdio command off PATH" mcp_stdio_not_found 2
is "$(ev mcp .found_off_path)" "$T/home/.local/bin/portico-lab-tool" "stdio command off PATH: where it is"

# Silent stdio servers are called silent from what they do: one reads the request and answers
# nothing (idle), one never reads its stdin at all. (How long the doctor takes to say so, against
# its 3 s promise, is measured by bench/doctor.sh, not asserted here.)
doctor --mcp-stdio -- node -e 'process.stdin.on("data", () => {}); console.error("lab: listening on stdin")'
expect "stdio server that reads and never answers" mcp_stdio_no_answer 2
is "$(ev mcp .stdin_unread_bytes)" 0 "silent stdio server: it read the request"
like "$(field .root_cause.summary)" "read the initialize request, then sat idle" "silent stdio server: said idle, not slow"
doctor --mcp-stdio -- sh -c 'exec sleep 30'
expect "stdio server that never reads its stdin" mcp_stdio_no_answer 2
is "$(ev mcp '.stdin_unread_bytes > 0')" true "stdio server that never reads: the request is still in the pipe"
doctor --mcp-stdio -- sh -c 'echo "fatal: API_KEY is not set" >&2; exit 3'
expect "stdio server exiting at once" mcp_stdio_exited 2
is "$(ev mcp .exit)" "exited with status 3" "exiting at once: the exit status"
is "$(ev mcp .stderr_tail)" "fatal: API_KEY is not set" "exiting at once: its stderr"

# Node prints the decisive line above a dozen lines of stack and details.
if command -v node >/dev/null; then
    doctor --mcp-stdio -- node "$T/no-such-dir/server.js"
    expect "stdio server whose module is missing" mcp_stdio_exited 2
    is "$(ev mcp .stderr_error)" "Error: Cannot find module '$T/no-such-dir/server.js'" \
        "missing module: the decisive stderr line is found"
    like "$(field .root_cause.summary)" "Cannot find module" "missing module: the summary names it"
fi
doctor --mcp-stdio -- sh -c 'echo "Error: OPENAI_API_KEY is not set"; exit 1'
expect "stdio server printing its error on stdout and exiting" mcp_stdio_exited 2
is "$(ev mcp .stdout_text)" "Error: OPENAI_API_KEY is not set" "error on stdout: blamed for exiting, the text shown"

done_testing
