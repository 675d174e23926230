#!/bin/sh
# deploy/base/build-base.sh: makes the debian:bookworm-slim base image the
# Dockerfile starts from, when no image registry is reachable. It builds a
# minimal Debian bookworm tree from Debian's own mirror with mmdebstrap
# (variant minbase, apt's caches and docs left out as the slim image does) and
# imports it under the name debian:bookworm-slim into podman, or into docker
# when a Docker engine answers. Nothing is done when the image already exists.
#   deploy/base/build-base.sh            podman (or docker), mirror deb.debian.org
#   ENGINE=docker deploy/base/build-base.sh
#   MIRROR=http://deb.debian.org/debian deploy/base/build-base.sh
#   FORCE=1 deploy/base/build-base.sh    rebuild even when the image exists
# Needs mmdebstrap (Debian package mmdebstrap) and root (or a user with subuids).
set -eu

image=${IMAGE:-docker.io/library/debian:bookworm-slim}
mirror=${MIRROR:-http://deb.debian.org/debian}
suite=${SUITE:-bookworm}

if [ -z "${ENGINE:-}" ]; then
  if command -v podman >/dev/null 2>&1; then
    ENGINE=podman
  elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    ENGINE=docker
  else
    echo "build-base.sh: neither podman nor a running Docker engine was found" >&2
    exit 1
  fi
fi

if [ -z "${FORCE:-}" ] && $ENGINE image inspect "$image" >/dev/null 2>&1; then
  echo "build-base.sh: $image already exists in $ENGINE" >&2
  exit 0
fi
command -v mmdebstrap >/dev/null 2>&1 || {
  echo "build-base.sh: mmdebstrap is missing (apt-get install mmdebstrap)" >&2
  exit 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
# shellcheck disable=SC2016 # $1 is the hook's argument, expanded by mmdebstrap
# The slim image's trims: no man pages, docs or locales beyond what dpkg
# needs, and empty apt lists (an image's build runs apt-get update itself).
mmdebstrap --quiet --variant=minbase --mode=auto --format=tar \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
  "$suite" "$tmp/rootfs.tar" "$mirror" >&2
$ENGINE import --change 'CMD ["bash"]' "$tmp/rootfs.tar" "$image" >/dev/null
echo "build-base.sh: imported $image into $ENGINE ($(du -h "$tmp/rootfs.tar" | cut -f1) tar)" >&2
