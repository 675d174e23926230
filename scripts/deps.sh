#!/bin/sh
# Installs the Debian packages llmnet needs to build and test, when missing.
# Runs apt-get only when something is absent (as root, or through sudo).
#   scripts/deps.sh          what every target needs (make, make demo, ...)
#   scripts/deps.sh deb      and what `make deb` needs: dpkg-shlibdeps, lintian
#   scripts/deps.sh test     and what the install and package tests need:
#                            lintian, dpkg-dev, man-db (man), adduser (postinst)
set -eu

packages="build-essential cmake pkg-config libuv1-dev libcurl4-openssl-dev libcjson-dev node-llhttp
libcmocka-dev curl nodejs npm libclang-rt-14-dev clang graphviz libhiredis-dev redis-server chromium
prometheus valgrind libwebsockets-dev"
for group in "$@"; do
  case "$group" in
  deb) packages="$packages dpkg-dev lintian" ;;
  test) packages="$packages dpkg-dev lintian man-db adduser" ;;
  *)
    echo "scripts/deps.sh: unknown group \"$group\" (deb or test)" >&2
    exit 2
    ;;
  esac
done

missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# nodejs/npm may come from outside Debian (nvm, NodeSource): a working node
# and npm on PATH are as good as the packages.
case "$missing" in *nodejs*) command -v node >/dev/null 2>&1 && missing=$(echo "$missing" | sed 's/ nodejs//') ;; esac
case "$missing" in *npm*) command -v npm >/dev/null 2>&1 && missing=$(echo "$missing" | sed 's/ npm//') ;; esac
# The test group renders deploy/kubernetes with kubectl (Debian's kubernetes-client); any kubectl on PATH will do.
case " $* " in *" test "*) command -v kubectl >/dev/null 2>&1 || missing="$missing kubernetes-client" ;; esac

[ -z "$missing" ] && exit 0

echo "llmnet: installing Debian packages:$missing" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
