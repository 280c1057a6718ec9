#!/usr/bin/env bash
# The HTTP API's contract, end to end: infra/openapi.yaml is a valid OpenAPI
# 3.1 document, and requests schemathesis generates from it (examples,
# boundary values, random ones) against scripts/dev on free ports get no
# 5xx, no status, content type or body the description does not allow.
# infra/asyncapi.yaml (the WebSocket API) must at least be well-formed, and
# infra/events.asyncapi.yaml's schemas must hold for the sample events.
set -euo pipefail
source "$(dirname "$0")/stack.sh"
cd "$ROOT"
ensure_contract_tools
"$TOOLS/contract/bin/openapi-spec-validator" infra/openapi.yaml
"$TOOLS/contract/bin/python" -c 'import sys, yaml; d = yaml.safe_load(open("infra/asyncapi.yaml")); assert d["asyncapi"].startswith("3."), "not AsyncAPI 3"' \
  || die "infra/asyncapi.yaml is not an AsyncAPI 3 document"
# The domain events' detail schemas against the sample events.
"$TOOLS/contract/bin/python" scripts/lib/event_schemas.py

export TABLE_PREFIX="contract-$$-" LOCAL_ENV_FILE=/dev/null RUST_LOG=warn
# The webhooks' secrets set, so they answer as deployed ones do (403 on a bad
# signature) rather than 503 "not configured".
trap '[ -z "${DEV_LEADER:-}" ] || { kill -INT -- "-$DEV_LEADER" 2>/dev/null; sleep 3; kill -KILL -- "-$DEV_LEADER" 2>/dev/null; } || true' EXIT
start_dev_background "$RUN/contract-dev.log" TwilioAuthToken=contract-twilio DmarkDlrSecret=contract-dlr
api="http://127.0.0.1:$HTTP_PORT"
token="$(scripts/token contract-user | tail -1)"
curl -fsS -X PUT "$api/v1/me" -H "Authorization: Bearer $token" -d '{"username":"contract_user"}' >/dev/null

"$TOOLS/contract/bin/schemathesis" run infra/openapi.yaml --url "$api" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing --max-examples 15 --seed 20261122 \
  --workers 2 --request-timeout 10 --warnings off --report-dir "$RUN/contract"
