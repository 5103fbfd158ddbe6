#!/usr/bin/env bash
# Puts the kernels' native self-test (native/test/cuda_selftest.cpp: every CUDA kernel against its CPU reference,
# no JVM) into .devpack/selftest/, after ../shared/device/devpack.sh, for `device_session.sh selftest` on a GPU
# machine: the program (0.3 MB) and the libgomp its libraries need; the two libraries it links, libsevnet.so and
# libsevnet_cuda.so, are taken from the devpack's project-classes.jar there (the same build: 14 MB less to carry, and
# the carry limit is 64 MiB). compute-sanitizer runs a native program in seconds where a JVM under it may not finish
# starting.
#   bash bench/pack_selftest.sh        (SEVNET_BUILD_DIR: the Maven build folder, default target)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${SEVNET_BUILD_DIR:-target}/cmake-build
if [[ ! -f $B/CMakeCache.txt ]]; then
  echo "no CMake build in $B: run mvn -B package -DskipTests first (or set SEVNET_BUILD_DIR)" >&2
  exit 2
fi
if [[ ! -d .devpack ]]; then
  echo "no .devpack: run ../shared/device/devpack.sh first" >&2
  exit 2
fi
cmake --build "$B" --target sevnet_cuda_selftest
mkdir -p .devpack/selftest
cp "$B/sevnet_cuda_selftest" .devpack/selftest/
gomp=$(gcc -print-file-name=libgomp.so.1)
[[ -f $gomp ]] && cp -L "$gomp" .devpack/selftest/
du -sh .devpack/selftest
