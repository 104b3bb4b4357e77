#!/usr/bin/env bash
# doctor_net.sh: the doctor's network lab. Each case builds a real broken setup (on loopback,
# or in a network namespace this script creates and removes), runs `portico doctor --json`,
# and asserts the root-cause id, the key evidence and the exit status. Lab servers are
# tests/upstreams/doctor/netlab.c, compiled here. Ends with the median doctor run time.
# run alone: the doctor's probes have deadlines of their own and the lab changes the network.
. "$(dirname "$0")/lib.sh"

NS_LIST=()
# Processes first (some live in the namespaces), then the namespaces this script created.
_dr_cleanup() {
    local n
    _bb_cleanup
    for n in "${NS_LIST[@]}"; do ip netns del "$n" 2>/dev/null; done
}
trap _dr_cleanup EXIT

TIMES=()
DR_RC=
DR=$T/dr.json

if ! command -v jq >/dev/null; then
    not_ok "jq is installed (scripts/deps.sh installs it)"
    done_testing; exit
fi
LAB=$T/netlab
if ! cc -O2 -Wall -o "$LAB" "$UPSTREAMS/doctor/netlab.c" 2>"$T/cc.err"; then
    not_ok "netlab lab server builds" "$(cat "$T/cc.err")"
    done_testing; exit
fi

# lab_start CMD...: starts a lab server (CMD may be prefixed with `ip netns exec NS`), waits
# for the port it prints; sets LAB_PID and LAB_PORT. Returns 1 if it never got ready.
lab_start() {
    local out=$T/lab.$RANDOM.$RANDOM
    "$@" >"$out" 2>"$out.err" &
    LAB_PID=$!
    track "$LAB_PID"
    LAB_PORT=
    wait_for 5 test -s "$out" || { note "lab server did not start: $(cat "$out.err")"; return 1; }
    LAB_PORT=$(head -n 1 "$out")
}

# dr [PREFIX... --] DOCTOR-ARGS...: runs `portico doctor --json`, with PREFIX (e.g. `ip netns
# exec NS`) when given; the JSON goes to $DR, the status to DR_RC, the wall time to TIMES.
dr() {
    local prefix=()
    if [[ " $* " == *" -- "* ]]; then
        while [ "$1" != "--" ]; do prefix+=("$1"); shift; done
        shift
    fi
    local t0 t1
    t0=$(date +%s%N)
    "${prefix[@]}" "$PORTICO" doctor --json "$@" >"$DR" 2>"$T/dr.err"
    DR_RC=$?
    t1=$(date +%s%N)
    TIMES+=($(((t1 - t0) / 1000000)))
}

root_cause() { jq -r '.root_cause.id // "none"' "$DR" 2>/dev/null; }

# expect NAME JQ-FILTER: ok when the filter is true on the last report.
expect() {
    if jq -e "$2" "$DR" >/dev/null 2>&1; then ok "$1"; else
        not_ok "$1" "filter: $2" "report: $(jq -c '{root_cause, checks: [.checks[] | {id, status, summary}]}' "$DR" 2>/dev/null | head -c 1500)" \
            "stderr: $(head -c 300 "$T/dr.err")"
    fi
}

# outcome CASE ID STATUS: the two assertions every case makes.
outcome() {
    is "$(root_cause)" "$2" "$1: root cause is $2"
    is "$DR_RC" "$3" "$1: exit status $3"
}

check_evidence() { printf '.checks[] | select(.id == "%s") | %s' "$1" "$2"; }

have_netns() { [ "$(id -u)" = 0 ] && command -v ip >/dev/null && ip netns add "portico-dr-probe-$$" 2>/dev/null && ip netns del "portico-dr-probe-$$"; }
# new_ns SUFFIX: creates a namespace with lo up, registered for removal; its name goes to NEW_NS
# (empty on failure). Not meant for $(...): the registration must happen in this shell.
new_ns() {
    NEW_NS=portico-dr-$$-$1
    if ip netns add "$NEW_NS"; then
        NS_LIST+=("$NEW_NS")
        ip -n "$NEW_NS" link set lo up && return 0
    fi
    NEW_NS=
    return 1
}

