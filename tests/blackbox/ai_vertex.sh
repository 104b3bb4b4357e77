#!/usr/bin/env bash
# Google Vertex AI as a provider, through the real binary against the test upstream, which
# serves a token endpoint that verifies the RS256 JWT assertion with the test service
# account's public key (the key pair is made here with openssl) and Vertex's Gemini and
# Anthropic model endpoints, which take only a live token it issued: OpenAI, Anthropic and
# Gemini clients, streamed and not, tool calls, usage and cost in the access log, a 429, a
# token endpoint that is down, a key the token endpoint refuses, a short-lived token
# refreshed before it expires, configuration errors, and application default credentials
# (the GOOGLE_APPLICATION_CREDENTIALS file, gcloud's authorized-user file, the metadata server).
. "$(dirname "$0")/lib.sh"

PP=$(free_port); MA=$(free_port); MT=$(free_port); DOWN=$(free_port)
D=$T/data
LOG=$T/access.log
EMAIL=portico-test@proj-1.iam.gserviceaccount.com

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/sa.pem" 2>/dev/null &&
    openssl pkey -in "$T/sa.pem" -pubout -out "$T/sa.pub" 2>/dev/null &&
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/other.pem" 2>/dev/null ||
    not_ok "test key pairs are generated"
# sa_json KEYFILE TOKEN_URI: a service-account file as Google issues them
sa_json() {
    jq -n --rawfile k "$1" --arg uri "$2" --arg email "$EMAIL" \
        '{type:"service_account", project_id:"proj-1", private_key_id:"k1", private_key:$k, client_email:$email, token_uri:$uri}'
}
sa_json "$T/sa.pem" "http://127.0.0.1:$MA/token" >"$T/sa.json"
sa_json "$T/sa.pem" "http://127.0.0.1:$MT/token" >"$T/sa-short.json"
sa_json "$T/sa.pem" "http://127.0.0.1:$DOWN/token" >"$T/sa-down.json"
sa_json "$T/other.pem" "http://127.0.0.1:$MA/token" >"$T/sa-other.json"

export MOCK_GCP_PUBKEY=$T/sa.pub MOCK_GCP_EMAIL=$EMAIL
export MOCK_GCP_CLIENT_ID=cid-1.apps.googleusercontent.com MOCK_GCP_CLIENT_SECRET=client-secret-1
export MOCK_GCP_REFRESH_TOKEN=1//refresh-token-1
ai_mock_start a "$MA" || not_ok "vertex upstream starts"
MOCK_GCP_TOKEN_TTL=2 ai_mock_start t "$MT" || not_ok "vertex upstream with 2 s tokens starts"

cat >"$T/portico.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
access_log: $LOG
data_dir: $D
providers:
  - name: vx
    type: vertex
    project: proj-1
    region: us-central1
    base_url: "http://127.0.0.1:$MA"
    credentials: "$T/sa.json"
    prices: { gemini-2.5-flash: { input: 0.3, output: 2.5 } }
  - { name: vshort, type: vertex, project: proj-1, region: us-central1, base_url: "http://127.0.0.1:$MT", credentials: "$T/sa-short.json" }
  - { name: vdown, type: vertex, project: proj-1, region: us-central1, base_url: "http://127.0.0.1:$MA", credentials: "$T/sa-down.json" }
  - { name: vother, type: vertex, project: proj-1, region: us-central1, base_url: "http://127.0.0.1:$MA", credentials: "$T/sa-other.json" }
models:
  - { name: gem, targets: [{ provider: vx, model: gemini-2.5-flash }] }
  - { name: claude, targets: [{ provider: vx, model: claude-sonnet-4-5 }] }
  - { name: embed, targets: [{ provider: vx, model: text-embedding-005 }] }
  - { name: short, targets: [{ provider: vshort, model: gemini-2.5-flash }] }
  - { name: down, targets: [{ provider: vdown, model: gemini-2.5-flash }] }
  - { name: other, targets: [{ provider: vother, model: gemini-2.5-flash }] }
