#!/usr/bin/env bash
# Three promises of scripts/dev, end to end:
# - settings given on its command line reach the functions (here the secret
#   DmarkDlrSecret, which switches the DMark delivery-report webhook on);
# - so do those in its env file: with a Twilio auth token there, a request
#   signed by Twilio's own Python library (RequestValidator) is accepted by
#   the inbound webhook;
# - Ctrl-C stops everything it started, also after the API has served
#   requests (a JVM that had served DynamoDB calls once outlived it).
# Runs scripts/dev on free ports, calls the API, sends SIGINT to the group,
# and fails if anything is left after 30 s (a bound for a hang, not a speed
# measurement).
set -euo pipefail
source "$(dirname "$0")/stack.sh"
cd "$ROOT"
mkdir -p "$RUN"
export TABLE_PREFIX="ctrl-c-$$-"
export LOCAL_ENV_FILE="$RUN/check-dev.env"
printf '# written by check_dev.sh\nTwilioAuthToken=check-dev-twilio-token\n' >"$LOCAL_ENV_FILE"
start_dev_background "$RUN/dev-ctrl-c.log" DmarkDlrSecret=check-dev-secret
leader=$DEV_LEADER
token="$(scripts/token ctrl-c-user | tail -1)"
for _ in 1 2 3; do
  curl -fsS -X PUT "http://127.0.0.1:$HTTP_PORT/v1/me" -H "Authorization: Bearer $token" \
    -d '{"username":"ctrl_c_user"}' >/dev/null
done
dlr="http://127.0.0.1:$HTTP_PORT/v1/webhooks/dmark/dlr?ref=none&status=1&secret"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$dlr=check-dev-secret")" = 200 ] \
  || die "the DMark webhook did not take the DmarkDlrSecret given to scripts/dev"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$dlr=wrong")" = 403 ] \
  || die "the DMark webhook took a wrong secret"
echo "scripts/dev passed its parameter to the functions"
inbound="http://127.0.0.1:$HTTP_PORT/v1/webhooks/twilio/inbound"
signed() { # token -> the signature Twilio's RequestValidator computes
  "$TOOLS/venv/bin/python" - "$1" "https://127.0.0.1:$HTTP_PORT/v1/webhooks/twilio/inbound" <<'PY'
import sys
from twilio.request_validator import RequestValidator
params = {"From": "+256772000555", "To": "+15005550006", "Body": "HELP", "MessageSid": "SMcheckdev"}
print(RequestValidator(sys.argv[1]).compute_signature(sys.argv[2], params))
PY
}
twilio_post() { # signature -> HTTP status
  curl -s -o /dev/null -w '%{http_code}' -X POST "$inbound" -H "X-Twilio-Signature: $1" \
    --data-urlencode From=+256772000555 --data-urlencode To=+15005550006 \
    --data-urlencode Body=HELP --data-urlencode MessageSid=SMcheckdev
}
[ "$(twilio_post "$(signed check-dev-twilio-token)")" = 200 ] \
  || die "the Twilio webhook refused a request Twilio's library signed with the token from the env file"
[ "$(twilio_post "$(signed another-token)")" = 403 ] \
  || die "the Twilio webhook took a request signed with another token"
echo "scripts/dev read its env file: a request signed by Twilio's RequestValidator was accepted"
kill -INT -- "-$leader"
for _ in $(seq 1 150); do
  pgrep -g "$leader" >/dev/null || { echo "scripts/dev stopped everything on Ctrl-C"; exit 0; }
  sleep 0.2
done
pgrep -a -g "$leader" >&2 || true
pkill -9 -g "$leader" || true
die "after Ctrl-C these were still running 30 s later (see $RUN/dev-ctrl-c.log)"