# ---------------------------------------------------------------------------- nothing listening
lab_start "$LAB" --addr 127.0.0.1 --ttl 1 && port=$LAB_PORT
# The server's port, after it exited: known to have been free, and now nothing listens there.
wait_for 5 bash -c "! kill -0 $LAB_PID 2>/dev/null"
wait_for 3 bash -c "[ -z \"\$(ss -Hltn 'sport = :$port')\" ]"
dr "127.0.0.1:$port"
outcome "nothing listening" nothing_listening 2
expect "nothing listening: the connect was refused" "$(check_evidence connect '.evidence.attempts[0].result == "refused"')"
expect "nothing listening: no listener in the facts" '.facts.listeners == []'

# ---------------------------------------------------------------------------- port typo
if lab_start "$LAB" --addr 127.0.0.1 --ttl 60; then
    typo="6$LAB_PORT" # one inserted digit: out of range, one edit from the listener
    dr "localhost:$typo"
    outcome "typo'd port $typo" port_out_of_range 2
    expect "typo'd port: suggests $LAB_PORT, listening, with pid $LAB_PID" \
        "$(check_evidence port ".evidence.suggestions | any(.port == $LAB_PORT and .listening and .distance == 1 and .pid == $LAB_PID)")"
    expect "typo'd port: the summary names the port meant and its pid" \
        ".root_cause.summary | test(\"did you mean $LAB_PORT\\\\?\") and test(\"pid $LAB_PID\")"
    kill "$LAB_PID" 2>/dev/null
fi

# ---------------------------------------------------------------------------- ::1 only vs 127.0.0.1
if lab_start "$LAB" --addr ::1 --v6only 1 --ttl 60; then
    p6=$LAB_PORT
    dr "127.0.0.1:$p6"
    outcome "server on [::1] only, client 127.0.0.1" bind_family_mismatch 2
    expect "server on [::1] only: listener seen as ::1, IPv6-only, with its pid" \
        ".facts.listeners | any(.address == \"::1\" and .v6only == true and .pid == $LAB_PID)"
    expect "server on [::1] only: 127.0.0.1 reaches no listener" \
        "$(check_evidence bind '.evidence.address_accepted["127.0.0.1"] == false')"

    # As "localhost" it depends on /etc/hosts: without a ::1 line, glibc clients get 127.0.0.1
    # only (and fail) while curl and browsers also try ::1 (and work).
    dr "localhost:$p6"
    if getent ahosts localhost | grep -q '^::1 '; then
        outcome "server on [::1] only, client localhost (hosts has ::1)" none 0
        expect "localhost with ::1 in hosts: every client still reaches the server" \
            "$(check_evidence bind '.status == "info"') and $(check_evidence connect '.status == "info"')"
    else
        outcome "server on [::1] only, client localhost (hosts lacks ::1)" bind_family_mismatch 2
        expect "localhost without ::1 in hosts: glibc clients fail, curl works" \
            "$(check_evidence bind '(.evidence.clients | any(.name | test("glibc")) and any(.reaches_listener == false)) and (.evidence.clients | any(.name == "curl and browsers" and .reaches_listener == true))')"
    fi
    kill "$LAB_PID" 2>/dev/null
fi

# ---------------------------------------------------------------------------- 127.0.0.1 only vs ::1
if ! grep -q '^00000000000000000000000000000001' /proc/net/if_inet6 2>/dev/null; then
    skip "server on 127.0.0.1 only, client ::1" "IPv6 loopback is not configured here"