EOF
portico_start "$T/portico.yaml" || not_ok "portico starts"
wait_log "AI provider 'vx': access token obtained" "$T/portico.err" || not_ok "the first token is obtained"

# the requests to the models (token requests of the refreshers come in between)
mock_seen() { curl -s -m 5 "http://127.0.0.1:$MA/_mock/requests" | jq -c '[.[] | select(.path != "/token")]'; }
mock_reset() { curl -s -m 5 -X POST "http://127.0.0.1:$MA/_mock/reset" >/dev/null; }

# ------------------------------------------------------------------------- Gemini models
mock_reset
ai_chat '{"model":"gem","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}]}' -H 'X-Request-Id: v-gem'
is "$RESP_STATUS $(jqr '.choices[0].message.content')" "200 Hello w1 w2" "openai client -> vertex gemini, whole"
seen=$(mock_seen)
is "$(jq -r '.[-1].path' <<<"$seen")" "/v1/projects/proj-1/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent" \
    "the Vertex path names project, location, publisher and model"
like "$(jq -r '.[-1].headers.authorization' <<<"$seen")" '^Bearer ya29\.mock-' "the token from the token endpoint is the bearer"
is "$(jq -c '.[-1].body | fromjson | .systemInstruction' <<<"$seen")" '{"parts":[{"text":"Be brief."}]}' "the Gemini body, as for Gemini"
l=$(ai_log_line v-gem)
is "$(jq -r '[.ai.provider, .ai.input_tokens, .ai.output_tokens] | join(" ")' <<<"$l" 2>/dev/null)" "vx 11 3" "access log: provider and tokens"
like "$(grep -o '"cost_usd":[^,}]*' <<<"$l")" '"cost_usd":0.000011' "access log: cost (11 x 0.3 + 3 x 2.5 per million, to the micro-dollar)"
ai_chat '{"model":"gem","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"weather [mock tools=1]"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}'
is "$RESP_STATUS $(sse_data | tail -n 1)" "200 [DONE]" "openai client -> vertex gemini, stream"
is "$(sse_data | grep -v DONE | jq -r '.choices[0].delta.tool_calls[0]? | select(.function.name) | .function.name' | tr '\n' ' ')" \
    "get_weather get_weather " "stream: both tool calls"
like "$(mock_seen | jq -r '.[-1].path')" ':streamGenerateContent\?alt=sse$' "streams use :streamGenerateContent?alt=sse"

# ------------------------------------------------------------------------- Anthropic models
ai_msgs '{"model":"claude","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}' -H 'X-Request-Id: v-claude'
is "$RESP_STATUS $(jqr '.content[0].text') $(jqr '.usage.input_tokens')" "200 Hello w1 w2 11" "anthropic client -> vertex claude, whole"
seen=$(mock_seen)
is "$(jq -r '.[-1].path' <<<"$seen")" "/v1/projects/proj-1/locations/us-central1/publishers/anthropic/models/claude-sonnet-4-5:rawPredict" \
    "Anthropic models go to :rawPredict"
is "$(jq -c '.[-1].body | fromjson | [.anthropic_version, .model, .max_tokens]' <<<"$seen")" '["vertex-2023-10-16",null,50]' \
    "the Anthropic body without model, with anthropic_version vertex-2023-10-16"
ai_msgs '{"model":"claude","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"weather [mock tools=1]"}],"tools":[{"name":"get_weather","input_schema":{"type":"object"}}]}'
is "$(sse_data | jq -r 'select(.type=="message_delta") | "\(.delta.stop_reason) \(.usage.output_tokens)"')" "tool_use 23" \
    "anthropic client -> vertex claude, stream with tool calls"
like "$(mock_seen | jq -r '.[-1].path')" ':streamRawPredict$' "streams use :streamRawPredict"
http POST "http://127.0.0.1:$PP/v1beta/models/claude:generateContent" -H 'content-type: application/json' \
    --data-binary '{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}'
