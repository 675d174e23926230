#!/bin/sh
# uninstall.sh MANIFEST: `make uninstall`. Removes exactly the files listed in
# MANIFEST (the install_manifest.txt that `cmake --install` wrote), under
# $DESTDIR when it is set, as the install was; then the directories of llmnet's
# own that this leaves empty (share/llmnet/..., share/doc/llmnet/..., etc/llmnet).
# Shared directories (bin, man/man1, ...) are left in place.
set -eu
manifest=${1:?usage: uninstall.sh BUILD/install_manifest.txt}
if [ ! -f "$manifest" ]; then
  echo "llmnet uninstall: $manifest does not exist: nothing was installed from this build (make install writes it)" >&2
  exit 1
fi
destdir=${DESTDIR:-}
dirs=""
while IFS= read -r f || [ -n "$f" ]; do
  [ -n "$f" ] || continue
  if [ -e "$destdir$f" ] || [ -L "$destdir$f" ]; then
    echo "-- Removing: $destdir$f"
    rm -f -- "$destdir$f"
  fi
  dirs="$dirs
$(dirname -- "$f")"
done <"$manifest"
# deepest first, so a parent is tried after its children
echo "$dirs" | sort -ru | while IFS= read -r d; do
  while [ -n "$d" ] && [ "$d" != / ]; do
    case "/$d/" in */llmnet/*) ;; *) break ;; esac
    rmdir -- "$destdir$d" 2>/dev/null || break
    echo "-- Removing directory: $destdir$d"
    d=$(dirname -- "$d")
  done
done