elif lab_start "$LAB" --addr 127.0.0.1 --ttl 60; then
    dr "[::1]:$LAB_PORT"
    outcome "server on 127.0.0.1 only, client ::1" bind_family_mismatch 2
    expect "server on 127.0.0.1 only: ::1 refused, listener 127.0.0.1 with its pid" \
        "($(check_evidence connect '.evidence.attempts[0].result == "refused"')) and (.facts.listeners | any(.address == \"127.0.0.1\" and .pid == $LAB_PID))"
    kill "$LAB_PID" 2>/dev/null
fi

# ---------------------------------------------------------------------------- proxy captures localhost
if lab_start "$LAB" --addr 127.0.0.1 --ttl 60; then
    dead=$(free_port)
    purl="http://alice:s3cret@127.0.0.1:$dead"
    dr env -u no_proxy -u NO_PROXY http_proxy="$purl" -- "http://127.0.0.1:$LAB_PORT/health"
    outcome "http_proxy captures 127.0.0.1" proxy_captures_target 2
    expect "proxy: curl goes through the masked proxy, Go does not" \
        "$(check_evidence proxy_env ".evidence.clients.curl.proxy == \"http://***@127.0.0.1:$dead\" and .evidence.clients[\"Go (net/http)\"].proxy == null")"
    expect "proxy: the dead proxy itself is probed and refuses" "$(check_evidence proxy_env '.evidence.proxy_probe.result == "refused"')"
    if grep -q s3cret "$DR"; then not_ok "proxy: the password never appears in the report"; else ok "proxy: the password never appears in the report"; fi
    # The same setup with NO_PROXY covering the address: no longer the cause.
    dr env http_proxy="$purl" NO_PROXY=localhost,127.0.0.1 -- "http://127.0.0.1:$LAB_PORT/health"
    expect "proxy exempted by NO_PROXY=127.0.0.1: proxy_env passes" "$(check_evidence proxy_env '.status == "pass"')"
    is "$(root_cause)" none "proxy exempted: no root cause"
    # A CIDR entry: curl, Python (requests) and Go go direct, Node's libraries do not read CIDR
    # blocks and send the request to the proxy, which is the failure that remains.
    dr env -u no_proxy http_proxy="$purl" NO_PROXY=10.0.0.0/8,127.0.0.0/8 -- "http://127.0.0.1:$LAB_PORT/health"
    outcome "NO_PROXY with a CIDR block: Node's libraries still use the proxy" proxy_captures_target 2
    expect "NO_PROXY CIDR: curl and Python exempted by 127.0.0.0/8, Node through the proxy" \
        "$(check_evidence proxy_env '.evidence.clients | (.curl.no_proxy_entry == "127.0.0.0/8") and (.["Python (requests, urllib)"].no_proxy_entry == "127.0.0.0/8") and (.["Node.js libraries that read the variables (axios, proxy-from-env)"].proxy != null)')"
    expect "NO_PROXY CIDR: the summary names the families it exempts" \
        '.root_cause.summary | test("^Node.js libraries send .*exempts it only for curl and Python")'
    # With NODE_USE_ENV_PROXY=1, Node's own fetch reads the variables with the same rules.
    dr env -u no_proxy http_proxy="$purl" NO_PROXY=127.0.0.0/8 NODE_USE_ENV_PROXY=1 -- "http://127.0.0.1:$LAB_PORT/health"
    expect "NODE_USE_ENV_PROXY=1: Node's built-in fetch is a family of its own, through the proxy" \
        "$(check_evidence proxy_env '.evidence.clients["Node.js built-in fetch and http (NODE_USE_ENV_PROXY=1)"].proxy != null')"
    kill "$LAB_PID" 2>/dev/null
fi

# ---------------------------------------------------------------------------- --listen
if lab_start "$LAB" --addr 127.0.0.1 --ttl 60; then
    dr --listen "127.0.0.1:$LAB_PORT"
    outcome "--listen on a port in use" listen_in_use 2
    expect "--listen in use: the owner's pid is reported" "$(check_evidence listen ".evidence.pid == $LAB_PID")"
    dr --listen "$LAB_PORT"
    outcome "--listen on every address while 127.0.0.1 holds the port" listen_in_use 2
    kill "$LAB_PID" 2>/dev/null