is "$RESP_STATUS $(jqr '.candidates[0].content.parts[0].text')" "200 Hello w1 w2" "gemini client -> vertex claude"

# ------------------------------------------------------------------------- embeddings (:predict)
http POST "http://127.0.0.1:$PP/v1/embeddings" -H 'content-type: application/json' \
    --data-binary '{"model":"embed","input":["one","two"],"dimensions":64}'
is "$RESP_STATUS $(jq -c '[[.data[].embedding], .usage.prompt_tokens]' <<<"$RESP_BODY")" "200 [[[0,0.5,-0.25],[1,0.5,-0.25]],6]" \
    "openai client -> vertex embeddings: the vectors, and Vertex's token counts as usage"
is "$(mock_seen | jq -c '.[-1] | [.path, (.body | fromjson)]')" \
    '["/v1/projects/proj-1/locations/us-central1/publishers/google/models/text-embedding-005:predict",{"instances":[{"content":"one"},{"content":"two"}],"parameters":{"outputDimensionality":64}}]' \
    "Vertex embeddings go to :predict with one instance per text"
http POST "http://127.0.0.1:$PP/v1beta/models/embed:embedContent" -H 'content-type: application/json' \
    --data-binary '{"content":{"parts":[{"text":"doc"}]},"taskType":"RETRIEVAL_DOCUMENT","title":"A title"}'
is "$RESP_STATUS $(jq -c .embedding.values <<<"$RESP_BODY")" "200 [0,0.5,-0.25]" "gemini client -> vertex embeddings"
is "$(mock_seen | jq -c '.[-1].body | fromjson | .instances')" '[{"content":"doc","task_type":"RETRIEVAL_DOCUMENT","title":"A title"}]' \
    "a Gemini client's taskType and title reach Vertex as task_type and title"
http POST "http://127.0.0.1:$PP/v1/embeddings" -H 'content-type: application/json' --data-binary '{"model":"claude","input":"x"}'
like "$RESP_STATUS $(jqr .error.message)" "^400 provider 'vx' \(vertex\) does not offer embeddings" "Anthropic models on Vertex do not embed: 400"

# ------------------------------------------------------------------------- errors
ai_chat '{"model":"gem","messages":[{"role":"user","content":"hi [mock status=429]"}]}'
is "$RESP_STATUS $(jqr '.error.type')" "429 rate_limit_error" "a 429 from Vertex in the OpenAI error shape"
ai_chat '{"model":"down","messages":[{"role":"user","content":"hi"}]}'
is "$RESP_STATUS" 503 "token endpoint down: 503"
like "$(jqr '.error.message')" "provider 'vdown' has no access token: the token endpoint http://127.0.0.1:$DOWN/token: " \
    "token endpoint down: the message names the provider and the cause"
ai_msgs '{"model":"down","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'
is "$RESP_STATUS $(jqr '.error.type')" "503 overloaded_error" "token endpoint down: in the Anthropic error shape"
wait_log "AI provider 'vother': no access token" "$T/portico.err" || true
ai_chat '{"model":"other","messages":[{"role":"user","content":"hi"}]}'
is "$RESP_STATUS" 503 "a key the token endpoint does not accept: 503"
like "$(jqr '.error.message')" "provider 'vother' has no access token: .*answered 400: Invalid JWT Signature" \
    "the token endpoint's refusal (it verified the RS256 signature) is the cause"
if grep -q 'BEGIN PRIVATE KEY\|MII' "$LOG" "$T/portico.err" 2>/dev/null; then not_ok "the private key is never logged"; else ok "the private key is never logged"; fi

