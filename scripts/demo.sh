#!/bin/sh
# make demo: the seed's pipeline (examples/offline-demo.json, the topology of
# examples/openrouter-pipeline.json) against `llmnet mock`, with the seed
# document's two requests, then a follow-up turn of the first conversation,
# answered by the same handler without a router call (its session is pinned).
# No API key, no network: everything is on loopback.
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

# ask BODY_FILE: sends a chat completion, prints its route, how the routing
# was decided (the llmnet trace), the answer, and how many router calls the
# mock received for it (its log of requests: routing prompts carry llmnet's
# "Targets:" list).
ask() {
  curl -sS -X DELETE "$mock_url/mock/requests" >/dev/null
  curl -sS -D "$tmp/headers" -X POST "$url/v1/chat/completions" \
    -H "Content-Type: application/json" -d @"$1" >"$tmp/body"
  curl -sS "$mock_url/mock/requests" >"$tmp/upstream"
  route=$(tr -d '\r' <"$tmp/headers" | sed -n 's/^x-llmnet-route: //Ip')
  status=$(head -n 1 "$tmp/headers" | cut -d' ' -f2)
  echo "  status:  $status"
  echo "  route:   $route"
  node -e '
    const fs = require("fs");
    const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    if (r.error) { console.log("  error:   " + r.error.message); process.exit(1); }
    const up = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
    const routing = (e) => (e.body.messages || []).some((m) =>
      m.role === "system" && typeof m.content === "string" && /(^|\n)Targets:\n/.test(m.content));
    const routerCalls = up.filter(routing).length;
    const ext = r.llmnet || {};
    let decided = ext.decided;
    for (const h of ext.hops || []) if (!decided && h.decided) decided = h.decided;
    const calls = routerCalls === 1 ? "1 router call" : routerCalls ? routerCalls + " router calls" : "no router call";
    console.log("  decided: " + (decided || "none") + " (" + calls + ")");
    console.log("  model:   " + r.model);
    console.log("  answer:  " + r.choices[0].message.content);
    console.log("  tokens:  " + r.usage.total_tokens + " (summed over " + up.length + " upstream call" + (up.length === 1 ? "" : "s") + ")");
    fs.writeFileSync(process.argv[3], JSON.stringify({ routerCalls, decided: decided || "none", answer: r.choices[0].message.content }));
  ' "$tmp/body" "$tmp/upstream" "$tmp/last"
  echo
}
# body FILE MESSAGE...: a request body whose messages alternate user,
# assistant, user... (a conversation so far).
body() {
  out=$1
  shift
  node -e '
    const msgs = process.argv.slice(2).map((content, i) => ({ role: i % 2 ? "assistant" : "user", content }));
    require("fs").writeFileSync(process.argv[1], JSON.stringify({ model: "llmnet", messages: msgs }));
  ' "$out" "$@"
}
last() { node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).'"$1" "$tmp/last"; }

echo "> Write a haiku about programming"
body "$tmp/q1.json" "Write a haiku about programming"
ask "$tmp/q1.json"
haiku=$(last answer)

echo "> How do I reverse a linked list in Python?"
body "$tmp/q2.json" "How do I reverse a linked list in Python?"
ask "$tmp/q2.json"

# The haiku conversation goes on: the whole history, as an SDK sends it. Its
# opening (the first user message) is the same, so it is the same session
# (no x-session-id needed: its fingerprint), pinned to creative-handler by
# the first request: no router call. ("debugging" alone would have sent a
# fresh request to technical-handler: the mock's router reads "bug".)
echo "> (the haiku conversation, turn 2) Now make it about debugging"
body "$tmp/q3.json" "Write a haiku about programming" "$haiku" "Now make it about debugging"
ask "$tmp/q3.json"
calls=$(last routerCalls)
decided=$(last decided)
if [ "$calls" != 0 ] || [ "$decided" != pin ]; then
  echo "demo FAILED: the follow-up turn was decided by \"$decided\" with $calls router call(s); expected a pin and none" >&2
  exit 1
fi
echo "demo done: the two seed requests were routed by the router model; the follow-up turn stayed"
echo "on its conversation's handler (decided: pin) without a router call."
