#!/usr/bin/env bash
# The admin API's authorization matrix: every role (admin, team_admin, developer, consumer)
# against every endpoint, on an object of its own team and of another team, with the
# expected status. Another team's objects answer 404 (their existence is not revealed);
# a visible object the role may not change answers 403; a body naming another team's
# object answers 422 like a missing one.
. "$(dirname "$0")/lib.sh"

admin_start || { not_ok "portico with the admin API starts"; done_testing; exit 1; }
PW="correct horse battery"
ADMIN=$ADMIN_TOKEN

# setup NAME METHOD PATH BODY: one admin request that must succeed; prints the new id.
setup() {
    api "$2" "$3" "$4" "$ADMIN"
    [[ $RESP_STATUS == 20* ]] || { not_ok "setup: $1" "status $RESP_STATUS: $RESP_BODY"; return 1; }
    jqr .id
}

for X in teama teamb; do
    setup "team $X" POST /teams "{\"name\":\"$X\"}" >/dev/null
    setup "service of $X" POST /services \
        "{\"name\":\"svc_$X\",\"team\":\"$X\",\"kind\":\"rest\",\"targets\":[\"http://127.0.0.1:9\"],\"approval\":\"manual\"}" >/dev/null
    setup "api of $X" POST "/services/svc_$X/apis" "{\"name\":\"api_$X\",\"path_prefix\":\"/$X/\"}" >/dev/null
    setup "consumer of $X" POST /consumers "{\"name\":\"app_$X\",\"team\":\"$X\"}" >/dev/null
    setup "user of $X" POST /users "{\"name\":\"u0_$X\",\"password\":\"$PW\",\"team\":\"$X\",\"role\":\"developer\"}" >/dev/null
    setup "policy of $X" POST /policies \
        "{\"name\":\"pol_$X\",\"team\":\"$X\",\"applies_to\":{\"team\":\"$X\"},\"rate\":{\"requests\":100,\"per\":\"1m\"}}" >/dev/null
done
declare -A SUB TOK SUBP KEY
SUB[teama]=$(setup "subscription of teama" POST /subscriptions '{"consumer":"app_teama","service":"svc_teama"}')
SUB[teamb]=$(setup "subscription of teamb" POST /subscriptions '{"consumer":"app_teamb","service":"svc_teamb"}')
TOK[admin]=$ADMIN
for R in ta dev con; do
    role=$([ $R = ta ] && echo team_admin || ([ $R = dev ] && echo developer || echo consumer))
    setup "user $R" POST /users "{\"name\":\"$R\",\"password\":\"$PW\",\"team\":\"teama\",\"role\":\"$role\"}" >/dev/null
    http POST "http://127.0.0.1:$AP/admin/v1/tokens" --data-binary "{\"user\":\"$R\",\"password\":\"$PW\"}"
    TOK[$R]=$(jqr .token)
done
for R in admin ta dev con; do
    for O in own other; do
        X=$([ $O = own ] && echo teama || echo teamb)
        setup "consumer pc_${R}_$O" POST /consumers "{\"name\":\"pc_${R}_$O\",\"team\":\"$X\"}" >/dev/null
        SUBP[${R}_$O]=$(setup "pending subscription" POST /subscriptions "{\"consumer\":\"pc_${R}_$O\",\"service\":\"svc_$X\"}")
        KEY[${R}_$O]=$(setup "key" POST "/consumers/app_$X/keys" "{\"label\":\"${R}_$O\"}")
        setup "catalog service" POST /services \
            "{\"name\":\"cat_${R}_$O\",\"team\":\"teamb\",\"kind\":\"rest\",\"targets\":[\"http://127.0.0.1:9\"]}" >/dev/null
        setup "service to release" POST /services \
            "{\"name\":\"rel_${R}_$O\",\"team\":\"$X\",\"kind\":\"rest\",\"targets\":[\"http://127.0.0.1:9\"]}" >/dev/null
    done
done

