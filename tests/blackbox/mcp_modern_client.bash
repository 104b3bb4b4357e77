# shellcheck shell=bash
# Requests of a 2026-07-28 client, raw, for the black-box tests of that revision (sourced after
# lib.sh; PP is the gateway's port). CAPS and LOGLEVEL say what each request's _meta declares,
# EXTRA_META adds members to it.
V=2026-07-28
J=(-H "Content-Type: application/json" -H "Accept: application/json, text/event-stream")
CAPS='{}'
LOGLEVEL=
# meta: the request's _meta members of the revision
meta() {
    echo "\"io.modelcontextprotocol/protocolVersion\":\"$V\",\"io.modelcontextprotocol/clientCapabilities\":$CAPS${LOGLEVEL:+,\"io.modelcontextprotocol/logLevel\":\"$LOGLEVEL\"}"
}
# body METHOD [PARAMS] [EXTRA_META]: a request of the revision (PARAMS: members of params, without braces)
body() { echo "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"$1\",\"params\":{\"_meta\":{$(meta)${3:+,$3}}${2:+,$2}}}"; }
# mreq PATH METHOD [PARAMS] [curl args]: one request with the headers the revision asks for
# (Mcp-Name from params.name or params.uri)
mreq() {
    local p=$1 m=$2 params=${3:-}
    shift 3 2>/dev/null || shift $#
    local name
    name=$(jq -r '.name // .uri // empty' <<<"{$params}")
    http POST "http://127.0.0.1:$PP$p" "${J[@]}" -H "MCP-Protocol-Version: $V" -H "Mcp-Method: $m" \
        ${name:+-H "Mcp-Name: $name"} --data-binary "$(body "$m" "$params" "${EXTRA_META:-}")" "$@"
}
err() { echo "$RESP_STATUS $(jqr .error.code)"; }
text() { jqr '.result.content[0].text'; }
# last_msg: the final message of an event-stream answer
last_msg() { grep '^data: ' <<<"$RESP_BODY" | tail -n 1 | cut -c7-; }
