#!/usr/bin/env bash
# The command line: version, help, usage errors (exit 64), check-config (exit 0, or 1 with
# "FILE:LINE: KEY: ..."), and serve without -c (./portico.yaml, else the built-in defaults).
. "$(dirname "$0")/lib.sh"

if [ ! -x "$PORTICO" ]; then
    not_ok "portico binary exists" "missing: $PORTICO (run make)"
    done_testing; exit
fi

# run_cli ARGS...: sets CLI_OUT, CLI_ERR, CLI_RC.
run_cli() {
    (cd "$T" && timeout 10 "$PORTICO" "$@" >"$T/cli.out" 2>"$T/cli.err")
    CLI_RC=$?
    CLI_OUT=$(cat "$T/cli.out"); CLI_ERR=$(cat "$T/cli.err")
}

run_cli version
is "$CLI_RC" 0 "version exits 0"
like "$CLI_OUT" '^portico [0-9]+\.[0-9]+\.[0-9]+$' "version prints 'portico X.Y.Z'"

run_cli help
is "$CLI_RC" 0 "help exits 0"
like "$CLI_OUT" 'serve' "help lists the serve command"
like "$CLI_OUT" 'check-config' "help lists the check-config command"

run_cli frobnicate
is "$CLI_RC" 64 "unknown subcommand exits 64"
like "$CLI_ERR" '[Uu]sage' "unknown subcommand prints usage on stderr"
is "$CLI_OUT" "" "unknown subcommand prints nothing on stdout"

run_cli serve --no-such-flag
is "$CLI_RC" 64 "unknown flag to serve exits 64"
like "$CLI_ERR" '[Uu]sage' "unknown flag prints usage on stderr"

run_cli check-config
is "$CLI_RC" 64 "check-config without -c exits 64"

run_cli
is "$CLI_RC" 64 "no subcommand exits 64"

# ---------------------------------------------------------------------------- check-config
cat >"$T/good.yaml" <<'EOF'
listen: ["127.0.0.1:18080"]
workers: 2
access_log: "off"
limits: { max_header_bytes: 8192, max_body_bytes: 1MB, header_timeout: 2s, idle_timeout: 5s }
services:
  - name: echo
    targets: ["http://127.0.0.1:9001", {url: "http://127.0.0.1:9002", weight: 3}]
    lb: weighted
    timeouts: { connect: 1s, first_byte: 2s, idle: 5s }
    retries: 1
    passive_health: { max_fails: 2, eject_for: 5s }
    health_check: { path: /healthz, interval: 500ms, timeout: 300ms, healthy_threshold: 1, unhealthy_threshold: 1 }
routes:
  - name: echo
    match: { path_prefix: "/v1/", host: "api.example.com", methods: [GET, POST], headers: { x-env: "prod" } }
    service: echo
    strip_prefix: true
    request_headers: { add: { x-added: "1" }, remove: [x-secret] }
    response_headers: { add: { x-gw: "portico" }, remove: [server] }
EOF
run_cli check-config -c "$T/good.yaml"
is "$CLI_RC" 0 "check-config accepts a good file (exit 0)"
[ "$CLI_RC" = 0 ] || note "stderr: $CLI_ERR"

# check_bad NAME FILE LINE KEY_REGEX: exit 1 and a first line "FILE:LINE: KEY: message".
check_bad() {
    local name=$1 file=$2 line=$3 key=$4
    run_cli check-config -c "$file"
    is "$CLI_RC" 1 "check-config rejects $name (exit 1)"
    local first
    first=$(head -n 1 <<<"$CLI_ERR$CLI_OUT")
    like "$first" "^$(printf '%s' "$file" | sed 's/[][\.*^$+?(){}|]/\\&/g'):$line: $key: .+" \
        "check-config names file, line $line and key for $name"
}

cat >"$T/bad-lb.yaml" <<'EOF'
listen: ["127.0.0.1:18080"]
workers: 1
services:
  - name: echo
    targets: ["http://127.0.0.1:9001"]
    lb: sideways
routes:
  - name: echo
    match: { path_prefix: "/" }
    service: echo
EOF
check_bad "an unknown lb value" "$T/bad-lb.yaml" 6 '([a-z_.]*[.])?(services\[0\][.])?lb'

cat >"$T/bad-key.yaml" <<'EOF'
listen: ["127.0.0.1:18080"]
wrokers: 2
EOF
check_bad "an unknown top-level key" "$T/bad-key.yaml" 2 'wrokers'

cat >"$T/bad-service.yaml" <<'EOF'
listen: ["127.0.0.1:18080"]
services:
  - name: echo
    targets: ["http://127.0.0.1:9001"]