fi
# A previous server without SO_REUSEADDR closed its connections first and exited: only their
# TIME_WAIT ends hold the port, and they block a bind with or without SO_REUSEADDR.
# bind_rc PORT REUSE: what a server that binds 127.0.0.1:PORT sees ("ok" or the error number).
bind_rc() {
    python3 -c 'import socket, sys
s = socket.socket()
if sys.argv[2] == "reuse": s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind(("127.0.0.1", int(sys.argv[1]))); print("ok")
except OSError as e: print(e.errno)' "$1" "$2"
}
tw_lab="$UPSTREAMS/doctor/slowlab.py"
if command -v python3 >/dev/null; then
    P=$(free_port)
    python3 "$tw_lab" timewait "$P" noreuse >"$T/tw.log" 2>&1
    ntw=$(ss -Htan state time-wait "( sport = :$P )" | wc -l)
    if ((ntw > 0)); then
        is "$(bind_rc "$P" plain) $(bind_rc "$P" reuse)" "98 98" "TIME_WAIT only: binds fail with and without SO_REUSEADDR (EADDRINUSE)"
        dr --listen "127.0.0.1:$P"
        outcome "--listen on a port held only by TIME_WAIT" listen_time_wait 2
        expect "TIME_WAIT only: the sockets are counted, both binds failed" \
            "$(check_evidence listen ".evidence.time_wait.count == $ntw and .evidence.binds[0].result == \"EADDRINUSE\"")"
        expect "TIME_WAIT only: the fix names SO_REUSEADDR and the wait" \
            '.root_cause.remedy | contains("SO_REUSEADDR") and contains("Wait ")'
    else
        not_ok "TIME_WAIT lab: the server's closed connections are in TIME_WAIT" "$(cat "$T/tw.log")"
    fi
    # The same with a previous server that set SO_REUSEADDR: only servers without it are blocked.
    P=$(free_port)
    python3 "$tw_lab" timewait "$P" reuse >"$T/tw.log" 2>&1
    is "$(bind_rc "$P" plain) $(bind_rc "$P" reuse)" "98 ok" "TIME_WAIT of a SO_REUSEADDR server: only a bind without it fails"
    dr --listen "127.0.0.1:$P"
    outcome "--listen on a port with TIME_WAIT of a SO_REUSEADDR server" listen_time_wait 1
    expect "TIME_WAIT (reusable): counted" "$(check_evidence listen '.evidence.time_wait.count >= 1 and .status == "warn"')"
else
    skip "--listen on a port held only by TIME_WAIT" "python3 missing"
fi
dr --listen 198.51.100.7:8080
outcome "--listen on an address not on this host" listen_addr_not_local 2
expect "--listen not local: on no interface, and bind said EADDRNOTAVAIL" \
    "$(check_evidence listen '.evidence.binds[0] | .on_interface == false and .result == "EADDRNOTAVAIL"')"
unpriv=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 0)
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && ((unpriv > 81)) &&
    setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all test -x "$PORTICO"; then
    dr setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- --listen 127.0.0.1:81
    outcome "--listen on port 81 as an unprivileged user" listen_privileged 2
    expect "--listen privileged: no CAP_NET_BIND_SERVICE, limit read" \
        "$(check_evidence listen ".evidence.cap_net_bind_service == false and .evidence.ip_unprivileged_port_start == $unpriv")"
else
    skip "--listen on port 81 as an unprivileged user" "needs root, setpriv and ip_unprivileged_port_start > 81"
fi

