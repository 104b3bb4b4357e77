#!/usr/bin/env bash
# The store under faults, seen from outside: `kill -9` of the gateway in the middle of a burst
# of admin writes loses no acknowledged write, leaves a database that passes SQLite's integrity
# and foreign-key checks, and an audit row for every acknowledged write; a full disk fails an
# admin write with 507 insufficient_storage, keeps nothing of it, leaves the gateway enforcing
# its previous snapshot, and writes work again once there is room; a store that cannot be
# opened (data_dir a file, read-only, a corrupt or newer database) stops the start with an error
# naming the directory and a non-zero status.
#
# The small and the read-only filesystems are tmpfs mounts in a private mount namespace: the
# script runs itself again under `unshare -m` and skips those cases, saying why, where that is
# not permitted.
if [ -z "${PT_FAULTS_NS:-}" ] && unshare -m --propagation private true 2>/dev/null; then
    PT_FAULTS_NS=1 exec unshare -m --propagation private "$BASH" "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3}
command -v sqlite3 >/dev/null || { not_ok "the sqlite3 CLI is installed (scripts/deps.sh test)"; done_testing; exit 1; }
MOUNTS=()
trap 'for m in "${MOUNTS[@]}"; do umount -l "$m" 2>/dev/null; done; _bb_cleanup' EXIT
# tmpfs_at DIR OPTIONS: mounts a tmpfs on DIR in this script's namespace, unmounted on exit.
tmpfs_at() {
    mkdir -p "$1"
    [ -n "${PT_FAULTS_NS:-}" ] && mount -t tmpfs -o "$2" tmpfs "$1" 2>"$T/mount.err" || return 1
    MOUNTS+=("$1")
}

PP=$(free_port); U1=$(free_port); AP=$(free_port)
upstream_start echo "$U1" || { not_ok "upstream starts"; done_testing; exit 1; }
KEYED=$(keyed_echo_lines)
admin_start "$KEYED" || { not_ok "portico with the admin API starts"; done_testing; exit 1; }
api POST /teams '{"name":"shop"}'
# The file's service is in the store, read-only; subscriptions to it are active at once.
api GET /services/echo
is "$RESP_STATUS/$(jqr .origin)/$(jqr .approval)" "200/file/auto" "the keyed route's service is in the store"

# ============================================================ kill -9 during a burst of writes
# writer ROUND W: creates a consumer, a key for it and a subscription, over and over, and
# appends "kind id name" to $T/acked for each write answered 2xx; stops at the first other
# answer (000 once the gateway is gone) and leaves that status in $T/last.W.
writer() {
    local r=$1 w=$2 n st cname
    post() { # PATH BODY
        st=$(curl -s -m 10 -o "$T/w$w.body" -w '%{http_code}' -H "Authorization: Bearer $ADMIN_TOKEN" \
            -H 'Content-Type: application/json' --data-binary "$2" "http://127.0.0.1:$AP/admin/v1$1")
        [[ $st == 2?? ]]
    }
    for ((n = 0; n < 1000; n++)); do
        cname=r$r-w$w-$n
        post /consumers "{\"name\":\"$cname\",\"team\":\"shop\"}" || break
        echo "consumer $(jq -r .id "$T/w$w.body") $cname" >>"$T/acked"
        post "/consumers/$cname/keys" '{"label":"burst"}' || break
        echo "key $(jq -r .id "$T/w$w.body") $cname" >>"$T/acked"
        post /subscriptions "{\"consumer\":\"$cname\",\"service\":\"echo\"}" || break
        echo "subscription $(jq -r .id "$T/w$w.body") $cname" >>"$T/acked"
    done
    echo "${st:-none}" >"$T/last.$w"
}
acked_reach() { (($(log_lines "$T/acked") >= $1)); }

