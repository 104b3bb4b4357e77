#!/usr/bin/env bash
# idle.sh: memory at rest and with 10,000 idle keep-alive client connections, Portico beside nginx.
#
# Each server runs with one worker on 127.0.0.1. Measured: VmRSS a second after start (idle),
# then VmRSS once $COUNT clients have each made one request and stay connected (the count of
# established connections is read from the kernel, not assumed). nginx's figure is its master
# plus its worker; Portico is one process.
#
#   bench/idle.sh              COUNT=10000 by default
#   COUNT=2000 bench/idle.sh   a smaller run
set -uo pipefail
. "$(dirname "$0")/lib.sh"

COUNT=${COUNT:-10000}
need=$((COUNT + 1024))
ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < need)); then
    echo "bench: open-file limit $(ulimit -n) is below $need; raise the hard limit (ulimit -Hn) first" >&2
    exit 1
fi

# established PORT: server-side established connections on 127.0.0.1:PORT.
established() { ss -Htn state established "( sport = :$1 )" 2>/dev/null | wc -l; }

# hold PORT: opens COUNT connections and waits until they are all held (bounded); sets HOLD_PID.
hold() {
    node "$BENCH_DIR/holdconns.mjs" --port "$1" --count "$COUNT" --hold-secs 180 >"$T/hold-$1.out" 2>&1 &
    HOLD_PID=$!; track $HOLD_PID
    for _ in $(seq 1200); do
        grep -q '^held' "$T/hold-$1.out" && break
        kill -0 "$HOLD_PID" 2>/dev/null || break
        sleep 0.1
    done
    sleep 1
}
unhold() { kill -TERM "$HOLD_PID" 2>/dev/null; wait "$HOLD_PID" 2>/dev/null; }

# ---------------------------------------------------------------------------- portico
PP=$(free_port)
cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: "off"
limits: { idle_timeout: 300s, max_connections: $((COUNT + 1000)) }
EOF
portico_start "$T/portico.yaml" || { echo "bench: portico did not start" >&2; exit 1; }
sleep 1
p_idle=$(rss_kb "$PORTICO_PID" VmRSS)
hold "$PP"
p_conns=$(established "$PP")
p_loaded=$(rss_kb "$PORTICO_PID" VmRSS)
p_held=$(cat "$T/hold-$PP.out")
unhold
portico_stop

# ---------------------------------------------------------------------------- nginx
NP=$(free_port)
nginx_start nginx "worker_processes 1;
worker_rlimit_nofile $need;
events { worker_connections $((COUNT + 1000)); }
http {
    $(nginx_http_paths nginx)
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 10000000;
    server {
        listen 127.0.0.1:$NP backlog=4096;
        location = /healthz { default_type text/plain; return 200 'ok'; }
    }
}"
for _ in $(seq 100); do [ "$(status_of "http://127.0.0.1:$NP/healthz")" = 200 ] && break; sleep 0.05; done
sleep 1
n_idle=$(nginx_rss_kb nginx)
hold "$NP"
n_conns=$(established "$NP")
n_loaded=$(nginx_rss_kb nginx)
n_held=$(cat "$T/hold-$NP.out")
unhold
nginx_stop nginx

mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }
per() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { if (n > 0) printf "%.0f B", (b - a) * 1024 / n; else print "n/a" }'; }
echo "idle memory: one worker each, $COUNT keep-alive client connections, loopback, $(nproc) cores"
printf '%-10s %12s %22s %14s   %s\n' "" "idle RSS" "RSS with connections" "per conn" "(established; client)"
printf '%-10s %12s %22s %14s   %s\n' portico "$(mb "$p_idle")" "$(mb "$p_loaded")" "$(per "$p_idle" "$p_loaded" "$p_conns")" "($p_conns; $p_held)"
printf '%-10s %12s %22s %14s   %s\n' nginx "$(mb "$n_idle")" "$(mb "$n_loaded")" "$(per "$n_idle" "$n_loaded" "$n_conns")" "($n_conns; $n_held)"
echo "targets for portico: idle RSS < 16 MB, $COUNT idle connections held in < 64 MB"
