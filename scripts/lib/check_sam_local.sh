#!/usr/bin/env bash
# scripts/sam-local, end to end, as a SAM user takes it:
# - it serves the tour through `sam local start-api`: health, 401 without a
#   token, PUT/GET /v1/me with a minted token, a private code created and
#   joined by another player, an award with a service token;
# - `sam local invoke` runs scheduled-jobs and sms-sender on their samples
#   under events/, and takes what `sam local generate-event` makes (an SQS
#   batch for sms-sender, an SNS notification for webhooks);
# - Ctrl-C (SIGINT to its process group) leaves no container, no dockerd it
#   started, nothing on its port.
# Never reuses a developer's running scripts/dev: its own on free ports.
set -euo pipefail
source "$(dirname "$0")/stack.sh"
cd "$ROOT"
mkdir -p "$RUN"
export SAM_LOCAL_PORT="$(free_port)" HTTP_PORT="$(free_port)" TABLE_PREFIX="sam-local-$$-"
export SAM_CLI_TELEMETRY=0
log_file="$RUN/sam-local-check.log"
dockerd_before="$(pgrep -x dockerd || true)"
containers_before="$(docker ps -aq --filter label=sam.cli.container.type=lambda 2>/dev/null | sort || true)"
started=$(date +%s)
# Job control: the script gets its own process group and takes SIGINT as a
# terminal's Ctrl-C would deliver it. SIGINT is set back to its default
# first: started in the background by a shell without job control (nohup,
# a CI runner), everything below would inherit it ignored, and neither bash's
# trap nor SAM's Python could take it.
set -m
python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
  scripts/sam-local >"$log_file" 2>&1 &
leader=$!
set +m
for _ in $(seq 1 6000); do
  grep -q '^ready' "$log_file" && break
  kill -0 "$leader" 2>/dev/null || { tail -30 "$log_file" >&2; die "scripts/sam-local exited before it was ready"; }
  sleep 0.2
done
grep -q '^ready' "$log_file" || die "scripts/sam-local was not ready within 20 minutes (see $log_file)"
echo "scripts/sam-local ready in $(( $(date +%s) - started )) s"

base="http://127.0.0.1:$SAM_LOCAL_PORT"
call() { # method path token body -> "status body"
  local args=(-s -o "$RUN/sam-local-body" -w '%{http_code}' -X "$1" "$base$2")
  [ -n "$3" ] && args+=(-H "Authorization: Bearer $3")
  [ -n "${4:-}" ] && args+=(-H 'content-type: application/json' -d "$4")
  printf '%s %s' "$(curl "${args[@]}")" "$(cat "$RUN/sam-local-body")"
}
expect() { # what status answer
  [ "${3%% *}" = "$2" ] || die "$1: expected $2, got ${3}"
}
alice="$(scripts/token sam-alice | tail -1)"
bob="$(scripts/token sam-bob | tail -1)"
service="$(scripts/token points-service --scope versus/service | tail -1)"
expect "health" 200 "$(call GET /v1/health '')"
expect "GET /v1/me without a token" 401 "$(call GET /v1/me '')"
expect "PUT /v1/me" 201 "$(call PUT /v1/me "$alice" '{"username":"sam_alice"}')"
answer="$(call GET /v1/me "$alice")"
expect "GET /v1/me" 200 "$answer"
grep -q '"username":"sam_alice"' <<<"$answer" || die "GET /v1/me: $answer"
expect "PUT /v1/me (bob)" 201 "$(call PUT /v1/me "$bob" '{"username":"sam_bob"}')"
answer="$(call POST /v1/matches/private "$alice" '{"challenge_type":"prompt_duel","stake":5}')"
expect "POST /v1/matches/private" 201 "$answer"
code="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1].split(" ",1)[1])["code"])' "$answer")"
answer="$(call POST "/v1/matches/private/$code/join" "$bob")"
expect "POST /v1/matches/private/{code}/join" 201 "$answer"
expect "POST /v1/points/award" 201 "$(call POST /v1/points/award "$service" \
  '{"user_id":"sam-alice","amount":5,"activity_type":"reaction"}')"
echo "the tour went through sam local start-api"

sam_invoke() { # function event-file -> its output (fails on a function error)
  local out
  out="$("$TOOLS/sam/bin/sam" local invoke "$1" --template "$RUN/sam-local/template.json" \
    --env-vars "$RUN/sam-local/env.json" --skip-pull-image --event "$2" 2>"$RUN/sam-local-invoke.log")" \
    || { tail -20 "$RUN/sam-local-invoke.log" >&2; die "sam local invoke $1 $2 failed"; }
  grep -q '"errorType"' <<<"$out" && die "sam local invoke $1 $2: $out"
  printf '%s' "$out"
}
out="$(sam_invoke ScheduledJobsFunction events/scheduled-jobs/sms-cost-report.json)"
grep -q '"sms_cost_report"' <<<"$out" || die "scheduled-jobs answered $out"
out="$(sam_invoke SmsSenderFunction events/sms-sender/reconcile.json)"
grep -q '"reconcile_sms"' <<<"$out" || die "sms-sender answered $out"
"$TOOLS/sam/bin/sam" local generate-event sqs receive-message >"$RUN/sam-local-sqs.json"
out="$(sam_invoke SmsSenderFunction "$RUN/sam-local-sqs.json")"
grep -q 'batchItemFailures' <<<"$out" || die "sms-sender answered $out to an SQS batch"
"$TOOLS/sam/bin/sam" local generate-event sns notification >"$RUN/sam-local-sns.json"
out="$(sam_invoke WebhooksFunction "$RUN/sam-local-sns.json")"
grep -q '"skipped"' <<<"$out" || die "webhooks answered $out to an SNS notification"
echo "sam local invoke ran the samples and the generated events"

kill -INT -- "-$leader"
for _ in $(seq 1 300); do
  pgrep -g "$leader" >/dev/null || break
  sleep 0.2
done
if pgrep -g "$leader" >/dev/null; then
  pgrep -a -g "$leader" >&2 || true
  pkill -9 -g "$leader" || true
  die "after Ctrl-C these were still running 60 s later (see $log_file)"
fi
containers_after="$(docker ps -aq --filter label=sam.cli.container.type=lambda 2>/dev/null | sort || true)"
[ "$containers_after" = "$containers_before" ] || die "containers left after Ctrl-C: $containers_after"
[ "$(pgrep -x dockerd || true)" = "$dockerd_before" ] || die "a dockerd it started is still running"
port_busy "$SAM_LOCAL_PORT" && die "port $SAM_LOCAL_PORT is still in use after Ctrl-C"
echo "Ctrl-C left no container, no dockerd it started, no port in use"
