#!/usr/bin/env bash
# make bench: llmnet against `llmnet mock` (direct), through llmnet with the
# 1-hop and the seed's 2-hop composition, and through Portkey's gateway as the
# peer; wrk and h2load for load, bench/clients.mjs for streams and held
# connections; then bench/routing.sh (sessions, pins, the decision cache,
# early decision), bench/doors.sh (the Responses and Anthropic doors
# against chat completions: CPU per request, time to first token) and
# bench/cache.sh (a response cache hit against a 1-hop request). Prints one markdown report and writes it to
# bench/results/latest.md. Every process is on 127.0.0.1, on ports picked at
# run time, and stopped at the end.
#
#   BENCH_SECONDS   length of each measurement (default 10; the whole run is
#                   about 31 x BENCH_SECONDS (29 without the BASE build) plus
#                   ~60 s with the routing scenarios of bench/routing.sh,
#                   ~20 s with bench/doors.sh, ~25 s with bench/cache.sh,
#                   ~5 s of system calls and ~20 s of callgrind: about 7 min
#                   by default, 3.5 min with BENCH_SECONDS=2)
#   LLMNET_BIN      the binary (default build/llmnet)
#   BENCH_KEEP=1    keep the work folder (logs, raw tool output) at the end
#   BENCH_BASE_REV  the commit whose `llmnet mock` is the fixed yardstick
#                   (default bd81caa, the commit before issue 17's work); built
#                   once by bench/base.sh into ~/.cache/llmnet-bench/
#   BENCH_CALLGRIND 1 (default): instructions per 1-hop request of llmnet and
#                   of the BASE build (bench/callgrind.sh, ~20 s); 2: the
#                   2-hop composition too (~35 s more); 0: not measured
#   BENCH_CALLGRIND_ROUNDS  counts of each, alternated (default 1; the
#                   report gives the median)
#
# Issue 17's figures: bench/syscalls.sh (strace -c, system calls per
# proxied request, on processes of its own, ~5 s), the BASE mock runs (2 x
# BENCH_SECONDS more), the callgrind counts, RSS after the first proxied
# request and per open stream; the report opens with their targets.
#
# Figures, not assertions: a missed target is reported, the exit code is 0
# unless the benchmark itself could not run, or (bench/routing.sh) a
# conversation in sticky session mode made other than one router call.
# (the per-latency variables are read back through eval)
# shellcheck disable=SC2034,SC2154
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
bench=$root/bench
IDLE_CONNS=10000
HELD_STREAMS=1000
CONC=16        # moderate load: wrk -t1 -c16
H2_CONC=100    # h2load --h1 -c100

# shellcheck source=bench/lib.sh
. "$bench/lib.sh"

# ---------------------------------------------------------------- tools
apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing Debian packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 ||
    { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}
missing=""
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
command -v h2load >/dev/null 2>&1 || missing="$missing nghttp2-client"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
# shellcheck disable=SC2086
[ -z "$missing" ] || apt_install $missing
for t in wrk h2load curl node npm; do command -v "$t" >/dev/null 2>&1 || die "$t is not installed"; done
# strace counts system calls per request (bench/syscalls.sh); optional: the
# report says "not measured" without it
command -v strace >/dev/null 2>&1 || apt_install strace || log "strace could not be installed: syscalls not measured"
[ -x "$bin" ] || die "$bin not found: run make (or make bench, which builds first)"

