#!/bin/sh
# make demo: the seed's pipeline (examples/offline-demo.json, the topology of
# examples/openrouter-pipeline.json) against `llmnet mock`, with the seed
# document's two requests. No API key, no network: everything is on loopback.
set -eu
bin=${1:-build/llmnet}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
mock_pid=""
llmnet_pid=""
cleanup() {
  [ -n "$llmnet_pid" ] && kill "$llmnet_pid" 2>/dev/null && wait "$llmnet_pid" 2>/dev/null
  [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

. "$root/scripts/listening.sh"

"$bin" mock --port 0 --rules "$root/examples/mock-rules.json" >"$tmp/mock.out" 2>&1 &
mock_pid=$!
mock_url=$(listening_url "$tmp/mock.out")
echo "llmnet mock (the upstream) on $mock_url"

LLMNET_MOCK_URL=$mock_url "$bin" "$root/examples/offline-demo.json" --port 0 --log-level warn \
  >"$tmp/llmnet.out" 2>&1 &
llmnet_pid=$!
url=$(listening_url "$tmp/llmnet.out")
echo "llmnet (examples/offline-demo.json) on $url"
echo

ask() {
  echo "> $1"
  curl -sS -D "$tmp/headers" -X POST "$url/v1/chat/completions" \
    -H "Content-Type: application/json" \
    -d "{\"model\": \"llmnet\", \"messages\": [{\"role\": \"user\", \"content\": \"$1\"}]}" >"$tmp/body"
  route=$(tr -d '\r' <"$tmp/headers" | sed -n 's/^x-llmnet-route: //Ip')
  status=$(head -n 1 "$tmp/headers" | cut -d' ' -f2)
  echo "  status: $status"
  echo "  route:  $route"
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    if (r.error) { console.log("  error:  " + r.error.message); process.exit(1); }
    console.log("  model:  " + r.model);
    console.log("  answer: " + r.choices[0].message.content);
    console.log("  tokens: " + r.usage.total_tokens + " (summed over " + r.llmnet.hops.length + " upstream calls)");
  ' "$tmp/body"
  echo
}

ask "Write a haiku about programming"
ask "How do I reverse a linked list in Python?"
echo "demo done: both requests were routed by the router model and answered."
