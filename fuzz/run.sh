#!/bin/sh
# Builds the libFuzzer harnesses in build-fuzz (clang, ASan+UBSan) and runs
# each for SECONDS (default 20) on a working copy of its seed corpus, then
# prints one line per target. Exits non-zero when any harness crashed,
# leaked, timed out or ran out of memory.
#
#   fuzz/run.sh [SECONDS] [libFuzzer flags...]
#   FUZZ_TARGETS="http sse" fuzz/run.sh 3600 -jobs=8 -workers=8
#
# The corpus grows in build-fuzz/corpus/<target> (kept between runs; the
# seeds in fuzz/corpus/ are only copied in). Crashing inputs go to
# build-fuzz/artifacts/<target>/, logs to build-fuzz/logs/<target>/.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-fuzz"
seconds=${1:-20}
[ $# -gt 0 ] && shift
targets=${FUZZ_TARGETS:-"sse cond config http json_check router responses anthropic json_scan"}

case "$seconds" in *[!0-9]* | "") echo "usage: fuzz/run.sh [SECONDS] [libFuzzer flags...]" >&2; exit 2 ;; esac

cmake -S "$root" -B "$build" -DLLN_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
build_targets=""
for t in $targets; do build_targets="$build_targets fuzz_$t"; done
# shellcheck disable=SC2086
cmake --build "$build" -j "$(nproc)" --target $build_targets >/dev/null

# Longest input worth trying per target: a few times what reaches the
# interesting limits (fuzz_http's server refuses headers over 2 KiB and
# bodies over 4 KiB; the example compositions are under 2 KiB).
max_len() {
  case "$1" in
  sse) echo 4096 ;;
  cond) echo 256 ;;
  config) echo 8192 ;;
  http) echo 8192 ;;
  json_check) echo 4096 ;;
  json_scan) echo 4096 ;;
  router) echo 2048 ;;
  responses) echo 8192 ;;
  anthropic) echo 4096 ;;
  *) echo 4096 ;;
  esac
}

stat_of() { sed -n "s/^stat::$1: *//p" "$2" | tail -n 1; }

failed=0
for t in $targets; do
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts/$t"
  logs="$build/logs/$t"
  mkdir -p "$corpus" "$artifacts" "$logs"
  cp -n "$root/fuzz/corpus/$t/"* "$corpus/" 2>/dev/null || true
  dict=""
  [ -f "$root/fuzz/dict/$t.dict" ] && dict="-dict=$root/fuzz/dict/$t.dict"
  before=$(find "$artifacts" -type f | wc -l)
  log="$logs/fuzz.log"
  rc=0
  # -jobs/-workers write fuzz-N.log into the working directory: the logs dir.
  # shellcheck disable=SC2086
  (cd "$logs" && rm -f fuzz-*.log &&
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
      UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
      "$build/fuzz/fuzz_$t" "$corpus" $dict -max_len="$(max_len "$t")" -max_total_time="$seconds" \
      -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts/" "$@" </dev/null >"$log" 2>&1) || rc=$?
  after=$(find "$artifacts" -type f | wc -l)
  # With -jobs each job logs to fuzz-N.log (and fuzz.log repeats them):
  # runs add up, exec/s is the mean of the processes.
  all_logs=$(ls "$logs"/fuzz-*.log 2>/dev/null || echo "$log")
  # shellcheck disable=SC2086
  runs=$(cat $all_logs | sed -n 's/^stat::number_of_executed_units: *//p' | awk '{s += $1} END {print s + 0}')
  # shellcheck disable=SC2086
  speed=$(cat $all_logs | sed -n 's/^stat::average_exec_per_sec: *//p' |
    awk '{s += $1; n++} END {printf "%d", n ? s / n : 0}')
  # shellcheck disable=SC2086
  cov=$(cat $all_logs | grep -o 'cov: [0-9]* ft: [0-9]*' | tail -n 1 || true)
  units=$(find "$corpus" -type f | wc -l)
  rss=$(stat_of peak_rss_mb "$log")
  if [ "$rc" -ne 0 ] || [ "$after" -gt "$before" ]; then
    failed=1
    newest=$(ls -t "$artifacts" | head -n 1)
    printf 'fuzz_%-7s FAILED (exit %s) %s runs, %s exec/s, %s; input: %s; log: %s\n' "$t" "$rc" "$runs" "$speed" \
      "${cov:-cov: ?}" "${newest:+$artifacts/$newest}" "$log"
  else
    printf 'fuzz_%-7s ok %ss: %s runs, %s exec/s, %s, corpus %s inputs, peak rss %s MB\n' "$t" "$seconds" "$runs" \
      "$speed" "${cov:-cov: ?}" "$units" "${rss:-?}"
  fi
done
exit "$failed"
