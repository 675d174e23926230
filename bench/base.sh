#!/usr/bin/env bash
# make bench: builds llmnet at the commit before issue 17's work (the BASE,
# bd81caa; BENCH_BASE_REV overrides it) once, into a cache folder outside the
# source tree, and prints the binary's path. bench/run.sh runs a mock from it
# (the mock shares llmnet's HTTP server code, so a faster server makes the
# current mock faster too: the BASE mock is the fixed yardstick) and, with
# BENCH_CALLGRIND=1, counts the BASE's instructions per request.
#   bench/base.sh            prints the binary (building it the first time)
#   BENCH_BASE_REV=REV       another commit
#   BENCH_CACHE=DIR          the cache (default ${XDG_CACHE_HOME:-~/.cache}/llmnet-bench)
# The source is the commit's tree from `git archive` (no worktree is
# registered in the repository); cmake RelWithDebInfo, tests off. On failure
# (not a git checkout, unknown commit, build error) it says why on stderr and
# exits 1; the build log stays in the cache folder.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
rev=${BENCH_BASE_REV:-bd81caa}
cache=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/llmnet-bench}
say() { printf 'bench/base.sh: %s\n' "$*" >&2; }

command -v git >/dev/null 2>&1 || { say "git is not installed"; exit 1; }
git -C "$root" rev-parse --git-dir >/dev/null 2>&1 || { say "$root is not a git checkout"; exit 1; }
hash=$(git -C "$root" rev-parse --verify --quiet "$rev^{commit}") ||
  { say "commit $rev is not in this repository (a shallow clone?)"; exit 1; }
dir=$cache/$hash
if [ -x "$dir/build/llmnet" ]; then
  echo "$dir/build/llmnet"
  exit 0
fi
for t in cmake cc tar; do command -v "$t" >/dev/null 2>&1 || { say "$t is not installed"; exit 1; }; done
mkdir -p "$cache"
# build in a fresh folder, then rename: a half-built cache is never reused
work=$(mktemp -d "$cache/.build-${hash:0:12}.XXXXXX")
trap 'rm -rf "$work"' EXIT
say "building ${hash:0:12} ($rev) into $dir (once; the log: $dir.log)"
mkdir -p "$work/src"
{
  git -C "$root" archive "$hash" | tar -x -C "$work/src" &&
    cmake -S "$work/src" -B "$work/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLN_TESTS=OFF &&
    cmake --build "$work/build" -j"$(nproc)" --target llmnet
} >"$dir.log" 2>&1 || { say "the build failed: $(tail -n 5 "$dir.log" | tr '\n' ' ')"; exit 1; }
[ -x "$work/build/llmnet" ] || { say "the build made no llmnet binary (see $dir.log)"; exit 1; }
rm -rf "$dir"
mv "$work" "$dir"
trap - EXIT
echo "$dir/build/llmnet"