# ---------------------------------------------------------------------------- full accept queue
# backlog 1 and two connections the server never accepts: the kernel queue holds 2 > 1, so new
# SYNs are dropped and connects time out.
if lab_start "$LAB" --addr 127.0.0.1 --backlog 1 --no-accept --hold 2 --ttl 60; then
    dr --timeout 300 "127.0.0.1:$LAB_PORT"
    outcome "accept queue full" accept_queue_full 2
    expect "accept queue full: 2 waiting with backlog 1, owner pid known" \
        ".facts.listeners | any(.accept_queue == 2 and .backlog == 1 and .pid == $LAB_PID)"
    expect "accept queue full: the connect timed out" "$(check_evidence connect '.evidence.attempts[0].result == "timeout"')"
    kill "$LAB_PID" 2>/dev/null
fi

# ---------------------------------------------------------------------------- namespaces
if ! have_netns; then
    skip "DROP rule in a network namespace" "needs root and ip netns"
    skip "listener in another network namespace" "needs root and ip netns"
else
    new_ns fw; ns=$NEW_NS
    if ! command -v nft >/dev/null; then
        skip "DROP rule in a network namespace" "nft is not installed (scripts/deps.sh test installs it)"
    elif [ -n "$ns" ] && lab_start ip netns exec "$ns" "$LAB" --addr 127.0.0.1 --ttl 60; then
        p=$LAB_PORT
        ip netns exec "$ns" nft -f - <<EOF
table inet portico_lab {
    chain input { type filter hook input priority 0; policy accept; tcp dport $p drop; }
}
EOF
        dr ip netns exec "$ns" -- --timeout 300 "127.0.0.1:$p"
        outcome "DROP rule in a namespace" firewall_drop 2
        expect "DROP rule: the rule and its handle are named" \
            "$(check_evidence firewall ".evidence.blocking[0] | (.rule | test(\"dport $p drop\")) and .table == \"portico_lab\" and (.handle | type == \"number\")")"
        expect "DROP rule: the connect timed out" "$(check_evidence connect '.evidence.attempts[0].result == "timeout"')"
        # Without CAP_NET_ADMIN the rules cannot be read: said so, and inferred from the timeout.
        if ip netns exec "$ns" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all test -x "$PORTICO"; then
            dr ip netns exec "$ns" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- \
                --timeout 300 "127.0.0.1:$p"
            outcome "DROP rule, doctor unprivileged" connect_timeout 2
            expect "DROP rule, unprivileged: rules not read, DROP inferred" \
                "$(check_evidence firewall '.evidence.rules_read == false and .status == "warn" and .cause == "firewall_drop"')"
        else
            skip "DROP rule, doctor unprivileged" "the binary is not reachable for an unprivileged user"
        fi
    fi

    # The same drop through a named verdict map, as firewalld and hand-written rulesets do.
    new_ns vmap; nsv=$NEW_NS
    if command -v nft >/dev/null && [ -n "$nsv" ] && lab_start ip netns exec "$nsv" "$LAB" --addr 127.0.0.1 --ttl 60; then
        p=$LAB_PORT
        ip netns exec "$nsv" nft -f - <<EOF
table inet portico_lab {
    map ports { type inet_service : verdict; elements = { $p : drop, 22 : accept } }
    chain input { type filter hook input priority 0; policy accept; tcp dport vmap @ports; }
}
EOF
        dr ip netns exec "$nsv" -- --timeout 300 "127.0.0.1:$p"
        outcome "a verdict map that drops the port" firewall_drop 2
        expect "verdict map: the rule is named" \
            "$(check_evidence firewall '.evidence.blocking[0] | (.rule | test("vmap @ports")) and .verdict == "drop"')"
    fi

    # A base chain's default policy drops the port: reported under the chain's real name, with
    # no handle, for a chain of its own (lower case, nft) and for iptables-nft's INPUT.
    new_ns policy; nsp=$NEW_NS
    if command -v nft >/dev/null && [ -n "$nsp" ] && lab_start ip netns exec "$nsp" "$LAB" --addr 127.0.0.1 --ttl 60; then
        p=$LAB_PORT
        ip netns exec "$nsp" nft -f - <<EOF
table inet portico_lab {
    chain incoming { type filter hook input priority 0; policy drop; tcp dport 22 accept; }
}
EOF
        dr ip netns exec "$nsp" -- --timeout 300 "127.0.0.1:$p"
        outcome "a base chain's policy drop (nft)" firewall_drop 2
        expect "policy drop (nft): the chain is named as it exists, without a handle" \
            '.root_cause.summary | endswith("(table inet portico_lab, chain incoming)")'
        expect "policy drop (nft): the fix names the chain" \
            '.root_cause.remedy | contains("nft insert rule inet portico_lab incoming iif lo accept")'
        if command -v iptables-nft >/dev/null; then
            ip netns exec "$nsp" nft flush ruleset
            ip netns exec "$nsp" iptables-nft -P INPUT DROP
            ip netns exec "$nsp" iptables-nft -A INPUT -p tcp --dport 22 -j ACCEPT
            chains=$(ip netns exec "$nsp" nft -j list chains | jq -c '[.nftables[].chain.name // empty]')
            dr ip netns exec "$nsp" -- --timeout 300 "127.0.0.1:$p"
            outcome "INPUT's policy drop (iptables-nft)" firewall_drop 2
            expect "policy drop (iptables-nft): the chain named is one that exists ($chains)" \
                ".root_cause.summary | endswith(\"(table ip filter, chain INPUT)\") and ($chains | index(\"INPUT\") != null)"
            expect "policy drop (iptables-nft): the fix uses iptables for its own table" \
                '.root_cause.remedy | contains("iptables -I INPUT -i lo -j ACCEPT")'
        else
            skip "INPUT's policy drop (iptables-nft)" "iptables-nft is not installed"
        fi
    fi

    new_ns other; ns2=$NEW_NS
    if [ -n "$ns2" ] && lab_start ip netns exec "$ns2" "$LAB" --addr 127.0.0.1 --ttl 60; then
        if [ -n "$(ss -Hltn "sport = :$LAB_PORT")" ]; then
            skip "listener in another network namespace" "port $LAB_PORT is also used in this namespace"
        else
            dr "127.0.0.1:$LAB_PORT"
            outcome "listener in another network namespace" listening_other_netns 2
            expect "other namespace: named, with the pid living there" \
                "$(check_evidence listeners ".evidence.netns_name == \"$ns2\" and .evidence.netns_pid == $LAB_PID")"
        fi
    fi
