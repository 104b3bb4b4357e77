#!/usr/bin/env bash
# GET /admin/v1/openapi.json: an OpenAPI 3.1 document, served without a token, whose every
# operation is one the admin API routes (no 405, no "no such resource" for any of them).
. "$(dirname "$0")/lib.sh"

admin_start || { not_ok "portico with the admin API starts"; done_testing; exit 1; }
http GET "http://127.0.0.1:$AP/admin/v1/openapi.json"
is "$RESP_STATUS" 200 "openapi.json without a token: 200"
DOC=$RESP_BODY
is "$(jqr .openapi "$DOC")" "3.1.0" "an OpenAPI 3.1 document"
is "$(jqr '.components.securitySchemes.bearer.scheme' "$DOC")" bearer "bearer tokens are its security scheme"
has_path() { jq -e --arg p "$1" '.paths[$p]' <<<"$DOC" >/dev/null; }
for p in /teams /users /users/{id} /services/{id}/apis /consumers/{id}/keys/{key_id} /subscriptions/{id}/approve \
    /subscriptions/{id}/reject /audit /tokens /export /import /analytics/series /analytics/top \
    /services/{id}/releases /services/{id}/rollback /services/{id}/release-requests/{request}/approve \
    /services/{id}/openapi /catalog; do
    check "describes $p" has_path "$p"
done
n=0 bad=""
while read -r path method; do
    p=${path//\{id\}/nosuch} p=${p//\{api\}/nosuch} p=${p//\{key_id\}/999} p=${p//\{number\}/1} p=${p//\{request\}/1}
    body=""
    [ "$method" = post ] || [ "$method" = patch ] && body='{}'
    api "${method^^}" "$p" "$body"
    n=$((n + 1))
    if [ "$RESP_STATUS" = 405 ] || [ "$(jqr .error.message)" = "no such resource" ] || [[ $RESP_STATUS == 5* ]]; then
        bad+="$method $path -> $RESP_STATUS $RESP_BODY"$'\n'
    fi
done < <(jq -r '.paths | to_entries[] | .key as $p | .value | keys[] | "\($p) \(.)"' <<<"$DOC")
check "the document lists 79 operations" test "$n" -eq 79
is "$bad" "" "every described operation is routed"
done_testing
