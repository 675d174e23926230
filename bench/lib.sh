# shellcheck shell=bash
# make bench: the helpers bench/run.sh and bench/routing.sh share, sourced
# by them. They read the caller's globals: $root, $bench, $bin, $tmp (the work
# folder, where each process logs), $pids (processes to stop at the end), $R
# (the "key value" results file), $S (seconds per measurement) and $body (the
# request wrk sends).
# (the per-key variables are read back by the callers)
# shellcheck disable=SC2034,SC2154
# The binary measured ($bin) and the seconds per measurement ($S), from
# LLMNET_BIN and BENCH_SECONDS.
bin=${LLMNET_BIN:-$root/build/llmnet}
S=${BENCH_SECONDS:-10}
case "$S" in '' | *[!0-9]*) echo "bench: BENCH_SECONDS must be a whole number of seconds" >&2; exit 2 ;; esac
[ "$S" -ge 1 ] || { echo "bench: BENCH_SECONDS must be at least 1" >&2; exit 2; }

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

put() { printf '%s %s\n' "$1" "$2" >>"$R"; }

# scenario_start NAME [RESULTS]: what a scenario script (bench/routing.sh,
# bench/doors.sh) does first: its work folder ($tmp), the results file ($R:
# RESULTS when bench/run.sh gives one, else its own with the machine's
# lines, $standalone 1), the tools it needs, and the cleanup at exit.
scenario_start() {
  SCENARIO=$1
  shift
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/llmnet-bench-$SCENARIO.XXXXXX")
  pids=""
  standalone=0
  if [ $# -ge 1 ]; then
    R=$1
  else
    standalone=1
    R=$tmp/results
    : >"$R"
  fi
  local t
  for t in wrk curl node; do command -v "$t" >/dev/null 2>&1 || die "$t is not installed (bench/run.sh installs it)"; done
  [ -x "$bin" ] || die "$bin not found: run make"
  trap 'clean_up "$SCENARIO work folder"' EXIT
  trap 'exit 130' INT TERM
  if [ "$standalone" = 1 ]; then
    put machine.nproc "$(nproc)"
    put machine.cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1 | tr ' ' '_')"
    put machine.kernel "$(uname -r)"
    put machine.date "$(date -u +%Y-%m-%dT%H:%MZ)"
    put machine.llmnet "$("$bin" --version 2>/dev/null | head -n 1 | tr ' ' '_')"
    put bench.seconds "$S"
  fi
}

# clean_up WHAT: stops every process in $pids and removes $tmp, or keeps it
# with BENCH_KEEP=1 (WHAT names it in the message).
clean_up() {
  local p
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  for p in $pids; do wait "$p" 2>/dev/null || true; done
  if [ "${BENCH_KEEP:-0}" = 1 ]; then log "$1 kept: $tmp"; else rm -rf "$tmp"; fi
}

# ---------------------------------------------------------------- processes
# start NAME CMD...: runs CMD in the background, output in $tmp/NAME.log; the
# pid is in $LAST_PID.
start() {
  local name=$1
  shift
  "$@" >"$tmp/$name.log" 2>&1 &
  LAST_PID=$!
  pids="$pids $LAST_PID"
}
. "$root/scripts/listening.sh"
# listen_url NAME: the URL the process started as NAME listens on.
listen_url() {
  listening_url "$tmp/$1.log" || die "$1 did not start"
}
free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
mock() { # NAME ARGS...: starts a mock, sets MOCK_PID and MOCK_URL
  local name=$1
  shift
  start "$name" "$bin" mock --port 0 --bind-addr 127.0.0.1 "$@"
  MOCK_PID=$LAST_PID
  MOCK_URL=$(listen_url "$name")
}
gateway() { # NAME COMPOSITION MOCK_URL: starts llmnet, sets GW_PID and GW_URL
  start "$1" env LLMNET_MOCK_URL="$3" "$bin" "$2" --port 0 --bind-addr 127.0.0.1 --log-level warn
  GW_PID=$LAST_PID
  GW_URL=$(listen_url "$1")
}