fi

# ---------------------------------------------------------------------------- specific address
if lab_start "$LAB" --addr 127.0.0.2 --ttl 60; then
    dr "127.0.0.1:$LAB_PORT"
    outcome "server on 127.0.0.2, client 127.0.0.1" bind_other_address 2
    expect "server on 127.0.0.2: the remedy names the address that works" \
        ".root_cause.remedy | test(\"127.0.0.2:$LAB_PORT\")"
    kill "$LAB_PID" 2>/dev/null
fi

# ---------------------------------------------------------------------------- owner hidden
# An unprivileged doctor cannot read root's /proc/PID/fd: it must say so, and may only guess
# (a root process whose command line names the port), flagged as a guess.
hp=$(free_port)
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
    setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all test -x "$PORTICO" &&
    lab_start "$LAB" --addr 127.0.0.1 --port "$hp" --ttl 60; then
    dr setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- --skip environment "127.0.0.1:$hp"
    outcome "owner hidden from an unprivileged doctor" none 0
    expect "owner hidden: unreadable fd dirs counted, owner flagged as a guess" \
        "$(check_evidence listeners ".evidence.fd_dirs_denied > 0 and (.evidence.listeners[0] | .pid == $LAB_PID and .pid_guessed == true)")"
    expect "owner hidden: the summary says 'probably'" "$(check_evidence listeners '.summary | test("probably pid")')"
    kill "$LAB_PID" 2>/dev/null
else
    skip "owner hidden from an unprivileged doctor" "needs root and setpriv"
fi

