#!/bin/sh
# make test-containers: the image and deploy/compose/compose.yaml on a real
# container engine. Builds the debian:bookworm-slim base when missing
# (deploy/base/build-base.sh), the llmnet image (Dockerfile) and, as no
# registry may be reachable, haproxy and redis images from Debian; brings
# deploy/compose/compose.yaml + compose.mock.yaml up (2 llmnet replicas,
# redis, haproxy, the mock upstream);
# routes a request through haproxy to the mock; kills a replica (SIGKILL)
# under load and counts failed requests (none may fail: haproxy retries on
# another replica); checks that the "shared" budget (rpd 6) holds across the
# replicas; stops a replica (SIGTERM: it drains) under load: none may fail;
# tears everything down, always.
# Engine: podman + podman-compose (preferred), else docker + docker-compose
# when a Docker engine answers. With neither, it says why and exits 0 unless
# CONTAINERS_REQUIRED=1. Each phase prints its time.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

say() { printf 'test-containers: %s\n' "$*" >&2; }
fail() {
  say "FAILED: $*"
  exit 1
}
t_start=$(date +%s)
phase() {
  now=$(date +%s)
  say "[$((now - t_start)) s] $*"
}

# --- the engine ---------------------------------------------------------------
if command -v podman >/dev/null 2>&1 && command -v podman-compose >/dev/null 2>&1; then
  engine=podman
  compose=podman-compose
elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1 && command -v docker-compose >/dev/null 2>&1; then
  engine=docker
  compose="docker-compose --compatibility"
else
  why="no container engine: podman or podman-compose is not installed"
  command -v docker >/dev/null 2>&1 && why="$why, and docker is only a client (no engine answers docker info)"
  say "$why (scripts/deps.sh containers installs them)"
  [ "${CONTAINERS_REQUIRED:-0}" = 1 ] && exit 1
  exit 0
fi

if [ "$engine" = podman ] && ! podman info >/dev/null 2>"${TMPDIR:-/tmp}/podman-info.$$"; then
  say "podman is installed but cannot run here: $(tail -n 3 "${TMPDIR:-/tmp}/podman-info.$$")"
  rm -f "${TMPDIR:-/tmp}/podman-info.$$"
  [ "${CONTAINERS_REQUIRED:-0}" = 1 ] && exit 1
  exit 0
fi
rm -f "${TMPDIR:-/tmp}/podman-info.$$"

tmp=$(mktemp -d)
project="llmnet-ct$$"
if [ "$engine" = podman ]; then
  # podman raises the containers' open-file and process limits (to 1048576
  # and 4194304) unless told; a sandbox whose hard limits are lower refuses
  # to start them ("error setting rlimit"): cap them at this shell's limits.
  limits=""
  hard() { awk -v k="$1" 'index($0, k) == 1 { print $(NF - 1) }' /proc/self/limits; }
  # (processes: at most kernel.pid_max too; this sandbox refuses more)
  nproc=$(hard 'Max processes')
  pid_max=$(cat /proc/sys/kernel/pid_max 2>/dev/null || echo "$nproc")
  [ "$nproc" = unlimited ] || [ "$nproc" -le "$pid_max" ] || nproc=$pid_max
  for l in "nofile $(hard 'Max open files')" "nproc $nproc"; do
    # shellcheck disable=SC2086 # the name and the limit
    set -- $l
    [ "$2" = unlimited ] || limits="$limits${limits:+, }\"$1=$2:$2\""
  done
  if [ -n "$limits" ] && [ -z "${CONTAINERS_CONF:-}" ]; then
    printf '[containers]\ndefault_ulimits = [%s]\n' "$limits" >"$tmp/containers.conf"
    export CONTAINERS_CONF="$tmp/containers.conf"
  fi
  build="podman build --format docker -q"
else
  build="docker build -q"
fi

