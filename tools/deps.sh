#!/usr/bin/env bash
# Make sure the build dependencies are present; install them with apt-get
# when running as root on Debian/Ubuntu, otherwise say what is missing.
# Usage: tools/deps.sh [extra Debian packages...]
set -euo pipefail
need=()
command -v cmake >/dev/null || need+=(cmake)
command -v cc >/dev/null || need+=(gcc)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v curl >/dev/null || need+=(curl ca-certificates)
# Unicode's NFC conformance file, read by tests/unit/test_bpe_unicode.c
[ -f /usr/share/unicode/NormalizationTest.txt.bz2 ] || need+=(unicode-data)
command -v bzcat >/dev/null || need+=(bzip2)
if command -v pkg-config >/dev/null; then
  pkg-config --exists libzstd || need+=(libzstd-dev)
  pkg-config --exists cmocka || need+=(libcmocka-dev)
else
  need+=(libzstd-dev libcmocka-dev)
fi
for p in "$@"; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "qlm: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "qlm: missing build dependencies: ${need[*]}" >&2
  echo "     install them with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