# every_acked_write_is_there ROUND: one GET per acknowledged object through the admin API.
every_acked_write_is_there() {
    local kind id name missing=() path
    while read -r kind id name; do
        case $kind in
            consumer) path=/consumers/$name ;;
            key) path=/consumers/$name/keys/$id ;;
            subscription) path=/subscriptions/$id ;;
        esac
        api GET "$path"
        [ "$RESP_STATUS" = 200 ] && [ "$(jqr .id)" = "$id" ] || missing+=("$kind $id ($name): GET $path -> $RESP_STATUS")
    done <"$T/acked"
    if ((${#missing[@]} == 0)); then ok "round $1: all $(log_lines "$T/acked") acknowledged writes are there after the restart"
    else not_ok "round $1: every acknowledged write is there after the restart" "${missing[@]:0:10}"; fi
}

# audit_has_every_acked_write ROUND: the audit log (every page) has a create row for each.
audit_has_every_acked_write() {
    local cursor="" q rows=$T/audit.rows missing
    : >"$rows"
    while :; do
        q="?limit=1000"; [ -n "$cursor" ] && q+="&cursor=$cursor"
        api GET "/audit$q"
        [ "$RESP_STATUS" = 200 ] || break
        jqr '.items[] | select(.action == "create") | "\(.object_kind) \(.object_id)"' >>"$rows"
        cursor=$(jqr '.next_cursor // empty')
        [ -n "$cursor" ] || break
    done
    missing=$(cut -d' ' -f1,2 "$T/acked" | sort -u | comm -23 - <(sort -u "$rows"))
    if [ "$RESP_STATUS" = 200 ] && [ -z "$missing" ]; then ok "round $1: the audit log has a create row for each"
    else not_ok "round $1: the audit log has a create row for each acknowledged write" \
        "last audit page: $RESP_STATUS" "missing: $(head -n 10 <<<"$missing")"; fi
}

burst_round() {
    local r=$1 w pids=() at child sup=$PORTICO_PID running=0
    rm -f "$T"/acked "$T"/last.*
    for w in 1 2 3 4; do writer "$r" "$w" & pids+=($!); track $!; done
    # The kill waits for an event, the Nth acknowledged write, N varying from round to round.
    at=$((20 + RANDOM % 40))
    if ! wait_for 60 acked_reach "$at"; then
        not_ok "round $r: the burst reaches $at acknowledged writes" "$(log_lines "$T/acked") acked; last: $(cat "$T"/last.* 2>/dev/null)"
        return 1
    fi
    for w in "${pids[@]}"; do kill -0 "$w" 2>/dev/null && running=$((running + 1)); done
    # The supervisor is stopped first so it cannot start a new gateway between the two kills.
    child=$(pgrep -P "$sup" -x portico | head -n 1)
    kill -STOP "$sup"
    [ -n "$child" ] && kill -KILL "$child"
    kill -KILL "$sup"
    wait "$sup" 2>/dev/null
    PORTICO_PID=
    for w in "${pids[@]}"; do wait "$w"; done
    is "$running/$([ -n "$child" ] && echo child)" "4/child" "round $r: the gateway is killed with -9 after $at acknowledged writes, all 4 writers still writing"
    is "$(cat "$T"/last.* | sort -u | tr '\n' ' ')" "000 " "round $r: every writer stopped at the kill, none on an error answer"

    is "$(sqlite3 "$T/data/portico.db" 'PRAGMA integrity_check' 2>&1)" ok "round $r: PRAGMA integrity_check says ok"
    is "$(sqlite3 "$T/data/portico.db" 'PRAGMA foreign_key_check' 2>&1)" "" "round $r: PRAGMA foreign_key_check finds nothing"

    if ! portico_start "$T/admin.yaml" || ! wait_for 10 admin_answers; then
        not_ok "round $r: portico starts again on the killed store"
        return 1
    fi
    every_acked_write_is_there "$r"
    audit_has_every_acked_write "$r"
}

round_start=$SECONDS
for ((round = 1; round <= ROUNDS; round++)); do
    # Bounded in time as well as in count: a slow machine runs fewer rounds, never fewer than one.
    ((round > 1 && SECONDS - round_start > 120)) && { note "stopping after $((round - 1)) rounds (time bound)"; break; }
    burst_round "$round" || break
done
alive_after "kill -9 during admin write bursts"
portico_stop

# ============================================================ a store that cannot be opened
# start_fails NAME DATA_DIR REGEX [TOP]: `portico serve` with DATA_DIR (and the top-level lines
# TOP) exits non-zero within 15 s and its error output matches REGEX (which names the directory).
start_fails() {
    local name=$1 dir=$2 re=$3 pid rc cfg=$T/bad.yaml
    PP=$(free_port); AP=$(free_port)
    admin_config "${4:-}" | sed "s#^data_dir: .*#data_dir: \"$dir\"#" >"$cfg"
    "$PORTICO" serve -c "$cfg" >"$T/bad.out" 2>"$T/bad.err" &
    pid=$!; track $pid
    if ! wait_for 15 bash -c "! kill -0 $pid 2>/dev/null"; then
        not_ok "$name: the start stops" "still running after 15 s"
        return
    fi
    wait $pid; rc=$?
    check "$name: the start stops with a non-zero status ($rc)" test "$rc" -ne 0
    like "$(grep -v '"thread":"supervisor"' "$T/bad.err")" "$re" "$name: the error names the directory and the reason"
    is "$(grep -c 'gateway process [0-9]* started' "$T/bad.err")" 1 "$name: the supervisor does not start it again"
}
re_dir() { printf '%s' "$1" | sed 's/[.[\*^$()+?{|]/\\&/g'; }
# cant_open DIR: the start of the error for DIR, from the admin API's store or the gateway's.
cant_open() { local d; d=$(re_dir "$1"); printf "(cannot open the store in %s|data_dir '%s': the store cannot be opened)" "$d" "$d"; }

touch "$T/plain"
start_fails "data_dir is a file" "$T/plain" "$(cant_open "$T/plain"): .*is not a directory"
# With a keyed route the gateway opens the store for its snapshot too, and may be first.
start_fails "data_dir is a file, with a keyed route" "$T/plain" "$(cant_open "$T/plain"): .*is not a directory" "$KEYED"
mkdir -p "$T/corrupt"
yes "this is not a database" | head -c 65536 >"$T/corrupt/portico.db"
start_fails "a corrupt portico.db" "$T/corrupt" "$(cant_open "$T/corrupt"): .*corrupt"
# A store written by a newer binary: this one refuses to guess at its schema.
cp -a "$T/data" "$T/newer"
sqlite3 "$T/newer/portico.db" "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)"
start_fails "a database with a newer schema" "$T/newer" "$(cant_open "$T/newer"): .*newer"
# Root ignores file modes, so "not writable" is a read-only filesystem.
if tmpfs_at "$T/ro" ro,size=1m; then
    start_fails "data_dir on a read-only filesystem" "$T/ro" "$(cant_open "$T/ro"): .*Read-only"
    start_fails "data_dir to be created on a read-only filesystem" "$T/ro/sub" "$(cant_open "$T/ro/sub"): .*Read-only"
else
    skip "data_dir on a read-only filesystem" "cannot mount a tmpfs here (unshare -m or mount not permitted: $(head -c 200 "$T/mount.err" 2>/dev/null))"
fi

# ============================================================ a full disk
if ! tmpfs_at "$T/small" size=2m; then
    skip "a full disk" "cannot mount a small tmpfs here (unshare -m or mount not permitted: $(head -c 200 "$T/mount.err" 2>/dev/null))"
    done_testing; exit
fi
PP=$(free_port); AP=$(free_port)
admin_config "$KEYED" | sed "s#^data_dir: .*#data_dir: \"$T/small/data\"#" >"$T/admin.yaml"
portico_start "$T/admin.yaml" && wait_for 10 admin_answers || { not_ok "portico starts with its store on a small filesystem"; done_testing; exit 1; }
ADMIN_TOKEN=$(cat "$T/small/data/admin-token")
api POST /teams '{"name":"shop"}'
api POST /consumers '{"name":"web","team":"shop"}'
api POST /subscriptions '{"consumer":"web","service":"echo"}'
api POST /consumers/web/keys '{"label":"kept"}'; KEEP=$(jqr .key) KEEP_ID=$(jqr .id)
api POST /consumers/web/keys '{"label":"revoked"}'; GONE=$(jqr .key) GONE_ID=$(jqr .id)
api DELETE "/consumers/web/keys/$GONE_ID"
gw() { http GET "http://127.0.0.1:$PP/echo/x" -H "Authorization: Bearer $1"; echo "$RESP_STATUS"; }
is "$(gw "$KEEP")/$(gw "$GONE")" "200/401" "before the disk fills: the key passes, the revoked key is refused"

dd if=/dev/zero of="$T/small/filler" bs=64k >/dev/null 2>&1
is "$(df --output=avail -B1 "$T/small" | tail -n 1 | tr -d ' ')" 0 "the store's filesystem is full"
# Whatever still fits in pages SQLite already holds may succeed; the first write that needs
# new room must fail with 507, and no answer may be a 500.
statuses=() full=
for ((i = 0; i < 300; i++)); do
    api POST /consumers "{\"name\":\"full-$i\",\"team\":\"shop\"}"
    statuses+=("$RESP_STATUS")
    [ "$RESP_STATUS" = 201 ] || { full=full-$i; break; }
done
is "$RESP_STATUS" 507 "on a full disk an admin write is answered 507 (after $((${#statuses[@]} - 1)) that still fit)"
is "$(jqr '.error.code')/$(jqr '.error.field')" "insufficient_storage/null" "with code insufficient_storage and no field"
like "$(jqr '.error.message')" "disk is full" "and a message saying the disk is full"
like "$(hdr Content-Type)" "^application/json" "as JSON"
api DELETE "/consumers/web/keys/$KEEP_ID"
is "$RESP_STATUS" 507 "a revocation on the full disk is answered 507 too"
statuses+=("$RESP_STATUS")
is "$(gw "$KEEP")/$(gw "$GONE")" "200/401" "the gateway keeps its snapshot: the key whose revocation failed passes, the revoked one is refused"
api GET "/consumers/web/keys/$KEEP_ID"
is "$RESP_STATUS/$(jqr .revoked_at)" "200/null" "reads still answer on the full disk, the key not revoked"
statuses+=("$RESP_STATUS")
alive_after "admin writes on a full disk"

rm -f "$T/small/filler"
api GET "/consumers/$full"
is "$RESP_STATUS" 404 "with room again, the consumer whose write failed is not there"
api POST /consumers "{\"name\":\"$full\",\"team\":\"shop\"}"
is "$RESP_STATUS" 201 "and writes succeed again"
statuses+=("$RESP_STATUS")
api DELETE "/consumers/web/keys/$KEEP_ID"
is "$RESP_STATUS" 200 "the revocation succeeds now"
is "$(gw "$KEEP")" 401 "and the gateway enforces it at once"
check "no answer was a 500" bash -c "! grep -qw 500 <<<'${statuses[*]}'"
is "$(sqlite3 "$T/small/data/portico.db" 'PRAGMA integrity_check' 2>&1)" ok "the database passes PRAGMA integrity_check"
alive_after "the disk filled and freed"
done_testing