# ------------------------------------------------------------------------- refresh
# tokens live 2 s: the refresher takes a new one every second, and the upstream refuses an expired one
wait_log "AI provider 'vshort': access token obtained" "$T/portico.err" || not_ok "vshort gets a token"
tokens_reach() { (($(curl -s -m 2 "http://127.0.0.1:$MT/_mock/tokens" | jq -r .issued) >= $1)); }
wait_for 10 tokens_reach 4 && ok "short-lived tokens are refreshed before they expire" || not_ok "short-lived tokens are refreshed before they expire"
ai_chat '{"model":"short","messages":[{"role":"user","content":"hi"}]}'
is "$RESP_STATUS $(jqr '.choices[0].message.content')" "200 Hello w1 w2" "a request after several refreshes carries a live token"

# ------------------------------------------------------------------------- configuration
cat >"$T/bad.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
providers:
  - { name: v, type: vertex, project: p, region: us-central1, credentials: "$T/missing.json" }
EOF
config_refused "a missing service-account file" "providers\[0\].credentials: cannot read the service account file '$T/missing.json'"
jq 'del(.client_email)' "$T/sa.json" >"$T/sa-bad.json"
sed -i "s|$T/missing.json|$T/sa-bad.json|" "$T/bad.yaml"
config_refused "a service-account file without client_email" "service account file '$T/sa-bad.json': it has no client_email"
if grep -q 'PRIVATE' "$T/err"; then not_ok "the refusal does not print the key"; else ok "the refusal does not print the key"; fi

alive_after "the Vertex tests"

# ------------------------------------------------------------ application default credentials
# Each source is a fresh gateway whose one Vertex provider has no `credentials`; which source it
# found is in the log, and its token must be one the upstream issued (the model call is 200).
# user_json REFRESH_TOKEN TOKEN_URI: the authorized-user file `gcloud auth application-default login` writes
user_json() {
    jq -n --arg rt "$1" --arg uri "$2" --arg id "$MOCK_GCP_CLIENT_ID" --arg s "$MOCK_GCP_CLIENT_SECRET" \
        '{type:"authorized_user", client_id:$id, client_secret:$s, refresh_token:$rt, token_uri:$uri}'
}
mkdir -p "$T/home/.config/gcloud" "$T/empty-home"
user_json "$MOCK_GCP_REFRESH_TOKEN" "http://127.0.0.1:$MA/token" >"$T/home/.config/gcloud/application_default_credentials.json"
user_json "1//revoked" "http://127.0.0.1:$MA/token" >"$T/user-revoked.json"
portico_stop
cat >"$T/adc.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
workers: 1
data_dir: $D
providers:
  - { name: vadc, type: vertex, project: proj-1, region: us-central1, base_url: "http://127.0.0.1:$MA" }
  - { name: vrevoked, type: vertex, project: proj-1, region: us-central1, base_url: "http://127.0.0.1:$MA", credentials: "$T/user-revoked.json" }
models:
  - { name: gem, targets: [{ provider: vadc, model: gemini-2.5-flash }] }
  - { name: revoked, targets: [{ provider: vrevoked, model: gemini-2.5-flash }] }
EOF
# adc_case NAME SOURCE: the gateway started by the caller finds SOURCE and serves a call with its token
adc_case() {
    if wait_log "AI provider 'vadc': access token obtained from $2" "$T/portico.err"; then
        ok "$1: the token comes from $2"
    else
        not_ok "$1: the token comes from $2" "$(grep "vadc" "$T/portico.err" | tail -n 3)"
    fi
    ai_chat '{"model":"gem","messages":[{"role":"user","content":"hi"}]}'
    is "$RESP_STATUS $(jqr '.choices[0].message.content')" "200 Hello w1 w2" "$1: a call carries its token"
}
: >"$T/portico.err"
HOME=$T/empty-home GOOGLE_APPLICATION_CREDENTIALS=$T/sa.json portico_start "$T/adc.yaml" ||
    not_ok "portico starts (GOOGLE_APPLICATION_CREDENTIALS)"