# ---------------------------------------------------------------------------- out of descriptors
# A server at its open-files limit cannot accept(): 3 std fds + listener + 11 held = 15 of 16.
if command -v prlimit >/dev/null && lab_start prlimit --nofile=16:16 "$LAB" --addr 127.0.0.1 --no-accept --hold 11 --ttl 60; then
    dr --timeout 300 --only environment "127.0.0.1:$LAB_PORT"
    expect "server out of descriptors: environment names fd_limit_low with the pid and counts" \
        "$(check_evidence environment ".status == \"fail\" and .cause == \"fd_limit_low\" and .evidence.server_fds.pid == $LAB_PID and .evidence.server_fds.max_open_files == 16 and .evidence.server_fds.open_files >= 15")"
    is "$DR_RC" 2 "server out of descriptors: exit status 2"
    expect "--only environment shows that check alone" '[.checks[].id] == ["environment"]'
    kill "$LAB_PID" 2>/dev/null
fi

# ---------------------------------------------------------------------------- broken loopback
if have_netns; then
    # A fresh namespace whose lo was never brought up: no route at all.
    ns4=portico-dr-$$-fresh
    if ip netns add "$ns4"; then
        NS_LIST+=("$ns4")
        dr ip netns exec "$ns4" -- "127.0.0.1:8080"
        outcome "lo never up in a namespace" loopback_down 2
        expect "lo never up: the connect was unreachable" "$(check_evidence connect '.evidence.attempts[0].errno == "ENETUNREACH"')"
    fi
    new_ns lo; ns3=$NEW_NS
    if [ -n "$ns3" ]; then
        # lo taken down after it was up keeps its address: connects hang instead.
        ip -n "$ns3" link set lo down
        dr ip netns exec "$ns3" -- --timeout 300 "127.0.0.1:8080"
        outcome "lo taken down in a namespace" loopback_down 2
        expect "lo taken down: the connect timed out" "$(check_evidence connect '.evidence.attempts[0].result == "timeout"')"
        ip -n "$ns3" link set lo up
        if ip netns exec "$ns3" sysctl -qw net.ipv6.conf.lo.disable_ipv6=1 2>/dev/null &&
            lab_start ip netns exec "$ns3" "$LAB" --addr 127.0.0.1 --ttl 60; then
            dr ip netns exec "$ns3" -- "[::1]:$LAB_PORT"
            outcome "::1 with IPv6 disabled on lo" ipv6_loopback_missing 2
            expect "IPv6 disabled: EADDRNOTAVAIL" "$(check_evidence connect '.evidence.attempts[0].errno == "EADDRNOTAVAIL"')"
        else
            skip "::1 with IPv6 disabled on lo" "could not disable IPv6 on lo in the namespace"
        fi
    fi
else
    skip "lo down in a namespace" "needs root and ip netns"
fi

# ---------------------------------------------------------------------------- one family refused, all fall back
# localhost with both lines in /etc/hosts, a server on ::1 only: 127.0.0.1 is refused, but every
# client tries ::1 first (RFC 6724 order) or as well, so nothing is wrong.
if have_netns && new_ns dual; then
    mkdir -p "/etc/netns/$NEW_NS"
    printf '127.0.0.1 localhost\n::1 localhost\n' >"/etc/netns/$NEW_NS/hosts"
    if lab_start ip netns exec "$NEW_NS" "$LAB" --addr ::1 --v6only 1 --ttl 60; then
        dr ip netns exec "$NEW_NS" -- "localhost:$LAB_PORT"
        outcome "127.0.0.1 refused but every client falls back" none 0
        expect "127.0.0.1 refused: the connect check says every client gets through" \
            "$(check_evidence connect '.status == "info" and ([.evidence.attempts[] | select(.result == "refused")] | length) == 1')"
        kill "$LAB_PID" 2>/dev/null
    fi
    rm -rf "/etc/netns/$NEW_NS"
else
    skip "127.0.0.1 refused but every client falls back" "needs root and ip netns"
fi

