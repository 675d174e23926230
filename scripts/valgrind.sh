#!/bin/sh
# make valgrind: every unit test, then llmnet and llmnet mock serving real
# traffic (plain, streamed, an error), all under valgrind; any memory error
# or leak fails the run.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
vg="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect"
tmp=$(mktemp -d)
cleanup() {
  status=$?
  for pid in $mock_pid $llmnet_pid; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
mock_pid=""
llmnet_pid=""

failed=0
for t in "$build"/tests/test_*; do
  if ! $vg "$t" >"$tmp/unit.log" 2>&1; then
    echo "valgrind: $(basename "$t") failed:"
    tail -n 40 "$tmp/unit.log"
    failed=1
  fi
done

. "$root/scripts/listening.sh"

$vg "$build/llmnet" mock --port 0 --rules "$root/examples/mock-rules.json" >"$tmp/mock.out" 2>"$tmp/mock.err" &
mock_pid=$!
mock_url=$(listening_url "$tmp/mock.out")
LLMNET_MOCK_URL=$mock_url $vg "$build/llmnet" "$root/examples/offline-demo.json" --port 0 --log-level warn \
  >"$tmp/llmnet.out" 2>"$tmp/llmnet.err" &
llmnet_pid=$!
url=$(listening_url "$tmp/llmnet.out")
for body in '{"messages":[{"role":"user","content":"Write a haiku about programming"}]}' \
  '{"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"python code"}]}' \
  '{"messages":[]}' '{not json'; do
  curl -sS -o /dev/null -X POST "$url/v1/chat/completions" -H 'Content-Type: application/json' -d "$body"
done
curl -sS -o /dev/null "$url/metrics"
kill -TERM "$llmnet_pid"
wait "$llmnet_pid" || { echo "valgrind: llmnet exited $? (99 = memory errors or leaks):"; cat "$tmp/llmnet.err"; failed=1; }
kill -TERM "$mock_pid"
wait "$mock_pid" || { echo "valgrind: llmnet mock exited $?:"; cat "$tmp/mock.err"; failed=1; }
mock_pid=""
llmnet_pid=""
[ "$failed" -eq 0 ] && echo "valgrind: clean (unit tests, llmnet and llmnet mock under traffic)"
exit "$failed"
