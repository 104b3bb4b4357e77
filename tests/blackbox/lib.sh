# lib.sh: shared helpers for the black-box tests (source it; do not run it).
#
# A test script does:   . "$(dirname "$0")/lib.sh"
# and gets: a private temp dir $T removed on exit, free loopback ports, portico and upstream
# processes that are killed on exit (even when the script fails or is interrupted), TAP output
# ("ok - name" / "not ok - name" followed by "#" lines giving the reason), and small HTTP helpers.
#
#   free_port                       prints a TCP port nothing on this host uses (127.0.0.1)
#   echo_config TOP [SERVICE]       prints a config: $PP, one service "echo" at $U1, route /echo/
#   portico_start CFG [URL]         starts `portico serve -c CFG`, waits until URL (default
#                                   http://127.0.0.1:$PP/healthz) answers 200; sets PORTICO_PID
#   portico_stop [SIG]              SIGTERM (or SIG), waits up to 15 s, then SIGKILL; sets
#                                   PORTICO_STATUS to the exit status
#   portico_alive                   the process is running and /healthz answers 200
#   upstream_start NAME PORT [ARGS] starts tests/upstreams/echo.mjs; waits until it answers
#   upstream_stop NAME              stops it
#   ctl PORT PATH                   GET http://127.0.0.1:PORT/__ctl/PATH (upstream control)
#   up_stat PORT FIELD / up_count   numbers from the upstream's /__ctl/stats (-1 if it is gone)
#   http METHOD URL [curl args]     one request; sets RESP_STATUS, RESP_HEADERS (file), RESP_BODY
#   hdr NAME                        a header of the last http response (last value, no CR)
#   raw ARGS...                     runs rawclient.mjs against $PP, prints its JSON
#   wait_for SECS CMD...            polls CMD every 50 ms until it succeeds (1 if SECS pass)
#   wait_port PORT [SECS]           until something accepts connections on 127.0.0.1:PORT
#   log_lines FILE                  lines FILE has now (0 if missing): a mark for wait_log
#   wait_log REGEX FILE [AFTER]     until a line of FILE past line AFTER matches (10 s)
#   log_count REGEX FILE            lines of FILE matching REGEX (0 if missing)
#   wait_log_count REGEX FILE N     until at least N lines of FILE match (10 s)
#   tcp_conns PORT                  established connections to the local listener on PORT
#   metric_sum NAME [LABEL...]      sum of /metrics samples NAME{...} holding every LABEL
#   wait_metric NAME N [LABEL...]   until metric_sum NAME LABEL... reaches at least N (10 s)
#   on_exit CMD                     cleanup runs CMD first (stop a server its own way)
#   ok / not_ok / is / like / skip  TAP lines; done_testing prints the plan and sets the exit status
set -uo pipefail

BB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=${PORTICO_ROOT:-$(cd "$BB_DIR/../.." && pwd)}
PORTICO=${PORTICO_BIN:-$ROOT/build/portico}
[[ $PORTICO == /* ]] || PORTICO=$PWD/$PORTICO
UPSTREAMS=$ROOT/tests/upstreams
# seed WHAT ARGS...: writes teams, consumers, keys and subscriptions straight into the store in
# $D before Portico starts (tests/store_seed.c; `seed key NAME` prints the key).
SEED=${STORE_SEED:-$(dirname "$PORTICO")/tests/store_seed}
seed() { "$SEED" "$D" "$@"; }
T=$(mktemp -d "${TMPDIR:-/tmp}/portico-bb.XXXXXX")
PP=${PP:-}
PORTICO_PID=
PORTICO_STATUS=
declare -A UP_PID=()
_bb_pids=()
_bb_exit_hooks=()
_bb_ports=" "
_bb_tests=0
_bb_failed=0

# Kills every process this script started, then removes $T (kept when KEEP_TMP=1, for debugging).
_bb_cleanup() {
    local p h
    for h in "${_bb_exit_hooks[@]}"; do eval "$h"; done
    for p in ${PORTICO_PID:-} "${UP_PID[@]}" "${_bb_pids[@]}"; do
        [ -n "$p" ] && kill -TERM "$p" 2>/dev/null
    done
    for p in ${PORTICO_PID:-} "${UP_PID[@]}" "${_bb_pids[@]}"; do
        [ -n "$p" ] || continue
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    # free_port runs in $(...) subshells, so the claims are found by their owner's pid
    for p in $(grep -lx "$$" "${_BB_PORTS_DIR:?}"/*/pid 2>/dev/null); do rm -rf "${p%/pid}"; done
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "# kept $T" >&2; else rm -rf "$T"; fi
}
trap _bb_cleanup EXIT
trap 'exit 130' INT TERM HUP
trap 'exit 141' PIPE   # e.g. piped into head: still clean up, instead of dying silently

