#!/usr/bin/env bash
# The admin: and data_dir: keys as check-config reads them: the loopback default, the two
# ways to turn the admin API off, the warning for a non-loopback address, and errors that
# name the key.
. "$(dirname "$0")/lib.sh"

cc() { printf '%s\n' "$1" >"$T/c.yaml"; "$PORTICO" check-config -c "$T/c.yaml" >"$T/out" 2>"$T/err"; RC=$?; }

cc 'log_level: info'
like "$(cat "$T/out")" $'\nadmin: 127\\.0\\.0\\.1:9080 \\(store in \\./portico-data\\)' "default: loopback 9080, ./portico-data"
cc 'admin: { listen: "" }'
like "$(cat "$T/out")" $'\nadmin: off' 'admin.listen "" turns it off'
cc 'admin: { enabled: false }'
like "$(cat "$T/out")" $'\nadmin: off' "admin.enabled false turns it off"
cc $'admin: { listen: "[::1]:9181" }\ndata_dir: /var/lib/portico'
like "$(cat "$T/out")" $'\nadmin: \\[::1\\]:9181 \\(store in /var/lib/portico\\)' "an IPv6 loopback address and a data_dir"
check "loopback: no warning" bash -c "! grep -q 'not a loopback' '$T/err'"
cc 'admin: { listen: "0.0.0.0:9181" }'
is "$RC" 0 "a non-loopback admin address is allowed"
like "$(cat "$T/err")" "warning: admin.listen 0\\.0\\.0\\.0:9181 is not a loopback address and the admin API has no TLS" \
    "with a warning"
cc 'admin: { listen: "nope", colour: 1 }'
is "$RC" 1 "a bad admin section fails"
like "$(cat "$T/err")" "admin\\.listen: expected HOST:PORT" "naming admin.listen"
like "$(cat "$T/err")" "admin\\.colour: unknown key" "and the unknown key"
cc 'data_dir: ""'
like "$(cat "$T/err")" "data_dir: expected a directory name" "an empty data_dir names the key"
done_testing
