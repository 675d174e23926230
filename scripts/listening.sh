# Sourced by the scripts that start llmnet or llmnet mock in the background.
# listening_url FILE: waits (up to 10 s) for the "listening on http://..."
# line the process writes to FILE and prints the URL; on a timeout prints
# FILE to stderr and fails.
listening_url() {
  for _ in $(seq 1 200); do
    url=$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$1" | head -n 1)
    [ -n "$url" ] && { echo "$url"; return 0; }
    sleep 0.05
  done
  echo "$1: no 'listening on' line; the process wrote:" >&2
  cat "$1" >&2
  return 1
}