# Registers a background process started by the test so cleanup kills it.
track() { _bb_pids+=("$1"); }
# Registers a command cleanup runs first (before killing processes): stopping a server that
# must shut down its own way.
on_exit() { _bb_exit_hooks+=("$1"); }

# ---------------------------------------------------------------------------- TAP
# Each argument (and each line within one) becomes a "#   " line under the failed test.
_bb_reason() {
    local a l
    for a in "$@"; do while IFS= read -r l; do printf '#   %s\n' "$l"; done <<<"$a"; done
}
ok() { _bb_tests=$((_bb_tests + 1)); echo "ok - $1"; }
not_ok() {
    _bb_tests=$((_bb_tests + 1)); _bb_failed=$((_bb_failed + 1))
    echo "not ok - $1"
    [ $# -gt 1 ] && _bb_reason "${@:2}"
    return 0
}
# is GOT WANT NAME
is() {
    if [ "$1" == "$2" ]; then ok "$3"; else not_ok "$3" "got:  '$1'" "want: '$2'"; fi
}
# like GOT REGEX NAME (bash extended regex)
like() {
    if [[ $1 =~ $2 ]]; then ok "$3"; else not_ok "$3" "got:  '${1:0:600}'" "want match: /$2/"; fi
}
# check NAME COMMAND... : ok when the command succeeds
check() {
    local name=$1; shift
    if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi
}
skip() { _bb_tests=$((_bb_tests + 1)); echo "ok - $1 # SKIP $2"; }
note() { echo "# $*"; }
done_testing() {
    echo "1..$_bb_tests"
    ((_bb_failed == 0))
}

# ---------------------------------------------------------------------------- ports
# Picks a port below the ephemeral range that no socket on this host uses in any state, and
# never hands out the same port twice in one script.
# Tests run side by side (tests/run.sh BB_JOBS): a port is claimed in a directory all of
# them share (mkdir is atomic) before it is handed out, so two tests never pick the same one
# between choosing it and binding it (nor one test twice); a claim whose test is gone is
# taken back, and cleanup drops the test's own.
_BB_PORTS_DIR=${TMPDIR:-/tmp}/portico-bb-ports
mkdir -p "$_BB_PORTS_DIR"
_bb_claim() {
    local d=$_BB_PORTS_DIR/$1 owner
    if mkdir "$d" 2>/dev/null; then echo $$ >"$d/pid"; return 0; fi
    owner=$(cat "$d/pid" 2>/dev/null)
    [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null || return 1
    rm -rf "$d"
    mkdir "$d" 2>/dev/null && echo $$ >"$d/pid"
}
free_port() {
    local p i
    for ((i = 0; i < 500; i++)); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
        [[ $_bb_ports == *" $p "* ]] && continue
        if [ -z "$(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null)" ] && _bb_claim "$p"; then
            _bb_ports+="$p "
            echo "$p"
            return 0
        fi
    done
    echo "free_port: no free port found" >&2
    return 1
}

# ---------------------------------------------------------------------------- waiting
# wait_for SECONDS COMMAND... : polls COMMAND every 50 ms until it succeeds or SECONDS pass.
wait_for() {
    local secs=$1; shift
    local end=$((SECONDS + secs)) n=0
    while ((n < secs * 40)); do
        "$@" && return 0
        ((SECONDS > end)) && return 1
        sleep 0.05; n=$((n + 1))
    done
    return 1
}

# wait_port PORT [SECONDS]: until 127.0.0.1:PORT accepts a TCP connection (default 10 s).
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { wait_for "${2:-10}" port_open "$1"; }

# Log lines are the events most tests wait for. REGEX is grep -E; a missing file has no lines.
log_lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
log_count() { if [ -f "$2" ]; then grep -cE -- "$1" "$2"; else echo 0; fi; }
_bb_log_has() { [ -f "$2" ] && tail -n +$((${3:-0} + 1)) "$2" | grep -qE -- "$1"; }
_bb_log_reaches() { (($(log_count "$1" "$2") >= $3)); }
# wait_log REGEX FILE [AFTER]: until a line after the first AFTER lines (a log_lines mark) matches.
wait_log() { wait_for 10 _bb_log_has "$1" "$2" "${3:-0}"; }
# wait_log_count REGEX FILE N: until at least N lines match (e.g. one more reload than before).
wait_log_count() { wait_for 10 _bb_log_reaches "$1" "$2" "$3"; }

# tcp_conns PORT: established connections whose local end is 127.0.0.1:PORT (a listener's
# accepted connections, counted by the kernel, so also those the server has not read yet).
tcp_conns() { ss -Htn state established "( sport = :$1 )" 2>/dev/null | wc -l; }

# metric_sum NAME [LABEL...]: the sum of the samples of NAME on http://127.0.0.1:$PP/metrics
# whose labels contain every LABEL (e.g. 'route="a"'); 0 when there is none.
metric_sum() {
    local name=$1; shift
    curl -s -m 5 "http://127.0.0.1:$PP/metrics" | awk -v n="$name" -v want="$*" '
        BEGIN { k = split(want, w, " ") }
        { s = $1; sub(/\{.*/, "", s) }
        s == n { okk = 1; for (i = 1; i <= k; i++) if (!index($0, w[i])) okk = 0; if (okk) sum += $NF }
        END { printf "%d\n", sum }'
}
_bb_metric_reaches() { local n=$2 name=$1; shift 2; (($(metric_sum "$name" "$@") >= n)); }
# wait_metric NAME N [LABEL...]: until the counter or gauge reaches at least N. Counters are
# bumped once the response is written, a moment after the client has it: wait, then compare.
wait_metric() { wait_for 10 _bb_metric_reaches "$@"; }

status_of() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$@" 2>/dev/null; }
answers_200() { [ "$(status_of "$@")" = 200 ]; }

# ---------------------------------------------------------------------------- portico
# portico_start CFG [HEALTH_URL [CURL_ARGS...]]: starts portico with CFG in $T (so a relative
# path in the config lands there), stdout in $T/portico.out, stderr (the error log) in
# $T/portico.err. Returns 1, with the reason on stdout as TAP comments, if it dies or never
# becomes ready within 10 s.
portico_start() {
    local cfg=$1 url=${2:-http://127.0.0.1:$PP/healthz}
    shift; [ $# -gt 0 ] && shift
    if [ ! -x "$PORTICO" ]; then
        note "portico binary missing: $PORTICO (run make)"
        return 1
    fi
    # A test that does not configure the admin API does not start it: no store, no Argon2
    # hash at every start, and runs side by side do not contend for its default port.
    grep -q '^admin:' "$cfg" 2>/dev/null || admin_off_line "$PORTICO" >>"$cfg"
    (cd "$T" && exec "$PORTICO" serve -c "$cfg" >>"$T/portico.out" 2>>"$T/portico.err") &
    PORTICO_PID=$!
    PORTICO_STATUS=
    local i
    for ((i = 0; i < 200; i++)); do
        if ! kill -0 "$PORTICO_PID" 2>/dev/null; then
            wait "$PORTICO_PID" 2>/dev/null; PORTICO_STATUS=$?
            note "portico exited with status $PORTICO_STATUS before becoming ready; stderr:"
            tail -n 15 "$T/portico.err" | sed 's/^/#   /'
            PORTICO_PID=
            return 1
        fi
        [ "$(status_of "$@" "$url")" = 200 ] && return 0
        sleep 0.05
    done
    note "portico did not answer 200 on $url within 10 s; stderr:"
    tail -n 15 "$T/portico.err" | sed 's/^/#   /'
    return 1
}

# portico_stop [SIGNAL]: sends SIGNAL (default TERM), waits up to 15 s for the exit, then kills.
portico_stop() {
    local sig=${1:-TERM} i
    [ -n "$PORTICO_PID" ] || return 0
    kill -"$sig" "$PORTICO_PID" 2>/dev/null
    for ((i = 0; i < 300; i++)); do
        kill -0 "$PORTICO_PID" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$PORTICO_PID" 2>/dev/null; then
        note "portico still running 15 s after SIG$sig; killing it"
        kill -KILL "$PORTICO_PID" 2>/dev/null
    fi
    wait "$PORTICO_PID" 2>/dev/null; PORTICO_STATUS=$?
    PORTICO_PID=
}

# portico_alive: the process still runs and /healthz answers 200 on $PP.
portico_alive() {
    [ -n "$PORTICO_PID" ] && kill -0 "$PORTICO_PID" 2>/dev/null && answers_200 "http://127.0.0.1:$PP/healthz"
}

# alive_after NAME: one TAP line saying the server survived what the test just did.
alive_after() {
    if portico_alive; then ok "server still alive and healthy after $1"
    else not_ok "server still alive and healthy after $1" "process or /healthz gone; stderr tail:" \
        "$(tail -n 5 "$T/portico.err" 2>/dev/null)"; fi
}

# rss_kb PID FIELD: a /proc/PID/status field in kB (VmRSS, VmHWM). For portico's supervisor,
# the field of its gateway child, the process that holds the connections and buffers.
rss_kb() {
    local pid=$1 c
    c=$(pgrep -P "$pid" -x portico 2>/dev/null | head -n 1)
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = portico ] && [ -n "$c" ] && pid=$c
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$pid/status" 2>/dev/null
}

# echo_config TOP [SERVICE]: prints the common test config: listen on 127.0.0.1:$PP, no access
# log, the top-level lines TOP (workers, limits, ...), one service "echo" with the target
# 127.0.0.1:$U1 plus the service-level lines SERVICE (indented by 4), and route "echo" on /echo/.
echo_config() {
    cat <<EOF
listen: ["127.0.0.1:$PP"]
access_log: "off"
$1
services:
  - name: echo
    targets: ["http://127.0.0.1:$U1"]
${2:-}
routes:
  - name: echo
    match: { path_prefix: "/echo/" }
    service: echo
EOF
}

# ---------------------------------------------------------------------------- upstreams
# ai_mock_start NAME PORT [MOCK_KEY]: the AI provider test upstream (upstreams/ai/server.mjs),
# its log in $T/mock-NAME.log, waited for; returns 1 (with its last lines noted) if it never answers.
ai_mock_start() {
    PORT=$2 MOCK_KEY=${3:-} node "$UPSTREAMS/ai/server.mjs" >>"$T/mock-$1.log" 2>&1 &
    UP_PID[$1]=$!
    wait_for 10 answers_200 "http://127.0.0.1:$2/healthz" || { note "mock $1 did not start: $(tail -n 3 "$T/mock-$1.log")"; return 1; }
}

# ai_chat BODY [curl args] / ai_msgs BODY [curl args]: POST /v1/chat/completions or /v1/messages
# (Anthropic's version header set) on $PP. sse_data: the data: lines of $RESP_BODY.
# ai_log_line ID: the access log ($LOG) line of request ID, once written.
ai_chat() { http POST "http://127.0.0.1:$PP/v1/chat/completions" -H 'content-type: application/json' --data-binary "$1" "${@:2}"; }
ai_msgs() {
    http POST "http://127.0.0.1:$PP/v1/messages" -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \
        --data-binary "$1" "${@:2}"
}
sse_data() { grep '^data: ' <<<"$RESP_BODY" | cut -c7- | tr -d '\r'; }
_bb_has_request() { [ -f "$LOG" ] && grep -q "\"request_id\":\"$1\"" "$LOG"; }
ai_log_line() {
    wait_for 5 _bb_has_request "$1" || return 0
    grep -F "\"request_id\":\"$1\"" "$LOG" | head -n 1
}

# upstream_start NAME PORT [echo.mjs args]: starts an echo upstream and waits until it answers.
upstream_start() {
    local name=$1 port=$2; shift 2
    local scheme=http extra=()
    [[ " $* " == *" --tls-cert "* ]] && { scheme=https; extra=(-k); }
    node "$UPSTREAMS/echo.mjs" --port "$port" --name "$name" "$@" >>"$T/up-$name.log" 2>&1 &
    UP_PID[$name]=$!
    if ! wait_for 10 answers_200 "${extra[@]}" "$scheme://127.0.0.1:$port/__ctl/stats"; then
        note "upstream $name on port $port did not start: $(tail -n 5 "$T/up-$name.log")"
        return 1
    fi
}

# stop_pid PID [SIGNAL] [SECONDS]: sends SIGNAL (default TERM), waits up to SECONDS (default
# 2.5) for the exit, then SIGKILL; reaps the child and sets STOP_STATUS to its exit status.
stop_pid() {
    local pid=$1 sig=${2:-TERM} secs=${3:-2.5} i
    STOP_STATUS=
    [ -n "$pid" ] || return 0
    kill -"$sig" "$pid" 2>/dev/null
    for ((i = 0; i < ${secs%.*} * 20 + 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null; STOP_STATUS=$?
}

upstream_stop() {
    stop_pid "${UP_PID[$1]:-}"
    unset "UP_PID[$1]"
}

# ctl PORT PATH: an upstream control request (bypasses portico); prints the JSON.
ctl() { curl -s -m 5 "http://127.0.0.1:$1/__ctl/$2"; }
# up_stat PORT FIELD: a number from the upstream's stats (-1 when it does not answer), so
# arithmetic on it never aborts a script.
up_stat() {
    local n
    n=$(ctl "$1" stats | jq -r ".$2 // empty" 2>/dev/null)
    [[ $n =~ ^[0-9]+$ ]] && echo "$n" || echo -1
}
# up_count PORT: requests the upstream has served (health probes and control excluded).
up_count() { up_stat "$1" requests; }

# ---------------------------------------------------------------------------- requests
# http METHOD URL [curl args]: sets RESP_STATUS ("000" when no response), RESP_BODY and
# RESP_HEADERS (a file with the header block of the final response).
RESP_STATUS= RESP_BODY= RESP_HEADERS=$T/resp.headers
http() {
    local method=$1 url=$2; shift 2
    local bodyf=$T/resp.body
    : >"$bodyf"; : >"$RESP_HEADERS"
    RESP_STATUS=$(curl -s -m "${HTTP_TIMEOUT:-10}" -X "$method" -D "$RESP_HEADERS" -o "$bodyf" \
        -w '%{http_code}' "$@" "$url" 2>/dev/null)
    RESP_STATUS=${RESP_STATUS:-000}
    RESP_BODY=$(cat "$bodyf")
}
# get PATH [curl args]: GET http://127.0.0.1:$PP/PATH.
get() { local p=$1; shift; http GET "http://127.0.0.1:$PP$p" "$@"; }

# request_loop URL STOPFILE: GETs URL on a fresh connection each time until STOPFILE exists (at
# most 5000 times), printing one status per line, or "curl-exit-N" when curl fails. Run it in
# the background with stdout to a file, around an event that must not lose requests.
request_loop() {
    local n=0
    while [ ! -f "$2" ] && ((n < 5000)); do
        curl -s -o /dev/null -m 5 -w '%{http_code}\n' "$1$n" || echo "curl-exit-$?"
        n=$((n + 1))
    done
}

# hdr NAME: value of a header in the last http response (last occurrence, case-insensitive).
hdr() {
    awk -v n="$(echo "$1" | tr 'A-Z' 'a-z')" 'BEGIN { RS = "\r?\n" }
        /^HTTP\// { v = ""; found = 0; next }
        { i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == n) { v = substr($0, i + 1); sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v); found = 1 } }
        END { if (found) print v }' "$RESP_HEADERS"
}
has_hdr() {
    awk -v n="$(echo "$1" | tr 'A-Z' 'a-z')" 'BEGIN { RS = "\r?\n"; f = 0 }
        /^HTTP\// { f = 0; next }
        { i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == n) f = 1 }
        END { exit !f }' "$RESP_HEADERS"
}

# jqr FILTER [JSON]: jq -r on JSON (default: last response body); prints "" on bad JSON.
jqr() { local j=${2-$RESP_BODY}; jq -r "$1" <<<"$j" 2>/dev/null; }

# config_refused NAME MESSAGE_REGEX: check-config refuses $T/bad.yaml (the caller wrote it) with
# status 1 and a message matching MESSAGE_REGEX.
config_refused() {
    "$PORTICO" check-config -c "$T/bad.yaml" >"$T/out" 2>"$T/err"
    local rc=$?
    is "$rc" 1 "$1: check-config fails"
    like "$(cat "$T/err")" "$2" "$1: the message says why"
}
# route_refused NAME KEY VALUE MESSAGE_REGEX: config_refused for a file whose one route r (to a
# service at $U1, or port 9) has KEY: VALUE.
route_refused() {
    cat >"$T/bad.yaml" <<EOF2
admin: { enabled: false }
services:
  - name: a
    targets: ["http://127.0.0.1:${U1:-9}"]
routes:
  - name: r
    match: { path_prefix: /r/ }
    service: a
    $2: $3
EOF2
    config_refused "$1" "$4"
}

# echo_header NAME [JSON]: a header the echo upstream received (all values, comma-joined).
echo_header() {
    jqr "[.headers[] | select(.[0] | ascii_downcase == \"$(echo "$1" | tr 'A-Z' 'a-z')\") | .[1]] | join(\",\")" "${2-$RESP_BODY}"
}

# raw ARGS...: rawclient.mjs against 127.0.0.1:$PP (override with --port), JSON on stdout.
raw() { node "$UPSTREAMS/rawclient.mjs" --port "$PP" "$@"; }

# error_shape_ok NAME STATUS CODE_REGEX JSON CONTENT_TYPE: the gateway's JSON error contract.
# Prints TAP lines: status matches, Content-Type JSON, .error.{status,code,message,request_id}.
error_shape() {
    local name=$1 want=$2 code_re=$3 body=$4 ctype=$5
    local problems=()
    [[ $ctype == application/json* ]] || problems+=("content-type '$ctype' is not application/json")
    jq -e . >/dev/null 2>&1 <<<"$body" || problems+=("body is not JSON: '${body:0:200}'")
    [ "$(jqr '.error.status' "$body")" = "$want" ] || problems+=(".error.status is '$(jqr '.error.status' "$body")', want $want")
    [[ $(jqr '.error.code' "$body") =~ $code_re ]] || problems+=(".error.code '$(jqr '.error.code' "$body")' !~ /$code_re/")
    [ -n "$(jqr '.error.message // empty' "$body")" ] || problems+=(".error.message missing")
    [ -n "$(jqr '.error.request_id // empty' "$body")" ] || problems+=(".error.request_id missing")
    if ((${#problems[@]} == 0)); then ok "$name: JSON error body"; else not_ok "$name: JSON error body" "${problems[@]}"; fi
}

# ---------------------------------------------------------------------------- certificates
# self_signed NAME: $T/NAME.pem and $T/NAME.key for localhost and 127.0.0.1, valid 2 days.
self_signed() {
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/$1.key" -out "$T/$1.pem" -days 2 \
        -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1
}
# test_ca: $T/ca.pem and $T/ca.key, a CA made for this run only.
test_ca() {
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" -days 2 \
        -subj "/CN=Portico Test CA" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" >/dev/null 2>&1
}
# ca_signed NAME: $T/NAME.pem and $T/NAME.key, signed by the test CA, for localhost and 127.0.0.1.
ca_signed() {
    openssl req -newkey rsa:2048 -nodes -keyout "$T/$1.key" -out "$T/$1.csr" -subj "/CN=localhost" >/dev/null 2>&1 &&
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$T/$1.ext" &&
    openssl x509 -req -in "$T/$1.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
        -out "$T/$1.pem" -days 2 -extfile "$T/$1.ext" >/dev/null 2>&1
}

# Every script needs these; say so instead of failing obscurely.
for _bb_tool in curl jq node ss; do
    command -v "$_bb_tool" >/dev/null || { echo "not ok - required tool '$_bb_tool' is missing (scripts/deps.sh test installs it)"; exit 1; }
done

# admin_off_line BIN: prints the line that turns BIN's admin API off, or nothing for a build
# from before the admin API (which refuses the key); benchmarks compare such builds too.
admin_off_line() {
    local probe=$T/.admin-probe.yaml
    printf 'admin: { enabled: false }\n' >"$probe"
    "$1" check-config -c "$probe" >/dev/null 2>&1 && cat "$probe"
}

# ---------------------------------------------------------------------------- admin API
#   admin_start [TOP]   starts portico with the admin API on a free port $AP, its store in
#                       $T/data (in PostgreSQL at $BB_STORE_PG when that is set), extra
#                       top-level lines TOP; waits for the admin port; sets ADMIN_TOKEN from
#                       the bootstrap token file
#   keyed_echo_lines    top-level lines for admin_start: service "echo" at $U1, route /echo/
#                       with `auth: key`
#   api METHOD PATH [BODY [TOKEN [curl args]]]
#                       one admin request to /admin/v1PATH as TOKEN (default $ADMIN_TOKEN);
#                       sets RESP_STATUS, RESP_BODY, RESP_HEADERS like http
admin_config() {
    cat <<EOF2
listen: ["127.0.0.1:$PP"]
access_log: "off"
data_dir: "$T/data"
admin: { listen: "127.0.0.1:$AP" }
${BB_STORE_PG:+store: { postgres: \"$BB_STORE_PG\" \}}
${1:-}
EOF2
}
# keyed_echo_lines: the top-level lines of one service "echo" at $U1 and a route /echo/ to it
# with `auth: key`, for admin_start: the store's service of the same name guards it.
keyed_echo_lines() {
    cat <<EOF2
services:
  - name: echo
    targets: ["http://127.0.0.1:$U1"]
routes:
  - name: echo
    match: { path_prefix: "/echo/" }
    service: echo
    auth: key
EOF2
}
admin_answers() { [ "$(status_of "http://127.0.0.1:$AP/admin/v1/teams")" = 401 ]; }
admin_start() {
    PP=${PP:-$(free_port)}
    AP=${AP:-$(free_port)}
    admin_config "${1:-}" >"$T/admin.yaml"
    portico_start "$T/admin.yaml" || return 1
    if ! wait_for 10 admin_answers; then
        note "admin API did not answer on $AP"
        return 1
    fi
    ADMIN_TOKEN=$(cat "$T/data/admin-token" 2>/dev/null)
}
api() {
    local method=$1 path=$2 body=${3-} tok=${4-$ADMIN_TOKEN}
    local args=(-H "Authorization: Bearer $tok")
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    http "$method" "http://127.0.0.1:$AP/admin/v1$path" "${args[@]}" "${@:5}"
}

# ---------------------------------------------------------------------------- redis
# redis_start [ARGS...]: a redis-server of its own on a free loopback port (REDIS_PORT, kept
# across a restart), data in $T/redis, nothing saved to disk; killed at exit. 1 if it does
# not accept connections within 10 s. redis_stop stops it. have_redis: the binary exists.
have_redis() { command -v redis-server >/dev/null; }
REDIS_PID=
redis_start() {
    REDIS_PORT=${REDIS_PORT:-$(free_port)}
    mkdir -p "$T/redis"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$T/redis" --save '' --appendonly no \
        --logfile "$T/redis/redis.log" "$@" &
    REDIS_PID=$!
    track "$REDIS_PID"
    wait_port "$REDIS_PORT"
}
redis_stop() { stop_pid "$REDIS_PID"; REDIS_PID=; }

# node_start NAME CFG: another portico (a cluster node) started in $T/NAME; its pid in
# NODE_PID[NAME]. Ready when its /healthz at port NODE_PORT[NAME] answers. node_stop NAME.
declare -A NODE_PID=() NODE_PORT=()
node_start() {
    local name=$1 cfg=$2
    mkdir -p "$T/$name"
    grep -q '^admin:' "$cfg" 2>/dev/null || admin_off_line "$PORTICO" >>"$cfg"
    (cd "$T/$name" && exec "$PORTICO" serve -c "$cfg" >>"$T/$name/out" 2>>"$T/$name/err") &
    NODE_PID[$name]=$!
    track "${NODE_PID[$name]}"
    wait_for 10 answers_200 "http://127.0.0.1:${NODE_PORT[$name]}/healthz"
}
node_stop() { stop_pid "${NODE_PID[$1]:-}" TERM 15; unset "NODE_PID[$1]"; }

# counters_start: for a test run with COUNTERS=redis (a copy of a limits test with its
# counters in Redis), starts the Redis, or skips the whole test when redis-server is not
# installed; nothing otherwise. counters_line then prints the `counters:` line to add to
# the test's configuration (nothing for the in-process counters).
counters_start() {
    [ "${COUNTERS:-}" = redis ] || return 0
    if ! have_redis; then
        skip "$(basename "$0") with counters in Redis" "redis-server is not installed"
        done_testing
        exit
    fi
    redis_start || not_ok "redis starts"
}
counters_line() {
    # a generous timeout: a round trip that times out fails open and would pass a call uncounted
    [ "${COUNTERS:-}" = redis ] && echo "counters: { redis: \"redis://127.0.0.1:$REDIS_PORT/0\", timeout: 1s }"
    return 0
}