# METHOD | PATH | BODY | admin own other | team_admin own other | developer own other | consumer own other
# {T} is the team (own: teama, other: teamb), {R}_{O} the role and side, {SUB} the team's
# subscription, {SUBP} and {KEY} a pending subscription and a key made for this cell,
# rel_{R}_{O} a service of the team never released.
matrix=$(cat <<'EOF2'
GET    | /teams/{T}                         |                                          | 200 200 | 200 404 | 200 404 | 200 404
GET    | /users/u0_{T}                      |                                          | 200 200 | 200 404 | 200 404 | 200 404
GET    | /services/svc_{T}                  |                                          | 200 200 | 200 404 | 200 404 | 200 404
GET    | /services/svc_{T}/apis             |                                          | 200 200 | 200 404 | 200 404 | 200 404
GET    | /services/svc_{T}/apis/api_{T}     |                                          | 200 200 | 200 404 | 200 404 | 200 404
GET    | /consumers/app_{T}                 |                                          | 200 200 | 200 404 | 200 404 | 200 404
GET    | /consumers/app_{T}/keys            |                                          | 200 200 | 200 404 | 200 404 | 200 404
GET    | /consumers/app_{T}/keys/{KEY}      |                                          | 200 200 | 200 404 | 200 404 | 200 404
GET    | /subscriptions/{SUB}               |                                          | 200 200 | 200 404 | 200 404 | 200 404
GET    | /audit                             |                                          | 200 200 | 403 403 | 403 403 | 403 403
GET    | /teams                             |                                          | 200 200 | 200 200 | 200 200 | 200 200
GET    | /tokens                            |                                          | 200 200 | 200 200 | 200 200 | 200 200
POST   | /teams                             | {"name":"t_{R}_{O}"}                     | 201 201 | 403 403 | 403 403 | 403 403
POST   | /users                             | {"name":"u_{R}_{O}","password":"correct horse battery","team":"{T}","role":"developer"} | 201 201 | 201 422 | 403 422 | 403 422
POST   | /users                             | {"name":"x_{R}_{O}","password":"correct horse battery","role":"admin"} | 201 201 | 403 403 | 403 403 | 403 403
POST   | /services                          | {"name":"s_{R}_{O}","team":"{T}","kind":"rest","targets":["http://127.0.0.1:9"]} | 201 201 | 201 422 | 201 422 | 403 422
POST   | /services/svc_{T}/apis             | {"name":"a_{R}_{O}","path_prefix":"/a/"} | 201 201 | 201 404 | 201 404 | 403 404
PATCH  | /services/svc_{T}                  | {"lb":"round_robin"}                     | 200 200 | 200 404 | 200 404 | 403 404
PATCH  | /services/svc_{T}/apis/api_{T}     | {"path_prefix":"/p/"}                    | 200 200 | 200 404 | 200 404 | 403 404
POST   | /consumers                         | {"name":"c_{R}_{O}","team":"{T}"}        | 201 201 | 201 422 | 403 422 | 201 422
POST   | /consumers/app_{T}/keys            | {"label":"k"}                            | 201 201 | 201 404 | 403 404 | 201 404
DELETE | /consumers/app_{T}/keys/{KEY}      |                                          | 200 200 | 200 404 | 403 404 | 200 404
POST   | /subscriptions                     | {"consumer":"app_{T}","service":"cat_{R}_{O}"} | 201 201 | 201 422 | 403 422 | 201 422
POST   | /subscriptions/{SUBP}/approve      |                                          | 200 200 | 200 404 | 403 404 | 403 404
PATCH  | /users/u0_{T}                      | {"password":"another long password"}     | 200 200 | 200 404 | 403 404 | 403 404
DELETE | /teams/{T}                         |                                          | 409 409 | 403 404 | 403 404 | 403 404
GET    | /policies/pol_{T}                  |                                          | 200 200 | 200 404 | 200 404 | 200 404
POST   | /policies                          | {"name":"p_{R}_{O}","team":"{T}","applies_to":{"team":"{T}"},"rate":{"requests":10,"per":"1m"}} | 201 201 | 201 422 | 403 422 | 403 422
PATCH  | /policies/pol_{T}                  | {"concurrency":50}                       | 200 200 | 200 404 | 403 404 | 403 404
POST   | /policies                          | {"name":"m_{R}_{O}","team":"{T}","applies_to":{"consumer":"app_{T}"},"mcp":{"deny":["files/delete_*"]}} | 201 201 | 201 422 | 403 422 | 403 422
PATCH  | /policies/pol_{T}                  | {"mcp":{"allow":["files"]}}              | 200 200 | 200 404 | 403 404 | 403 404
GET    | /services/svc_{T}/releases         |                                          | 200 200 | 200 404 | 200 404 | 200 404
GET    | /services/svc_{T}/draft            |                                          | 200 200 | 200 404 | 200 404 | 200 404
POST   | /services/rel_{R}_{O}/releases     | {"note":"first"}                         | 201 201 | 201 404 | 201 404 | 403 404
GET    | /catalog                           |                                          | 200 200 | 200 200 | 200 200 | 200 200
POST   | /doctor                            | {"target":"127.0.0.1:9","timeout_ms":500} | 200 200 | 403 403 | 403 403 | 403 403
EOF2
)

trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; echo "${s%"${s##*[![:space:]]}"}"; }
while IFS='|' read -r m path body c_admin c_ta c_dev c_con; do
    m=$(trim "$m") path=$(trim "$path") body=$(trim "$body")
    declare -A want=([admin]=$c_admin [ta]=$c_ta [dev]=$c_dev [con]=$c_con)
    for R in admin ta dev con; do
        read -r w_own w_other <<<"${want[$R]}"
        for O in own other; do
            X=$([ $O = own ] && echo teama || echo teamb)
            w=$([ $O = own ] && echo "$w_own" || echo "$w_other")
            p=${path//\{T\}/$X} b=${body//\{T\}/$X}
            p=${p//\{SUB\}/${SUB[$X]}} p=${p//\{SUBP\}/${SUBP[${R}_$O]}} p=${p//\{KEY\}/${KEY[${R}_$O]}}
            p=${p//\{R\}/$R} p=${p//\{O\}/$O}
            b=${b//\{R\}/$R} b=${b//\{O\}/$O}
            api "$m" "$p" "$b" "${TOK[$R]}"
            is "$RESP_STATUS" "$w" "$R on $O team: $m $path"
        done
    done
done <<<"$matrix"

# Lists show only what the caller may see.
api GET /teams "" "${TOK[ta]}"
is "$(jqr '[.items[].name] | join(",")')" "teama" "a team admin lists only its team"
api GET /users "" "${TOK[dev]}"
is "$(jqr '[.items[].name | select(. == "u0_teama" or . == "u0_teamb" or . == "admin" or . == "u_admin_other")] | join(",")')" \
    "u0_teama" "a developer lists only its team's users, never the admin"
api GET /consumers "" "${TOK[con]}"
check "a consumer lists only its team's consumers" bash -c "! grep -q teamb <<<'$(jqr '[.items[].name] | join(",")')'"
api GET /audit "" "${TOK[ta]}"
is "$(jqr .error.code)" forbidden "the audit log is the admin's alone"
alive_after "the authorization matrix"
done_testing
