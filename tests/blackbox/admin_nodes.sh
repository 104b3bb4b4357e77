#!/usr/bin/env bash
# GET /admin/v1/nodes on a single node (SQLite store): the one node, its addresses and
# version, alive and running the store's current version; a write moves the store and the
# node follows; only GET is allowed.
. "$(dirname "$0")/lib.sh"

admin_start 'store: { version_check: 200ms, node_id: solo }' || { not_ok "portico with the admin API starts"; done_testing; exit 1; }
api GET /nodes
is "$RESP_STATUS/$(jqr '.items | length')" "200/1" "one node listed"
is "$(jqr '.items[0].id')/$(jqr '.items[0].address')/$(jqr '.items[0].admin_address')" "solo/127.0.0.1:$PP/127.0.0.1:$AP" \
    "its id and addresses"
is "$(jqr '.items[0].version')" "$("$PORTICO" version | awk '{ print $2 }')" "its version"
is "$(jqr '.items[0].alive')/$(jqr '.items[0].health')" "true/ok" "alive and healthy"
api POST /teams '{"name":"moved"}'
current() { api GET /nodes; [ "$(jqr '.items[0].current')" = true ] && [ "$(jqr '.items[0].store_version')" = "$(jqr .store_version)" ]; }
check "after a write the node runs the store's current version" wait_for 5 current
seen1=$(jqr '.items[0].last_seen')
beats() { api GET /nodes; [ "$(jqr '.items[0].last_seen')" -gt "$seen1" ]; }
check "its heartbeat moves last_seen" wait_for 5 beats
api POST /nodes '{}'
is "$RESP_STATUS" 405 "POST /nodes: 405"
api GET /openapi.json
is "$(jqr '.paths["/nodes"].get | type')" object "the OpenAPI document lists GET /nodes"
done_testing