# haproxy checks /ready; a tree from before /ready existed is checked on /health
grep -q '"/ready"' src/server/*.c || export LLMNET_READY_PATH=/health
export LLMNET_IMAGE=localhost/llmnet:test HAPROXY_IMAGE=localhost/llmnet-haproxy:test \
  REDIS_IMAGE=localhost/llmnet-redis:test LLMNET_REPLICAS=2
# every answer takes 100 ms, so requests are in flight on the replica killed
export LLMNET_MOCK_LATENCY=100
LLMNET_HTTP_PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
export LLMNET_HTTP_PORT
url="http://127.0.0.1:$LLMNET_HTTP_PORT"
compose_cmd() { $compose -p "$project" -f deploy/compose/compose.yaml -f deploy/compose/compose.mock.yaml "$@"; }

teardown() {
  rc=$?
  if [ "$rc" -ne 0 ]; then
    for c in $($engine ps -a --format '{{.Names}}' 2>/dev/null | grep "^${project}_" | sort); do
      say "the last lines of $c:"
      $engine logs --tail 12 "$c" 2>&1 | grep -v 'level=error msg=".*systemd' | sed 's/^/    /' >&2 || true
    done
  fi
  [ -n "${KEEP_LOGS:-}" ] && $engine logs "${project}_haproxy_1" >"$KEEP_LOGS" 2>&1
  compose_cmd down -t 5 >/dev/null 2>&1 || true
  $engine ps -a --format '{{.Names}}' 2>/dev/null | grep "^${project}_" | xargs -r $engine rm -f >/dev/null 2>&1 || true
  $engine network ls --format '{{.Name}}' 2>/dev/null | grep "^${project}_" | xargs -r $engine network rm >/dev/null 2>&1 || true
  rm -rf "$tmp"
  phase "torn down (exit $rc)"
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# --- the Swarm stack: the docker client checks the file offline --------------------
if command -v docker >/dev/null 2>&1 && docker stack config --help >/dev/null 2>&1; then
  docker stack config -c deploy/compose/compose.yaml -c deploy/compose/compose.mock.yaml >"$tmp/stack.yaml" 2>&1 ||
    fail "docker stack config refuses the compose files: $(cat "$tmp/stack.yaml")"
  grep -q 'endpoint_mode: dnsrr' "$tmp/stack.yaml" || fail "the stack's llmnet service is not dnsrr"
  say "docker stack config accepts compose.yaml + compose.mock.yaml (Swarm not run: no engine here)"
fi

# --- images -------------------------------------------------------------------
phase "engine $engine ($($engine --version)), compose: $compose"
ENGINE=$engine ./deploy/base/build-base.sh || fail "the debian:bookworm-slim base could not be built"
phase "base image ready"
rev=$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
$build --build-arg LLN_GIT_REVISION="$rev" -t "$LLMNET_IMAGE" . >/dev/null || fail "the llmnet image did not build"
phase "llmnet image built ($($engine image inspect "$LLMNET_IMAGE" --format '{{.Size}}') bytes)"
$build -t "$HAPROXY_IMAGE" -f deploy/haproxy/Dockerfile deploy/haproxy >/dev/null || fail "the haproxy image did not build"
$build -t "$REDIS_IMAGE" -f deploy/compose/redis.Dockerfile deploy/compose >/dev/null || fail "the redis image did not build"
phase "haproxy and redis images built"

version=$($engine run --rm --no-healthcheck "$LLMNET_IMAGE" --version | head -n 1)
say "image: $version"
[ "$($engine run --rm --no-healthcheck --entrypoint id "$LLMNET_IMAGE" -u)" != 0 ] || fail "the image runs as root"

# --- up -----------------------------------------------------------------------
compose_cmd up -d >"$tmp/up.log" 2>&1 ||
  { cat "$tmp/up.log" >&2; fail "compose up failed"; }
phase "compose up"

post() { # post TEXT -> prints the HTTP status
  curl -sS -o "$tmp/body" -w '%{http_code}' --max-time 30 "$url/v1/chat/completions" \
    -H 'content-type: application/json' -d "{\"messages\":[{\"role\":\"user\",\"content\":\"$1\"}]}" || echo 000
}
up=""
for _ in $(seq 1 120); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/health" 2>/dev/null || true)" = 200 ] && up=1 && break
  exited=$($engine ps -a --filter status=exited --format '{{.Names}}' | grep "^${project}_llmnet_" | head -n 1) || true
  [ -z "$exited" ] || fail "$exited exited before serving (its log follows)"
  sleep 0.5
done
[ -n "$up" ] || fail "haproxy never answered 200 on $url/health"
replicas=$($engine ps --format '{{.Names}}' | grep -c "^${project}_llmnet_") || true
[ "$replicas" = 2 ] || fail "expected 2 llmnet replicas, found $replicas"
phase "ready through haproxy on $url ($replicas replicas)"

# --- a request to the offline mock upstream --------------------------------------
status=$(post "hello from the container test")
[ "$status" = 200 ] || fail "a chat completion through haproxy answered $status: $(cat "$tmp/body")"
grep -q 'reply to: hello from the container test' "$tmp/body" || fail "the answer is not the mock's: $(cat "$tmp/body")"
grep -q '"route":"router>handler"' "$tmp/body" || fail "unexpected route: $(cat "$tmp/body")"
say "request through haproxy -> llmnet -> mock: 200, route router>handler"

# both replicas serve: each answers its own request id, so count the replicas
# that logged a request after a few round-robin requests
for i in 1 2 3 4; do [ "$(post "spread $i")" = 200 ] || fail "request $i failed"; done

# --- a replica killed under load -------------------------------------------------
total=300
load() { # 300 requests, 8 at a time, in the background; their statuses in $tmp/load
  seq 1 "$total" | xargs -P 8 -I{} curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 \
    "$url/v1/chat/completions" -H 'content-type: application/json' \
    -d '{"messages":[{"role":"user","content":"load {}"}]}' >"$tmp/load" 2>/dev/null &
  load_pid=$!
}
load
sleep 1
victim="${project}_llmnet_1"
$engine kill -s KILL "$victim" >/dev/null || fail "could not kill $victim"
phase "killed $victim (SIGKILL) under load"
wait "$load_pid" || true
sent=$(wc -l <"$tmp/load")
ok=$(grep -c '^200$' "$tmp/load" || true)
failed=$((sent - ok))
say "under load: $sent requests, $ok answered 200, $failed failed ($(grep -v '^200$' "$tmp/load" | sort | uniq -c | tr '\n' ' '))"
# haproxy's log line of a request ends its connection counters with the
# retries: "actconn/feconn/beconn/srv_conn/retries" (+N: redispatched)
retried=$($engine logs "${project}_haproxy_1" 2>&1 | grep -cE ' [-A-Za-z]{4} [0-9]+/[0-9]+/[0-9]+/[0-9]+/\+?[1-9][0-9]* ' || true)
say "requests haproxy retried on the other replica (in flight on, or sent to, the killed one): $retried"
[ "$sent" = "$total" ] || fail "only $sent of $total requests completed"
[ "$failed" = 0 ] || fail "$failed requests failed when a replica was killed (haproxy should have retried them)"
phase "replica killed under load: 0 of $total requests failed"

# --- the shared budget -------------------------------------------------------------
# llmnet_1 is dead: bring it back so the budget is spent through both replicas.
$engine start "$victim" >/dev/null || fail "could not restart $victim"
for _ in $(seq 1 60); do
  [ "$($engine exec "$victim" curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/health 2>/dev/null || true)" = 200 ] && break
  sleep 0.5
done
sleep 2 # haproxy's check (inter 1s, rise 1) takes it back
codes=""
for i in 1 2 3 4 5 6 7 8 9 10; do codes="$codes $(post "spend the budget $i")"; done
say "10 requests on the shared budget (rpd 6): $codes"
[ "$(echo "$codes" | tr ' ' '\n' | grep -c '^200$')" = 6 ] || fail "expected exactly 6 answered on the shared budget: $codes"
[ "$(echo "$codes" | tr ' ' '\n' | grep -c '^429$')" = 4 ] || fail "expected 4 refusals (429) past the budget: $codes"
grep -q 'budget \\"shared\\"' "$tmp/body" || grep -q 'budget "shared"' "$tmp/body" || fail "the refusal does not name the budget: $(cat "$tmp/body")"
served=0
for n in 1 2; do
  c=$($engine logs "${project}_llmnet_$n" 2>&1 | grep -c 'budgeted-handler' || true)
  [ "$c" -gt 0 ] && served=$((served + 1))
done
say "replicas that served budget requests: $served"
[ "$served" = 2 ] || fail "the budget requests were not spread over both replicas (haproxy round robin)"
phase "shared budget enforced across the replicas"

# --- a replica stopped (SIGTERM, the image's STOPSIGNAL) under load -----------------
load
sleep 1
$engine stop -t 40 "${project}_llmnet_2" >/dev/null || fail "could not stop ${project}_llmnet_2"
phase "stopped ${project}_llmnet_2 (SIGTERM: it drains) under load"
wait "$load_pid" || true
sent=$(wc -l <"$tmp/load")
ok=$(grep -c '^200$' "$tmp/load" || true)
say "under load: $sent requests, $ok answered 200, $((sent - ok)) failed"
if [ "$sent" != "$total" ] || [ "$ok" != "$total" ]; then fail "a replica stopped with SIGTERM lost requests"; fi
phase "replica stopped under load: 0 of $total requests failed"
say "passed"