routes:
  - name: r
    match: { path_prefix: "/" }
    service: nosuch
EOF
check_bad "a route naming an unknown service" "$T/bad-service.yaml" 8 '([a-z_.]*[.])?(routes\[0\][.])?service'
like "$CLI_ERR" 'nosuch' "the unknown-service message names the missing service"

cat >"$T/bad-env.yaml" <<'EOF'
listen: ["127.0.0.1:18080"]
services:
  - name: echo
    targets: ["${PORTICO_TEST_SURELY_UNSET_VAR}"]
EOF
unset PORTICO_TEST_SURELY_UNSET_VAR
run_cli check-config -c "$T/bad-env.yaml"
is "$CLI_RC" 1 "check-config rejects a missing \${ENV} reference (exit 1)"
like "$CLI_ERR" "bad-env\.yaml:4: .*PORTICO_TEST_SURELY_UNSET_VAR" "the missing variable is named with file and line"

cat >"$T/env-ok.yaml" <<'EOF'
listen: ["127.0.0.1:18080"]
services:
  - name: echo
    targets: ["${PORTICO_TEST_TARGET}"]
EOF
PORTICO_TEST_TARGET=http://127.0.0.1:9001 run_cli check-config -c "$T/env-ok.yaml"
is "$CLI_RC" 0 "check-config expands a set \${ENV} reference"

printf 'listen: ["127.0.0.1:18080"\nworkers: 1\n' >"$T/bad-yaml.yaml"
run_cli check-config -c "$T/bad-yaml.yaml"
is "$CLI_RC" 1 "check-config rejects malformed YAML (exit 1)"
like "$CLI_ERR" "bad-yaml\.yaml:[0-9]+: " "the YAML syntax error names file and line"

run_cli check-config -c "$T/does-not-exist.yaml"
is "$CLI_RC" 1 "check-config on a missing file exits 1"
like "$CLI_ERR" "does-not-exist\.yaml" "the missing-file message names the file"

# ---------------------------------------------------------------------------- serve without -c
# ./portico.yaml in the working directory is used when present.
PP=$(free_port)
mkdir -p "$T/withcfg"
cat >"$T/withcfg/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: "off"
EOF
(cd "$T/withcfg" && exec "$PORTICO" serve >"$T/withcfg.out" 2>"$T/withcfg.err") &
PORTICO_PID=$!
if wait_for 10 answers_200 "http://127.0.0.1:$PP/healthz"; then
    ok "serve without -c uses ./portico.yaml"
else
    not_ok "serve without -c uses ./portico.yaml" "no 200 on 127.0.0.1:$PP/healthz; stderr: $(tail -n 5 "$T/withcfg.err")"
fi
portico_stop
is "$PORTICO_STATUS" 0 "serve exits 0 on SIGTERM"

# Built-in defaults: 127.0.0.1:8080 with health, readiness and metrics.
if [ -n "$(ss -Htln '( sport = :8080 )')" ]; then
    skip "serve with no config serves the built-in defaults on 127.0.0.1:8080" "port 8080 is in use on this host"
else
    mkdir -p "$T/nocfg"
    (cd "$T/nocfg" && exec "$PORTICO" serve >"$T/nocfg.out" 2>"$T/nocfg.err") &
    PORTICO_PID=$!
    if wait_for 10 answers_200 "http://127.0.0.1:8080/healthz"; then
        ok "serve with no config answers /healthz 200 on 127.0.0.1:8080"
        http GET http://127.0.0.1:8080/readyz
        is "$RESP_STATUS" 200 "defaults: /readyz answers 200"
        http GET http://127.0.0.1:8080/metrics
        is "$RESP_STATUS" 200 "defaults: /metrics answers 200"
        like "$(hdr content-type)" '^text/plain' "defaults: /metrics is text/plain"
        like "$RESP_BODY" $'(^|\n)# TYPE portico_[a-z_]+ (counter|gauge|histogram)' "defaults: /metrics has typed portico_ families"
        like "$RESP_BODY" $'(^|\n)portico_[a-z_]+(\\{[^}]*\\})? [0-9.e+-]+' "defaults: /metrics has portico_ samples"
        http GET http://127.0.0.1:8080/nothing-here
        is "$RESP_STATUS" 404 "defaults: an unknown path is 404"
    else
        not_ok "serve with no config answers /healthz 200 on 127.0.0.1:8080" "stderr: $(tail -n 5 "$T/nocfg.err")"
    fi
    portico_stop
    is "$PORTICO_STATUS" 0 "defaults: exits 0 on SIGTERM"
fi

done_testing