# ---------------------------------------------------------------- /proc readers
# CPU time of a process in nanoseconds: the sum of its threads' run time from
# /proc/PID/task/*/schedstat (ns resolution); /proc/PID/stat utime+stime
# (clock ticks) where schedstat is missing.
cpu_ns() {
  if [ -r "/proc/$1/schedstat" ]; then
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'
  else
    cpu_ticks_ns "$1"
  fi
}
cpu_ticks_ns() { # utime+stime of /proc/PID/stat, in ns
  local hz
  hz=$(getconf CLK_TCK)
  sed 's/^.*) //' "/proc/$1/stat" | awk -v hz="$hz" '{printf "%.0f\n", ($12 + $13) * 1e9 / hz}'
}
rss_kb() { awk -v k="${2:-VmRSS}:" '$1 == k {print $2}' "/proc/$1/status"; }
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
# Busy share of all cores over one second, in percent (what the machine does
# besides us when our processes are idle).
machine_busy() {
  local a b
  a=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
  sleep 1
  b=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
  echo "$a $b" | awk '{d = $4 - $2; printf "%.0f\n", (d > 0 ? 100 * ($3 - $1) / d : 0)}'
}
# Requests llmnet answered (all statuses) / not 200, from its /metrics.
llmnet_served() { curl -s --max-time 5 "$1/metrics" | awk '/^llmnet_requests_total/ {n += $NF} END {print n + 0}'; }
llmnet_non200() {
  curl -s --max-time 5 "$1/metrics" |
    awk '/^llmnet_requests_total/ && $0 !~ /status="(200|499)"/ {n += $NF} END {print n + 0}'
}
# Chat answers the mock gave (streams included) / streams it saw aborted.
mock_answered() { curl -s --max-time 5 "$1/mock/stats" | sed -n 's/.*"answered":\([0-9]*\).*/\1/p'; }
mock_aborted_streams() {
  curl -s --max-time 5 "$1/mock/stats" | sed -n 's/.*"streams":{[^}]*"aborted":\([0-9]*\).*/\1/p'
}

# ---------------------------------------------------------------- non-streaming
# wrk_run KEY CONC URL GW_PID GW_KIND MOCK_PID MOCK_URL [HEADERS]: wrk for
#   $WRK_SECONDS (default $S) seconds, its figures written under KEY.
#   GW_KIND: none (direct), llmnet or portkey; $WRK_PATH is the path posted
#   to (default /v1/chat/completions; bench/doors.sh posts to each door's)
wrk_run() {
  local key=$1 conc=$2 url=$3 gwpid=$4 kind=$5 mpid=$6 murl=$7 headers=${8:-}
  local g0=0 g1=0 gs0=0 gs1=0 gn0=0 gn1=0 m0 m1 ma0 ma1 t0 t1
  ma0=$(mock_answered "$murl")
  if [ "$kind" = llmnet ]; then
    gs0=$(llmnet_served "$url")
    gn0=$(llmnet_non200 "$url")
  fi
  [ "$kind" = none ] || { g0=$(cpu_ns "$gwpid"); t0=$(cpu_ticks_ns "$gwpid"); }
  m0=$(cpu_ns "$mpid")
  BENCH_HEADERS=$headers BENCH_BODY=$body wrk -t1 -c"$conc" -d"${WRK_SECONDS:-$S}s" --timeout 10s \
    -s "$bench/post.lua" "$url${WRK_PATH:-/v1/chat/completions}" >"$tmp/$key.wrk" 2>&1 || true
  m1=$(cpu_ns "$mpid")
  [ "$kind" = none ] || { g1=$(cpu_ns "$gwpid"); t1=$(cpu_ticks_ns "$gwpid"); }
  if [ "$kind" = llmnet ]; then
    gs1=$(llmnet_served "$url")
    gn1=$(llmnet_non200 "$url")
  fi
  ma1=$(mock_answered "$murl")
  local line
  line=$(grep '^BENCH ' "$tmp/$key.wrk" || true)
  if [ -z "$line" ]; then
    log "wrk failed for $key: $(head -c 400 "$tmp/$key.wrk")"
    put "$key.failed" 1
    return 0
  fi
  echo "$line" | tr ' ' '\n' | grep '=' | sed "s/^/$key./; s/=/ /" >>"$R"
  put "$key.mock_cpu_ns" $((m1 - m0))
  put "$key.mock_calls" $((ma1 - ma0))
  if [ "$kind" != none ]; then
    put "$key.gw_cpu_ns" $((g1 - g0))
    put "$key.gw_cpu_ticks_ns" $((t1 - t0))
  fi
  if [ "$kind" = llmnet ]; then
    put "$key.gw_served" $((gs1 - gs0))
    put "$key.gw_non200" $((gn1 - gn0))
  fi
  log "  $key: $(echo "$line" | cut -d' ' -f2-4)"
}

