#!/usr/bin/env bash
# Load benchmark of `sevnet serve` on the CPU, side by side with a PyTorch serving peer: latency
# p50/p99 and throughput for 1, 4 and 16 concurrent clients, each a closed loop (one request in
# flight, the next sent when the answer comes) POSTing to /v1/predict over loopback.
#
#   bench/serve_load.sh [CHECKPOINT_DIR] [PYTHON_WITH_TORCH]
#
# Rounds, one server at a time (they would compete for the same cores):
#   sevnet mp4  — synthetic mp4 videos (decode + inference + JSON)
#   sevnet npy  — the same clip shape as decoded float32 .npy arrays (application/x-npy)
#   torch  npy  — bench/reference/serve_torch.py: the same checkpoint in the reference PyTorch SEVNet,
#                 the same dynamic batching (max batch, max delay), the same .npy bodies
# The npy rounds compare serving the model; the mp4 round adds sevnet's FFmpeg decode. Without a
# checkpoint it trains one for a single epoch on the synthetic dataset (MODEL, FRAMES, SIZE; default the
# main job's sevnet-g2 at 8x32x32), so the figures measure serving, not accuracy.
# Environment: MODEL, FRAMES, SIZE, REQUESTS (per client, default 100), PORT (default 18181; the peer
# uses PORT+1), MAX_BATCH (default 8), MAX_DELAY_MS (default 5), THREADS (default all cores),
# SERVE_ARGS (extra `sevnet serve` options), SEVNET_JAR.
# Prints one JSON line per round and concurrency level, a Markdown table, and the servers' batch sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
JAR=${SEVNET_JAR:-target/sevnet.jar}
[[ -f $JAR ]] || mvn -B -q package -DskipTests
MODEL=${MODEL:-sevnet-g2}
FRAMES=${FRAMES:-8}
SIZE=${SIZE:-32}
REQUESTS=${REQUESTS:-100}
PORT=${PORT:-18181}
MAX_BATCH=${MAX_BATCH:-8}
MAX_DELAY_MS=${MAX_DELAY_MS:-5}
THREADS=${THREADS:-$(nproc)}
PY=${2:-}
work=$(mktemp -d)
server=""
stop_server() {
  if [[ -n $server ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  server=""
}
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT

wait_healthy() { # PORT LOG
  for _ in $(seq 240); do
    if curl -sf "http://127.0.0.1:$1/healthz" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$server" 2>/dev/null; then cat "$2" >&2; exit 1; fi
    sleep 0.5
  done
  echo "server on port $1 did not come up" >&2
  cat "$2" >&2
  exit 1
}

if [[ $# -ge 1 && -n $1 ]]; then
  ckpt=$1
else
  echo ">> training $MODEL for one epoch at ${FRAMES}x${SIZE}x${SIZE} (a checkpoint to serve)" >&2
  java -jar "$JAR" train --model "$MODEL" --frames "$FRAMES" --size "$SIZE" --epochs 1 --train-samples 64 \
    --val-samples 16 --predict 0 --device cpu --progress quiet --out "$work/run" >&2
  ckpt=$work/run
fi
echo ">> writing 16 synthetic test videos and 16 float32 clips of 3x${FRAMES}x${SIZE}x${SIZE}" >&2
java -jar "$JAR" synth --out "$work/data" --train 1 --val 16 --frames "$FRAMES" --size "$SIZE" >/dev/null
mkdir -p "$work/npy"
cat >"$work/NpyClips.java" <<JAVA
import java.io.*; import java.nio.*; import java.nio.file.*; import java.util.Random;
public class NpyClips { public static void main(String[] a) throws Exception {
  int f = $FRAMES, s = $SIZE, n = 3 * f * s * s;
  String h = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, " + f + ", " + s + ", " + s + "), }";
  int pad = 64 - (10 + h.length() + 1) % 64; h = h + " ".repeat(pad % 64) + "\n";
  for (int i = 0; i < 16; i++) {
    ByteBuffer b = ByteBuffer.allocate(10 + h.length() + 4 * n).order(ByteOrder.LITTLE_ENDIAN);
    b.put((byte) 0x93).put("NUMPY".getBytes()).put((byte) 1).put((byte) 0).putShort((short) h.length()).put(h.getBytes());
    Random r = new Random(i); for (int k = 0; k < n; k++) b.putFloat((float) r.nextGaussian());
    Files.write(Path.of(a[0], String.format("%02d.npy", i)), b.array()); } } }
JAVA
java "$work/NpyClips.java" "$work/npy"

out=$work/results.jsonl
load() { # NAME KIND DIR PORT
  for clients in 1 4 16; do
    echo ">> $1 $2: $clients concurrent client(s) x $REQUESTS requests" >&2
    java bench/ServeLoad.java "http://127.0.0.1:$4/v1/predict" "$3" "$clients" "$REQUESTS" 5 "$2" |
      sed "s/^{/{\"server\": \"$1\", /" | tee -a "$out"
  done
}

# shellcheck disable=SC2086
OMP_NUM_THREADS=$THREADS java -jar "$JAR" serve --checkpoint "$ckpt" --port "$PORT" --device cpu \
  --max-batch "$MAX_BATCH" --max-delay-ms "$MAX_DELAY_MS" ${SERVE_ARGS:-} >"$work/serve.log" 2>&1 &
server=$!
wait_healthy "$PORT" "$work/serve.log"
head -1 "$work/serve.log" >&2
load sevnet mp4 "$work/data/val" "$PORT"
load sevnet npy "$work/npy" "$PORT"
echo "sevnet server metrics (batch sizes, queue, buffer pools):"
curl -s "http://127.0.0.1:$PORT/metrics" |
  grep -E '^sevnet_(batch_size_(sum|count)|clips_total|predictor_requests_total|queue_depth|host_pool)' || true
stop_server

if [[ -n $PY ]]; then
  "$PY" bench/reference/serve_torch.py --checkpoint "$ckpt" --port $((PORT + 1)) --threads "$THREADS" \
    --max-batch "$MAX_BATCH" --max-delay-ms "$MAX_DELAY_MS" >"$work/torch.log" 2>&1 &
  server=$!
  wait_healthy $((PORT + 1)) "$work/torch.log"
  head -1 "$work/torch.log" >&2
  load torch npy "$work/npy" $((PORT + 1))
  echo "torch server batch sizes: $(curl -s "http://127.0.0.1:$((PORT + 1))/healthz")"
  stop_server
fi

echo
echo "| server | payload | clients | requests | p50 ms | p99 ms | throughput req/s | non-200 |"
echo "|---|---|---|---|---|---|---|---|"
sed -E 's/.*"server": "([a-z]+)", "payload": "([a-z0-9]+)", "clients": ([0-9]+), "requests": ([0-9]+), "non_200": ([0-9]+), "p50_ms": ([0-9.]+), "p90_ms": [0-9.]+, "p99_ms": ([0-9.]+), .*"throughput_rps": ([0-9.]+).*/| \1 | \2 | \3 | \4 | \6 | \7 | \8 | \5 |/' "$out"