# ---------------------------------------------------------------------------- two processes, two families
# An old instance on 127.0.0.1 and a new one on ::1, same port: localhost reaches either.
if lab_start "$LAB" --addr 127.0.0.1 --ttl 60; then
    v4pid=$LAB_PID p=$LAB_PORT
    if lab_start "$LAB" --addr ::1 --v6only 1 --port "$p" --ttl 60; then
        dr "localhost:$p"
        outcome "IPv4 and IPv6 held by two processes" port_split_between_processes 2
        expect "two processes: both pids are named" ".root_cause.summary | contains(\"pid $v4pid\") and contains(\"pid $LAB_PID\")"
        kill "$LAB_PID" 2>/dev/null
    else
        skip "IPv4 and IPv6 held by two processes" "could not listen on [::1]:$p"
    fi
    kill "$v4pid" 2>/dev/null
fi

# ---------------------------------------------------------------------------- accepted, then nothing
# A port forwarder with nothing behind it closes every connection at once; a server that aborts
# on every request resets it. Clients fail on both, so both are failures, each named.
if lab_start "$LAB" --addr 127.0.0.1 --close --ttl 60; then
    dr "http://127.0.0.1:$LAB_PORT/"
    outcome "accepts and closes at once" closed_without_reply 2
    expect "closes at once: the protocol fact says closed" '.facts.protocol == "closed"'
    kill "$LAB_PID" 2>/dev/null
fi
if lab_start "$LAB" --addr 127.0.0.1 --reset --ttl 60; then
    dr "http://127.0.0.1:$LAB_PORT/"
    outcome "resets every request" reset_without_reply 2
    expect "resets: reported as a reset, not a close" '.facts.protocol == "reset"'
    kill "$LAB_PID" 2>/dev/null
fi

# ---------------------------------------------------------------------------- a *.localhost name unresolved
# `ip netns exec` mounts /etc/netns/NS/hosts over /etc/hosts: a hosts file without the name.
if have_netns && new_ns hosts; then
    mkdir -p "/etc/netns/$NEW_NS"
    printf '127.0.0.1 localhost\n::1 localhost\n' >"/etc/netns/$NEW_NS/hosts"
    dr ip netns exec "$NEW_NS" -- "app.localhost:8080"
    rm -rf "/etc/netns/$NEW_NS"
    if jq -e '.root_cause.id == "name_not_resolved"' "$DR" >/dev/null; then
        outcome "app.localhost not in /etc/hosts" name_not_resolved 2
        expect "the fix names the name that failed, not localhost" \
            '.root_cause.remedy | contains("`127.0.0.1 app.localhost`")'
    else
        skip "app.localhost not in /etc/hosts" "this resolver answers *.localhost names itself ($(root_cause))"
    fi
else
    skip "app.localhost not in /etc/hosts" "needs root and ip netns"
fi

# ---------------------------------------------------------------------------- healthy and usage
if lab_start "$LAB" --addr 127.0.0.1 --ttl 60; then
    dr --skip environment "127.0.0.1:$LAB_PORT"
    outcome "healthy server" none 0
    expect "healthy server: verdict healthy, connect passed" \
        ".verdict == \"healthy\" and ($(check_evidence connect '.status == "pass"'))"
    kill "$LAB_PID" 2>/dev/null
fi
"$PORTICO" doctor --bogus >/dev/null 2>&1
is "$?" 64 "unknown option: exit 64"
"$PORTICO" doctor --only nosuchcheck :80 >/dev/null 2>&1
is "$?" 64 "unknown check id: exit 64"
"$PORTICO" doctor localhost >/dev/null 2>&1
is "$?" 64 "target without a port: exit 64"
like "$("$PORTICO" doctor --list-checks)" "firewall +connect,http,mcp" "--list-checks lists ids with their modes"

# ---------------------------------------------------------------------------- timing
if ((${#TIMES[@]})); then
    median=$(printf '%s\n' "${TIMES[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}')
    note "doctor lab runs: ${#TIMES[@]}, median ${median} ms, all: ${TIMES[*]}"
fi
done_testing
