#!/bin/sh
# Installs the Debian packages llmnet needs to build and test, when missing.
# Runs apt-get only when something is absent (as root, or through sudo).
# Packages come in groups; each make target asks for the groups it needs, so
# `make` and `make demo` install only what building and the demo need:
#   scripts/deps.sh [build]      build the binary and the unit tests: the compiler,
#                                cmake, libuv, libcurl, cJSON, node-llhttp, hiredis,
#                                libwebsockets, cmocka; Node.js (the integration
#                                tests' runner, node-llhttp's dependency) and curl
#   scripts/deps.sh demo         what `make demo` runs: curl, Node.js
#   scripts/deps.sh test         what `make test` adds: npm (the pinned SDKs),
#                                redis-server, promtool (prometheus), Chromium
#                                (the status page), Graphviz (graph --format svg),
#                                haproxy (the scale-out test), kubernetes-client
#                                (kubectl kustomize; unless a kubectl is on PATH), and
#                                for the install and package tests lintian, dpkg-dev,
#                                man-db, adduser; strace and h2load (nghttp2-client)
#                                for the bench script test
#   scripts/deps.sh deb          what `make deb` needs: dpkg-shlibdeps, lintian
#   scripts/deps.sh valgrind     valgrind
#   scripts/deps.sh fuzz         clang and its libFuzzer runtime
#   scripts/deps.sh containers   what `make test-containers` needs: podman, runc,
#                                podman-compose, mmdebstrap (the base image), the
#                                CNI DNS plugin (service names), uidmap,
#                                slirp4netns, fuse-overlayfs
# Several groups may be named at once (scripts/deps.sh build test).
set -eu

build="build-essential cmake pkg-config libuv1-dev libcurl4-openssl-dev libcjson-dev node-llhttp
libhiredis-dev libwebsockets-dev libcmocka-dev nodejs curl"
packages=""
[ "$#" -gt 0 ] || set -- build
for group in "$@"; do
  case "$group" in
  build) packages="$packages $build" ;;
  demo) packages="$packages curl nodejs" ;;
  test) packages="$packages npm strace nghttp2-client redis-server prometheus chromium graphviz haproxy dpkg-dev lintian man-db adduser" ;;
  deb) packages="$packages dpkg-dev lintian" ;;
  valgrind) packages="$packages valgrind" ;;
  fuzz) packages="$packages clang libclang-rt-14-dev" ;;
  containers)
    packages="$packages podman runc podman-compose mmdebstrap golang-github-containernetworking-plugin-dnsname
uidmap slirp4netns fuse-overlayfs curl nodejs"
    ;;
  *)
    echo "scripts/deps.sh: unknown group \"$group\" (build, demo, test, deb, valgrind, fuzz or containers)" >&2
    exit 2
    ;;
  esac
done

missing=""
for p in $packages; do
  case " $missing " in *" $p "*) continue ;; esac
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