if [ ! -f "$bench/node_modules/@portkey-ai/gateway/build/start-server.js" ]; then
  log "installing @portkey-ai/gateway into bench/node_modules (npm ci)"
  (cd "$bench" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
    log "npm ci failed: the Portkey rows will say so"
fi
portkey_js=$bench/node_modules/@portkey-ai/gateway/build/start-server.js

# 10,000 client connections need 10,000 descriptors in llmnet and in the
# client holding them; children inherit this shell's limit.
fd_want=65536
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$fd_want" ]; then
  ulimit -n "$fd_want" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi
fd_limit=$(ulimit -n)
fd_ok=1
if [ "$fd_limit" != unlimited ] && [ "$fd_limit" -lt $((IDLE_CONNS + 240)) ]; then
  fd_ok=0
  log "WARNING: ulimit -n is $fd_limit and cannot be raised (hard limit $(ulimit -Hn));"
  log "         the $IDLE_CONNS idle connections test needs $((IDLE_CONNS + 240)) and is skipped"
fi

# ---------------------------------------------------------------- work folder
tmp=$(mktemp -d "${TMPDIR:-/tmp}/llmnet-bench.XXXXXX")
R=$tmp/results # "key value" lines, read by report.mjs
: >"$R"
pids=""
cleanup() { clean_up "work folder"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- BASE build
# the mock at the commit before issue 17's work (bench/base.sh builds it once)
base_rev=${BENCH_BASE_REV:-bd81caa}
put base.rev "$base_rev"
base_bin=""
if base_bin=$("$bench/base.sh" 2>"$tmp/base.err"); then
  put base.ok 1
  put base.hash "$(basename "$(dirname "$(dirname "$base_bin")")" | cut -c1-12)"
else
  base_bin=""
  put base.ok 0
  put base.error "$(grep -v '^bench/base.sh: building' "$tmp/base.err" | tail -n 1 | sed 's/^bench\/base.sh: //' | cut -c1-300 | tr ' ' '_')"
  log "the BASE ($base_rev) could not be built: $(tail -n 1 "$tmp/base.err"); its rows say so"
fi



# ---------------------------------------------------------------- machine
log "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), kernel $(uname -r)"
put machine.nproc "$(nproc)"
put machine.cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1 | tr ' ' '_')"
put machine.kernel "$(uname -r)"
put machine.mem_mb "$(awk '/^MemTotal:/ {printf "%.0f", $2 / 1024}' /proc/meminfo)"
put machine.date "$(date -u +%Y-%m-%dT%H:%MZ)"
put machine.llmnet "$("$bin" --version 2>/dev/null | head -n 1 | tr ' ' '_')"
put machine.wrk "$(wrk -v 2>&1 | head -n 1 | awk '{print $2}')"
put machine.h2load "$(h2load --version 2>&1 | head -n 1 | awk '{print $2}')"
put machine.node "$(node --version)"
put machine.portkey "$(node -p 'require(process.argv[1]).version' "$bench/node_modules/@portkey-ai/gateway/package.json" 2>/dev/null || echo none)"
put machine.fd_limit "$fd_limit"
put bench.seconds "$S"
put bench.conc "$CONC"
put bench.h2conc "$H2_CONC"
put bench.idle_conns "$IDLE_CONNS"
put bench.held_streams "$HELD_STREAMS"
busy=$(machine_busy)
put machine.busy_before "$busy"
[ "$busy" -le 10 ] ||
  log "WARNING: the machine is ${busy}% busy before the run (other processes): figures will be noisy"

# ---------------------------------------------------------------- start everything
log "starting the mocks, llmnet and Portkey"
rules=$root/examples/mock-rules.json
srules=$bench/mock-stream-rules.json
mock mock0 --rules "$rules"
mock0_pid=$MOCK_PID mock0_url=$MOCK_URL
mock mock50 --rules "$rules" --latency 50
mock50_pid=$MOCK_PID mock50_url=$MOCK_URL
mock mockS --rules "$srules" # streams: 400 chunks as fast as possible
mockS_pid=$MOCK_PID mockS_url=$MOCK_URL
mock mockT --rules "$srules" --chunk-interval 5 # time to first byte: chunks 5 ms apart
mockT_url=$MOCK_URL
mock mockL --rules "$srules" --chunk-interval 100 # long slow streams: 40 s each
mockL_url=$MOCK_URL
if [ -n "$base_bin" ]; then
  # the same two non-streaming mocks, from the BASE build
  bin=$base_bin mock mockB0 --rules "$rules"
  mockB0_pid=$MOCK_PID mockB0_url=$MOCK_URL
  bin=$base_bin mock mockB50 --rules "$rules" --latency 50
  mockB50_pid=$MOCK_PID mockB50_url=$MOCK_URL
fi

# the memory instances first, so their idle size is a fresh process's
# (mem1 holds idle connections and makes one proxied request: the 0 ms mock)
gateway mem1 "$bench/one-hop.json" "$mock0_url"
mem1_pid=$GW_PID mem1_url=$GW_URL
gateway mem2 "$bench/one-hop.json" "$mockL_url"
mem2_pid=$GW_PID mem2_url=$GW_URL
gateway one0 "$bench/one-hop.json" "$mock0_url"
one0_pid=$GW_PID one0_url=$GW_URL
gateway two0 "$bench/two-hop.json" "$mock0_url"
two0_pid=$GW_PID two0_url=$GW_URL
gateway one50 "$bench/one-hop.json" "$mock50_url"
one50_pid=$GW_PID one50_url=$GW_URL
gateway two50 "$bench/two-hop.json" "$mock50_url"
two50_pid=$GW_PID two50_url=$GW_URL
gateway oneS "$bench/one-hop.json" "$mockS_url"
oneS_pid=$GW_PID oneS_url=$GW_URL
gateway oneT "$bench/one-hop.json" "$mockT_url"
oneT_url=$GW_URL
if [ -n "$base_bin" ]; then
  gateway oneB0 "$bench/one-hop.json" "$mockB0_url"
  oneB0_pid=$GW_PID oneB0_url=$GW_URL
  gateway oneB50 "$bench/one-hop.json" "$mockB50_url"
  oneB50_pid=$GW_PID oneB50_url=$GW_URL
fi

portkey_ok=0
portkey_pid="" portkey_url=""
if [ -f "$portkey_js" ]; then
  pport=$(free_port)
  # --headless: no log UI; it listens on every interface (no option for the
  # address), the load goes to 127.0.0.1
  start portkey node "$portkey_js" --port="$pport" --headless
  portkey_pid=$LAST_PID portkey_url=http://127.0.0.1:$pport
  for _ in $(seq 1 100); do
    curl -s -o /dev/null --max-time 1 "$portkey_url/" && break
    sleep 0.1
  done
  # one request each way through it before measuring
  portkey_ok=1
  for m in "$mock0_url" "$mock50_url"; do
    code=$(curl -s -o "$tmp/portkey-check.json" -w '%{http_code}' --max-time 10 -X POST \
      "$portkey_url/v1/chat/completions" -H 'Content-Type: application/json' \
      -H 'Authorization: Bearer mock-key' -H 'x-portkey-provider: openai' \
      -H "x-portkey-custom-host: $m/v1" \
      -d '{"model":"llmnet","messages":[{"role":"user","content":"How do I reverse a linked list in python?"}]}' || true)
    if [ "$code" != 200 ] || ! grep -q '"chat.completion"' "$tmp/portkey-check.json"; then
      portkey_ok=0
      log "Portkey check against $m failed (HTTP $code): $(head -c 300 "$tmp/portkey-check.json")"
    fi
  done
fi
put portkey.ok "$portkey_ok"
[ "$portkey_ok" = 1 ] || log "Portkey is not measured"

# one request each through llmnet, so a broken setup stops here
body='{"model":"llmnet","messages":[{"role":"user","content":"How do I reverse a linked list in python?"}]}'
printf '%s' "$body" >"$tmp/body.json"
for u in "$one0_url" "$two0_url" "$one50_url" "$two50_url" ${base_bin:+"$oneB0_url" "$oneB50_url"}; do
  code=$(curl -s -o "$tmp/check.json" -w '%{http_code}' --max-time 10 -X POST "$u/v1/chat/completions" \
    -H 'Content-Type: application/json' -d "$body" || true)
  [ "$code" = 200 ] || die "llmnet at $u answered HTTP $code: $(head -c 300 "$tmp/check.json")"
done
route=$(curl -s -D - -o /dev/null -X POST "$two0_url/v1/chat/completions" -H 'Content-Type: application/json' \
  -d "$body" | tr -d '\r' | sed -n 's/^x-llmnet-route: //Ip')
put two.route "$route"
# "llmnet listening on http://...(entry node "chat", 2 nodes, 2 workers)"
put llmnet.workers "$(sed -n 's/.*listening on .*, \([0-9]*\) workers).*/\1/p' "$tmp/one0.log" | head -n 1)"

# warnings llmnet logs from here on are the run's (the 2-hop composition
# warns once at start about its inherited model)
# (499s, requests whose client left, are expected: wrk and h2load stop with
# requests in flight, and the memory test drops its streams; counted apart)
warn_lines() { grep -E ' (warn|error) ' "$tmp/$1.log" | grep -c -v 'status=499' || true; }
gone_lines() { grep -c 'status=499' "$tmp/$1.log" || true; }
gw_names="one0 two0 one50 two50 oneS mem1 mem2${base_bin:+ oneB0 oneB50}"
for n in $gw_names; do eval "warn0_$n=\$(warn_lines $n)"; done

# ---------------------------------------------------------------- idle
# CPU an idle llmnet uses (timers, housekeeping), over 2 s with no traffic
c0=$(cpu_ns "$one0_pid")
sleep 2
c1=$(cpu_ns "$one0_pid")
put cpu.idle_ns_per_s $(((c1 - c0) / 2))
put mem.idle_kb "$(rss_kb "$mem1_pid")"
put mem.idle_anon_kb "$(rss_kb "$mem1_pid" RssAnon)"
put mem.idle_file_kb "$(rss_kb "$mem1_pid" RssFile)"
# proportional (shared library pages divided among their users) and private
smaps() { awk -v k="$2:" '$1 == k {v = $2} END {print v + 0}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
put mem.idle_pss_kb "$(smaps "$mem1_pid" Pss)"
put mem.idle_private_kb $(($(smaps "$mem1_pid" Private_Dirty) + $(smaps "$mem1_pid" Private_Clean)))
put mem.idle2_kb "$(rss_kb "$mem2_pid")"
# libcurl (and what it loads) may start at the first upstream call: the size
# after one proxied request
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST "$mem1_url/v1/chat/completions" \
  -H 'Content-Type: application/json' -d "$body" || true)
[ "$code" = 200 ] || log "the first proxied request to mem1 answered HTTP $code"
sleep 0.2
put mem.first_kb "$(rss_kb "$mem1_pid")"
put mem.first_anon_kb "$(rss_kb "$mem1_pid" RssAnon)"
[ -n "$portkey_pid" ] && put mem.portkey_idle_kb "$(rss_kb "$portkey_pid")"
put mem.mock_idle_kb "$(rss_kb "$mock0_pid")"

# ---------------------------------------------------------------- non-streaming
# (wrk_run is in bench/lib.sh)

# h2_run KEY URL GW_PID GW_KIND MOCK_PID MOCK_URL [-H header]...
h2_run() {
  local key=$1 url=$2 gwpid=$3 kind=$4 mpid=$5 murl=$6
  shift 6
  local g0=0 g1=0 m0 m1 ma0 ma1
  ma0=$(mock_answered "$murl")
  [ "$kind" = none ] || g0=$(cpu_ns "$gwpid")
  m0=$(cpu_ns "$mpid")
  h2load --h1 -c"$H2_CONC" -D "$S" -d "$tmp/body.json" -H 'Content-Type: application/json' \
    -H 'Authorization: Bearer mock-key' "$@" "$url/v1/chat/completions" >"$tmp/$key.h2load" 2>&1 || true
  m1=$(cpu_ns "$mpid")
  [ "$kind" = none ] || g1=$(cpu_ns "$gwpid")
  ma1=$(mock_answered "$murl")
  local f
  f=$tmp/$key.h2load
  # finished in 10.00s, 4200.50 req/s, 1.23MB/s
  put "$key.rps" "$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' "$f")"
  # requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout
  sed -n 's/^requests: \([0-9]*\) total, [0-9]* started, \([0-9]*\) done, \([0-9]*\) succeeded, \([0-9]*\) failed, \([0-9]*\) errored, \([0-9]*\) timeout.*/done \2\nsucceeded \3\nfailed \4\nerrored \5\ntimeout \6/p' "$f" |
    sed "s/^/$key./" >>"$R"
  # status codes: N 2xx, N 3xx, N 4xx, N 5xx
  sed -n 's/^status codes: \([0-9]*\) 2xx, \([0-9]*\) 3xx, \([0-9]*\) 4xx, \([0-9]*\) 5xx.*/s2xx \1\ns4xx \3\ns5xx \4/p' "$f" |
    sed "s/^/$key./" >>"$R"
  put "$key.mock_cpu_ns" $((m1 - m0))
  put "$key.mock_calls" $((ma1 - ma0))
  [ "$kind" = none ] || put "$key.gw_cpu_ns" $((g1 - g0))
  grep -q '^finished in' "$f" || log "h2load failed for $key: $(tail -c 400 "$f")"
  log "  $key: $(grep -E '^(finished|status codes)' "$f" | tr '\n' ' ')"
}

pk_headers() { echo "x-portkey-provider: openai|x-portkey-custom-host: $1/v1"; }

step=0
steps=29
[ -z "$base_bin" ] || steps=31
next() { step=$((step + 1)); log "[$step/$steps] $*"; }

for lat in 0 50; do
  eval "murl=\$mock${lat}_url mpid=\$mock${lat}_pid"
  eval "oneurl=\$one${lat}_url onepid=\$one${lat}_pid twourl=\$two${lat}_url twopid=\$two${lat}_pid"
  # warm-up: connections and pools open, caches warm; not measured
  for u in "$murl" "$oneurl" "$twourl"; do
    BENCH_BODY=$body wrk -t1 -c"$CONC" -d1s -s "$bench/post.lua" "$u/v1/chat/completions" >/dev/null 2>&1 || true
  done
  if [ "$portkey_ok" = 1 ]; then
    BENCH_HEADERS=$(pk_headers "$murl") BENCH_BODY=$body wrk -t1 -c"$CONC" -d1s \
      -s "$bench/post.lua" "$portkey_url/v1/chat/completions" >/dev/null 2>&1 || true
  fi
  for c in "$CONC" 1; do
    next "wrk -t1 -c$c, mock latency $lat ms: direct"
    wrk_run "ns.$lat.c$c.direct" "$c" "$murl" "" none "$mpid" "$murl"
    next "wrk -t1 -c$c, mock latency $lat ms: llmnet 1-hop"
    wrk_run "ns.$lat.c$c.one" "$c" "$oneurl" "$onepid" llmnet "$mpid" "$murl"
    if [ "$c" = "$CONC" ] && [ -n "$base_bin" ]; then
      # llmnet in front of the BASE build's mock: llmnet CPU / BASE mock CPU
      eval "burl=\$oneB${lat}_url bpid=\$oneB${lat}_pid bmurl=\$mockB${lat}_url bmpid=\$mockB${lat}_pid"
      BENCH_BODY=$body wrk -t1 -c"$CONC" -d1s -s "$bench/post.lua" "$burl/v1/chat/completions" >/dev/null 2>&1 || true
      next "wrk -t1 -c$c, mock latency $lat ms: llmnet 1-hop to the BASE ($base_rev) mock"
      wrk_run "ns.$lat.c$c.oneB" "$c" "$burl" "$bpid" llmnet "$bmpid" "$bmurl"
    fi
    next "wrk -t1 -c$c, mock latency $lat ms: llmnet 2-hop"
    wrk_run "ns.$lat.c$c.two" "$c" "$twourl" "$twopid" llmnet "$mpid" "$murl"
    if [ "$portkey_ok" = 1 ]; then
      next "wrk -t1 -c$c, mock latency $lat ms: Portkey"
      wrk_run "ns.$lat.c$c.portkey" "$c" "$portkey_url" "$portkey_pid" portkey "$mpid" "$murl" "$(pk_headers "$murl")"
    else
      next "(Portkey not measured)"
    fi
  done
done

next "h2load --h1 -c$H2_CONC, mock latency 0 ms: direct"
h2_run h2.direct "$mock0_url" "" none "$mock0_pid" "$mock0_url"
next "h2load --h1 -c$H2_CONC: llmnet 1-hop"
h2_run h2.one "$one0_url" "$one0_pid" llmnet "$mock0_pid" "$mock0_url"
next "h2load --h1 -c$H2_CONC: llmnet 2-hop"
h2_run h2.two "$two0_url" "$two0_pid" llmnet "$mock0_pid" "$mock0_url"
if [ "$portkey_ok" = 1 ]; then
  next "h2load --h1 -c$H2_CONC: Portkey"
  h2_run h2.portkey "$portkey_url" "$portkey_pid" portkey "$mock0_pid" "$mock0_url" \
    -H 'x-portkey-provider: openai' -H "x-portkey-custom-host: $mock0_url/v1"
else
  next "(Portkey not measured)"
fi

# after all of that: llmnet's size and descriptors (upstream pool + listener)
put mem.one0_after_kb "$(rss_kb "$one0_pid")"
put mem.one0_hwm_kb "$(rss_kb "$one0_pid" VmHWM)"
put fd.one0_after "$(fd_count "$one0_pid")"
# of which: connections to the mock kept in libcurl's pool
put conns.one0_upstream "$(ss -tnpH state established "( dport = :${mock0_url##*:} )" 2>/dev/null | grep -c "pid=$one0_pid," || true)"
put fd.two0_after "$(fd_count "$two0_pid")"
put conns.one0_after "$(curl -s "$one0_url/metrics" | awk '/^llmnet_open_connections/ {print $2}')"
[ -n "$portkey_pid" ] && put mem.portkey_after_kb "$(rss_kb "$portkey_pid")"

# ---------------------------------------------------------------- streaming
half=$(((S + 1) / 2))
next "streams: time to first byte, direct and through llmnet ($half s each)"
node "$bench/clients.mjs" ttfb "$mockT_url/v1/chat/completions" "$half" >"$tmp/ttfb.direct.json" 2>&1 || true
node "$bench/clients.mjs" ttfb "$oneT_url/v1/chat/completions" "$half" >"$tmp/ttfb.one.json" 2>&1 || true
put st.ttfb.direct "$(tail -n 1 "$tmp/ttfb.direct.json")"
put st.ttfb.one "$(tail -n 1 "$tmp/ttfb.one.json")"

next "streams: chunks/s relayed, $CONC concurrent streams, direct and through llmnet"
m0=$(cpu_ns "$mockS_pid")
node "$bench/clients.mjs" relay "$mockS_url/v1/chat/completions" "$CONC" "$S" >"$tmp/relay.direct.json" 2>&1 || true
m1=$(cpu_ns "$mockS_pid")
put st.relay.direct "$(tail -n 1 "$tmp/relay.direct.json")"
put st.relay.direct.mock_cpu_ns $((m1 - m0))
g0=$(cpu_ns "$oneS_pid")
m0=$(cpu_ns "$mockS_pid")
node "$bench/clients.mjs" relay "$oneS_url/v1/chat/completions" "$CONC" "$S" >"$tmp/relay.one.json" 2>&1 || true
g1=$(cpu_ns "$oneS_pid")
m1=$(cpu_ns "$mockS_pid")
put st.relay.one "$(tail -n 1 "$tmp/relay.one.json")"
put st.relay.one.gw_cpu_ns $((g1 - g0))
put st.relay.one.mock_cpu_ns $((m1 - m0))

# ---------------------------------------------------------------- memory under connections
# hold_clients NAME MODE ARGS...: starts the holder, waits for READY, leaves
# HOLD_PID set; the caller samples, then stops it with SIGTERM.
hold_clients() {
  local name=$1
  shift
  node "$bench/clients.mjs" "$@" >"$tmp/$name.out" 2>&1 &
  HOLD_PID=$!
  pids="$pids $HOLD_PID"
  local _i
  for _i in $(seq 1 900); do
    grep -q '^READY' "$tmp/$name.out" && return 0
    kill -0 "$HOLD_PID" 2>/dev/null || break
    sleep 0.1
  done
  log "$name: the holder did not get ready: $(head -c 400 "$tmp/$name.out")"
  return 0
}
release_clients() { # NAME
  kill -TERM "$HOLD_PID" 2>/dev/null || true
  wait "$HOLD_PID" 2>/dev/null || true
  put "$1.ready" "$(sed -n 's/^READY \([0-9]*\).*/\1/p' "$tmp/$1.out" | head -n 1)"
  put "$1.client" "$(grep '^{' "$tmp/$1.out" | tail -n 1)"
}

if [ "$fd_ok" = 1 ]; then
  next "memory: $IDLE_CONNS idle keep-alive connections to llmnet"
  fd0=$(fd_count "$mem1_pid")
  hold_clients idle idle 127.0.0.1 "${mem1_url##*:}" "$IDLE_CONNS"
  sleep 1
  put mem.idle10k_kb "$(rss_kb "$mem1_pid")"
  put fd.idle10k_held "$(fd_count "$mem1_pid")"
  release_clients idle
  sleep 1
  put fd.idle10k_before "$fd0"
  put fd.idle10k_after "$(fd_count "$mem1_pid")"
  put mem.idle10k_after_kb "$(rss_kb "$mem1_pid")"
else
  next "(memory with $IDLE_CONNS idle connections: skipped, ulimit -n is $fd_limit)"
fi

next "memory: $HELD_STREAMS concurrent streams through llmnet (mock chunks every 100 ms)"
fd0=$(fd_count "$mem2_pid")
ab0=$(mock_aborted_streams "$mockL_url")
hold_clients streams hold "$mem2_url/v1/chat/completions" "$HELD_STREAMS"
sleep 2
put mem.streams_kb "$(rss_kb "$mem2_pid")"
put fd.streams_held "$(fd_count "$mem2_pid")"
release_clients streams
sleep 2
put fd.streams_before "$fd0"
put fd.streams_after "$(fd_count "$mem2_pid")"
put streams.upstream_aborted $(($(mock_aborted_streams "$mockL_url") - ab0))
put streams.in_flight_after "$(curl -s "$mem2_url/metrics" | awk '/^llmnet_in_flight_requests/ {print $2}')"

# ---------------------------------------------------------------- system calls
next "system calls per proxied request: strace -c (bench/syscalls.sh, processes of its own)"
LLMNET_BIN=$bin "$bench/syscalls.sh" "$R" || log "bench/syscalls.sh failed: syscalls not measured"

# ---------------------------------------------------------------- instructions
cg_mode=${BENCH_CALLGRIND:-1}
cg_rounds=${BENCH_CALLGRIND_ROUNDS:-1}
put cg.mode "$cg_mode"
put cg.rounds "$cg_rounds"
# cg_count KEY BIN [COMPOSITION]: one count, written as KEY.rN (round N)
cg_count() {
  local out
  if out=$(CG_COMPOSITION=${3:-} "$bench/callgrind.sh" "$2" 2>"$tmp/$1.cg.err"); then
    put "$1.r$round" "$(echo "$out" | awk '{print $1}')"
    log "  $1 (round $round): $out"
  else
    log "callgrind failed for $1: $(tail -c 300 "$tmp/$1.cg.err")"
  fi
}
if [ "$cg_mode" = 0 ]; then
  next "(instructions per request: BENCH_CALLGRIND=0)"
elif ! command -v valgrind >/dev/null 2>&1; then
  put cg.unavailable "valgrind_is_not_installed"
  next "(instructions per request: valgrind is not installed)"
else
  next "instructions per request: callgrind, llmnet${base_bin:+ and the BASE ($base_rev) build} (bench/callgrind.sh)"
  # the two builds alternated, round after round (a count varies by ~1-2%
  # from run to run: how events batch under valgrind depends on timing)
  for round in $(seq 1 "$cg_rounds"); do
    cg_count cg.one "$bin"
    [ -z "$base_bin" ] || cg_count cg.base.one "$base_bin"
    if [ "$cg_mode" = 2 ]; then
      cg_count cg.two "$bin" "$bench/two-hop.json"
      [ -z "$base_bin" ] || cg_count cg.base.two "$base_bin" "$bench/two-hop.json"
    fi
  done
fi

# ---------------------------------------------------------------- routing
next "routing: sessions, pins, decision cache, early decision (bench/routing.sh)"
routing_rc=0
BENCH_SECONDS=$S LLMNET_BIN=$bin "$bench/routing.sh" "$R" || routing_rc=$?

# ---------------------------------------------------------------- doors
next "doors: /v1/responses and /v1/messages against chat completions (bench/doors.sh)"
doors_rc=0
BENCH_SECONDS=$S LLMNET_BIN=$bin "$bench/doors.sh" "$R" || doors_rc=$?

# ---------------------------------------------------------------- response cache
next "cache: a response cache hit against a 1-hop request (bench/cache.sh)"
cache_rc=0
BENCH_SECONDS=$S LLMNET_BIN=$bin "$bench/cache.sh" "$R" || cache_rc=$?

put machine.busy_after "$(machine_busy)"

# ---------------------------------------------------------------- health at the end
for n in $gw_names; do
  eval "p=\$${n}_pid"
  if ! kill -0 "$p" 2>/dev/null; then
    put "crash.$n" 1
    log "llmnet ($n) is no longer running: $(tail -c 600 "$tmp/$n.log")"
  fi
  # warnings and errors llmnet logged during the run (--log-level warn)
  eval "w0=\$warn0_$n"
  w1=$(warn_lines "$n")
  put "log.$n" $((w1 - w0))
  put "gone.$n" "$(gone_lines "$n")"
  if [ "$w1" -ne "$w0" ]; then
    grep -E ' (warn|error) ' "$tmp/$n.log" | grep -v 'status=499' | tail -n +$((w0 + 1)) >"$tmp/$n.warnings"
    log "llmnet ($n) logged $((w1 - w0)) warnings/errors during the run; the first:"
    head -n 3 "$tmp/$n.warnings" >&2
    put "logline.$n" "$(head -n 1 "$tmp/$n.warnings" | cut -c1-300)"
  fi
done

# ---------------------------------------------------------------- report
mkdir -p "$bench/results"
node "$bench/report.mjs" "$R" >"$tmp/latest.md"
cp "$tmp/latest.md" "$bench/results/latest.md"
cat "$tmp/latest.md"
log "written to bench/results/latest.md"
if [ "$routing_rc" != 0 ]; then
  log "ERROR: the routing scenarios failed (a conversation made other than one router call, or a scenario"
  log "       could not run): see the routing section above and the lines of bench/routing.sh"
  exit 1
fi
if [ "$cache_rc" != 0 ]; then
  log "ERROR: the response cache scenario failed (a hit called upstream, or llmnet stopped): see the lines"
  log "       of bench/cache.sh"
  exit 1
fi
if [ "$doors_rc" != 0 ]; then
  log "ERROR: the doors scenarios could not run (a door answered other than 200, or llmnet stopped):"
  log "       see the doors section above and the lines of bench/doors.sh"
  exit 1
fi
