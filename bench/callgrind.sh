#!/usr/bin/env bash
# Instructions per proxied 1-hop request (docs/BENCHMARKS.md, "Profile and
# fixes"): llmnet with one worker under callgrind against `llmnet mock`
# (0 ms), 200 warm-up requests, counters zeroed, 2,000 requests from
# `h2load --h1 -c4`, counters dumped. Prints the instructions per request.
# Counts do not depend on how busy the machine is.
#   bench/callgrind.sh [BIN]      (default build/llmnet; needs valgrind, h2load)
#   CG_COMPOSITION=bench/two-hop.json bench/callgrind.sh   another composition
#                                 (default bench/one-hop.json)
#   CG_DOOR=responses|messages    the same question through that door, "model"
#                                 the node "chat" (default chat: /v1/chat/completions)
#   CG_OUT=FILE                   keep the callgrind output (for callgrind_annotate)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build/llmnet}
WARMUP=200
REQUESTS=2000
. "$root/scripts/listening.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/llmnet-cg.XXXXXX")
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
# the 1-hop composition (or CG_COMPOSITION) with one worker
sed 's|"architecture"|"server": { "workers": 1 },\n  "architecture"|' "${CG_COMPOSITION:-$root/bench/one-hop.json}" >"$tmp/one-hop.json"
"$bin" mock --port 0 --bind-addr 127.0.0.1 --rules "$root/examples/mock-rules.json" >"$tmp/mock.log" 2>&1 &
pids="$pids $!"
mock_url=$(listening_url "$tmp/mock.log")
LLMNET_MOCK_URL=$mock_url valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
  "$bin" "$tmp/one-hop.json" --port 0 --bind-addr 127.0.0.1 --log-level warn >"$tmp/llmnet.log" 2>&1 &
lpid=$!
pids="$pids $lpid"
url=""
for _ in $(seq 1 600); do # valgrind starts slowly
  url=$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$tmp/llmnet.log" | head -n 1)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$tmp/llmnet.log" >&2; exit 1; }
q='How do I reverse a linked list in python?'
case ${CG_DOOR:-chat} in
chat) path=/v1/chat/completions body='{"model":"llmnet","messages":[{"role":"user","content":"'$q'"}]}' ;;
chat-node) path=/v1/chat/completions body='{"model":"chat","messages":[{"role":"user","content":"'$q'"}]}' ;;
responses) path=/v1/responses body='{"model":"chat","input":"'$q'"}' ;;
messages) path=/v1/messages body='{"model":"chat","max_tokens":1024,"messages":[{"role":"user","content":"'$q'"}]}' ;;
*) echo "CG_DOOR: chat, chat-node, responses or messages" >&2; exit 2 ;;
esac
printf '%s\n' "$body" >"$tmp/body.json"
load() {
  h2load --h1 -c4 -n"$1" -d "$tmp/body.json" -H 'Content-Type: application/json' \
    -H 'Authorization: Bearer mock-key' -H 'anthropic-version: 2023-06-01' "$url$path" >"$tmp/h2load.log" 2>&1
  grep -q "$1 succeeded" "$tmp/h2load.log" || { cat "$tmp/h2load.log" >&2; exit 1; }
}
load "$WARMUP"
callgrind_control -z "$lpid" >/dev/null 2>&1
load "$REQUESTS"
callgrind_control -d "$lpid" >/dev/null 2>&1
total=$(sed -n 's/^summary: //p' "$tmp/cg.out.1")
[ -z "${CG_OUT:-}" ] || cp "$tmp/cg.out.1" "$CG_OUT"
echo "$((total / REQUESTS)) instructions per request ($total over $REQUESTS)"
