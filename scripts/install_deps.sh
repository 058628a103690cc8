#!/usr/bin/env bash
# Installs the Debian packages neat.cpp needs to build, test and run its out-of-the-box demo.
# Called by `make` / `make test` when a header is missing; safe to run again.
set -eu
packages="g++ make doctest-dev libstb-dev zlib1g-dev dataset-fashion-mnist"
if [ "${1:-}" = "--bench" ]; then packages="$packages libopenblas0-openmp libopenblas-dev"; fi
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "make deps: need root to install: $packages" >&2
    echo "           run: sudo apt-get update && sudo apt-get install -y $packages" >&2
    exit 1
  fi
else SUDO=""; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q $packages