adc_case "GOOGLE_APPLICATION_CREDENTIALS" "GOOGLE_APPLICATION_CREDENTIALS file '$T/sa.json'"
portico_stop

curl -s -m 5 -X POST "http://127.0.0.1:$MA/_mock/reset" >/dev/null
: >"$T/portico.err"
HOME=$T/home portico_start "$T/adc.yaml" || not_ok "portico starts (gcloud's file)"
adc_case "gcloud's authorized-user file" \
    "application default credentials file '$T/home/.config/gcloud/application_default_credentials.json'"
# both providers' refreshers post a grant, in either order: the default one's must be there
want='grant_type=refresh_token&client_id=cid-1.apps.googleusercontent.com&client_secret=client-secret-1&refresh_token=1%2F%2Frefresh-token-1'
grants=$(curl -s -m 5 "http://127.0.0.1:$MA/_mock/requests" | jq -c '[.[] | select(.path == "/token") | .body]')
is "$(jq --arg w "$want" 'any(.[]; . == $w)' <<<"$grants")" true "gcloud's file: the refresh-token grant, form-encoded ($grants)"
ai_chat '{"model":"revoked","messages":[{"role":"user","content":"hi"}]}'
is "$RESP_STATUS" 503 "a revoked refresh token: 503"
like "$(jqr '.error.message')" "provider 'vrevoked' has no access token: .*answered 400: Token has been expired or revoked" \
    "a revoked refresh token: the token endpoint's answer is the cause"
if grep -qE "client-secret-1|refresh-token-1|1//revoked" "$T/portico.err"; then
    not_ok "the client secret and refresh tokens are never logged"
else
    ok "the client secret and refresh tokens are never logged"
fi
portico_stop

curl -s -m 5 -X POST "http://127.0.0.1:$MA/_mock/reset" >/dev/null
: >"$T/portico.err"
HOME=$T/empty-home GCE_METADATA_HOST=127.0.0.1:$MA portico_start "$T/adc.yaml" || not_ok "portico starts (metadata server)"
adc_case "the metadata server" "the metadata server 127.0.0.1:$MA"
is "$(curl -s -m 5 "http://127.0.0.1:$MA/_mock/requests" |
    jq -r '[.[] | select(.path | startswith("/computeMetadata")) | "\(.method) \(.headers["metadata-flavor"])"][0]')" \
    "GET Google" "the metadata server: a GET with Metadata-Flavor: Google"
portico_stop

# refusals of default credentials, at load
cat >"$T/bad.yaml" <<EOF
listen: ["127.0.0.1:$PP"]
providers:
  - { name: v, type: vertex, project: p, region: us-central1 }
EOF
HOME=$T/empty-home GOOGLE_APPLICATION_CREDENTIALS=$T/missing.json config_refused "GOOGLE_APPLICATION_CREDENTIALS naming a missing file" \
    "application default credentials: cannot read the GOOGLE_APPLICATION_CREDENTIALS file '$T/missing.json'"
jq -n '{type:"external_account", audience:"x"}' >"$T/external.json"
HOME=$T/empty-home GOOGLE_APPLICATION_CREDENTIALS=$T/external.json config_refused "an external-account file" \
    "its type is neither service_account nor authorized_user"
jq 'del(.refresh_token)' "$T/user-revoked.json" >"$T/user-bad.json"
HOME=$T/empty-home GOOGLE_APPLICATION_CREDENTIALS=$T/user-bad.json config_refused "an authorized-user file without refresh_token" \
    "GOOGLE_APPLICATION_CREDENTIALS file '$T/user-bad.json': it has no refresh_token"
if grep -q 'client-secret-1' "$T/err"; then not_ok "the refusal does not print the client secret"; else ok "the refusal does not print the client secret"; fi
HOME=$T/empty-home GCE_METADATA_HOST='bad host/x' config_refused "a GCE_METADATA_HOST that is not a host" \
    "GCE_METADATA_HOST is not a host"
done_testing
