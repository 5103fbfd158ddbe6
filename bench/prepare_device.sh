#!/usr/bin/env bash
# Everything a GPU session needs before its first `run` call, in one command (on the build machine, project root):
# the jar and test classes, the PNG frame fixtures `device_session.sh cli` predicts on, the devpack
# (../shared/device/devpack.sh) trimmed to the 64 MiB the device tool carries (no FFmpeg jar: the frame folders stand in
# for videos; none of JCuda's natives but its driver binding, which CubinKernelBench uses), and the kernels' native
# self-test (bench/pack_selftest.sh). Then: run with carry [".devpack", "gpu-fixtures"] (bench/RESULTS.md has the calls).
#   bash bench/prepare_device.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -q package -DskipTests
rm -rf gpu-fixtures
java -cp target/sevnet.jar:target/test-classes dev.sevnet.bench.GpuFrameFixtures gpu-fixtures/frames
../shared/device/devpack.sh
rm -f .devpack/lib/ffmpeg-*.jar
for j in .devpack/lib/jcuda-natives-*.jar; do
  [[ -f $j ]] && zip -q -d "$j" 'lib/libJNvPTXCompiler*' 'lib/libJNvrtc*' 'lib/libJCudaRuntime*' || true
done
bash bench/pack_selftest.sh
total=$(du -cb .devpack gpu-fixtures | tail -1 | cut -f1)
echo "to carry: $((total / 1048576)) MiB of 64 (.devpack, gpu-fixtures)"
if (( total > 64 * 1048576 )); then
  echo "over the device tool's 64 MiB: trim .devpack/lib" >&2
  exit 1
fi
