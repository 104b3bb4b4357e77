#!/usr/bin/env bash
# The web console's files are served by the admin listener from the binary itself: the
# right content types, a strong ETag answered with 304, no-cache, the console's security
# headers on every answer (404 and 405 included), no way out of the table by traversal,
# and the shell's modules are all there.
. "$(dirname "$0")/lib.sh"

admin_start || { not_ok "portico with the admin API starts"; done_testing; exit 1; }
C=http://127.0.0.1:$AP/console

CSP="default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
# secure_headers WHAT: the four security headers of the last answer are the contract's.
secure_headers() {
    local miss=""
    [ "$(hdr content-security-policy)" = "$CSP" ] || miss+=" Content-Security-Policy=[$(hdr content-security-policy)]"
    [ "$(hdr x-frame-options)" = DENY ] || miss+=" X-Frame-Options"
    [ "$(hdr referrer-policy)" = no-referrer ] || miss+=" Referrer-Policy"
    [ "$(hdr x-content-type-options)" = nosniff ] || miss+=" X-Content-Type-Options"
    is "$miss" "" "$1 carries the security headers"
}

http GET "$C/"
is "$RESP_STATUS" 200 "/console/ answers"
is "$(hdr content-type)" "text/html; charset=utf-8" "as HTML"
like "$RESP_BODY" '<script type="module" src="/console/app.js">' "the index loads the shell as a module"
is "$(hdr cache-control)" no-cache "assets are revalidated (no-cache)"
ETAG=$(hdr etag)
like "$ETAG" '^"[0-9a-f]{16}"$' "a strong ETag"
secure_headers "the index"
INDEX=$RESP_BODY

http GET "$C"
is "$RESP_STATUS" 200 "/console without the slash answers too"
is "$RESP_BODY" "$INDEX" "with the index"
http GET "$C/index.html"
is "$(hdr etag)" "$ETAG" "index.html is the same file with the same ETag"

http GET "$C/" -H "If-None-Match: $ETAG"
is "$RESP_STATUS" 304 "If-None-Match with the ETag answers 304"
is "$RESP_BODY" "" "without a body"
secure_headers "a 304"
http GET "$C/" -H "If-None-Match: \"0000000000000000\", W/$ETAG"
is "$RESP_STATUS" 304 "a list naming the tag (weak form) answers 304 too"
http GET "$C/" -H 'If-None-Match: "0000000000000000"'
is "$RESP_STATUS" 200 "another tag gets the file"

for f in app.js api.js ui.js chart.js pages/index.js pages/signin.js; do
    http GET "$C/$f"
    [ "$RESP_STATUS" = 200 ] && [ "$(hdr content-type)" = "text/javascript; charset=utf-8" ] ||
        not_ok "$f is served as JavaScript" "status $RESP_STATUS type $(hdr content-type)"
done
ok "every shell module is served as JavaScript"
http GET "$C/style.css"
is "$(hdr content-type)" "text/css; charset=utf-8" "the style sheet as CSS"
is "$(hdr content-length)" "$(wc -c <"$ROOT/console/style.css" | tr -d ' ')" "byte for byte the committed file"
cmp -s "$T/resp.body" "$ROOT/console/style.css" && ok "the served style sheet is the console's" ||
    not_ok "the served style sheet is the console's"

http HEAD "$C/app.js"
is "$RESP_STATUS" 200 "HEAD answers"
is "$(hdr content-length)" "$(wc -c <"$ROOT/console/app.js" | tr -d ' ')" "with the length"
is "$RESP_BODY" "" "and no body"

http GET "$C/nothing-here.js"
is "$RESP_STATUS" 404 "an unknown file is 404"
secure_headers "a 404"
is "$(hdr cache-control)" no-store "an error is not cached"
http POST "$C/app.js" -d x
is "$RESP_STATUS" 405 "POST is 405"
is "$(hdr allow)" "GET, HEAD" "naming what is allowed"
secure_headers "a 405"
http DELETE "$C/"
is "$RESP_STATUS" 405 "DELETE is 405"

# Traversal: the path is looked up in the built-in table only; dot segments, encoded
# ones and backslashes never name a file, and nothing of the data directory leaks.
leaks=""
for p in "/console/../data/admin-token" "/console/%2e%2e/%2e%2e/etc/passwd" "/console/..%2fdata%2fadmin-token" \
         "/console/pages/../index.html" "/console/./index.html" "/console//index.html" "/console/pages%2findex.js" \
         "/console/..\\..\\etc\\passwd" "/console/.." "/console/index.html%00.js"; do
    code=$(curl -s --path-as-is -o "$T/trav" -D "$T/trav.h" -w '%{http_code}' "http://127.0.0.1:$AP$p")
    case $code in 400|404) ;; *) leaks+=" $p->$code" ;; esac
    grep -q "$(cat "$T/data/admin-token")" "$T/trav" && leaks+=" $p leaked the token"
    grep -q 'root:' "$T/trav" && leaks+=" $p leaked /etc/passwd"
    [ "$code" = 404 ] && ! grep -qi '^content-security-policy:' "$T/trav.h" && leaks+=" $p 404 without CSP"
done
is "$leaks" "" "traversal attempts are refused (400 or 404) and leak nothing"

http GET "$C/app.js?v=1"
is "$RESP_STATUS" 200 "a query string does not change the file"
http GET "http://127.0.0.1:$AP/consoles"
is "$RESP_STATUS" 404 "/consoles is not the console"
is "$(jqr .error.code)" not_found "but the admin API's own 404"
alive_after "the console's requests"
done_testing
