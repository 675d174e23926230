#!/bin/sh
# A post hook in transform mode (examples/hooks.json): its stdout replaces
# the answer. It reads the payload on stdin and prints the answer
# ("output") in capitals, with a JSON object {"output": ...}.
exec node -e '
let s = "";
process.stdin.on("data", (d) => (s += d)).on("end", () => {
  const p = JSON.parse(s);
  process.stdout.write(JSON.stringify({ output: p.output.toUpperCase() }));
});'
