#!/bin/sh
# A pre hook (examples/hooks.json): reads the hook payload (JSON) on stdin
# and refuses requests that mention a password, by exiting non-zero.
# llmnet runs this file directly, never through a shell command line, so
# nothing in the user's text is interpreted.
payload=$(cat)
case "$payload" in
  *password*|*PASSWORD*)
    echo "the request mentions a password" >&2
    exit 1 ;;
esac
exit 0
