#!/usr/bin/env bash
# Load benchmark of `sevnet serve` on the CPU: latency p50/p99 and throughput for 1, 4 and 16
# concurrent clients, each a closed loop (one request in flight, the next sent when the answer comes)
# POSTing synthetic mp4 clips to /v1/predict over loopback.
#
#   bench/serve_load.sh [CHECKPOINT_DIR]
#
# Without a checkpoint it trains one for a single epoch on the synthetic dataset (MODEL, FRAMES, SIZE;
# default the main job's sevnet-g2 at 8x32x32), so the figures measure serving, not accuracy.
# Environment: MODEL, FRAMES, SIZE, REQUESTS (per client, default 100), PORT (default 18181),
# SERVE_ARGS (extra `sevnet serve` options, e.g. "--max-batch 16 --max-delay-ms 2"), SEVNET_JAR.
# Prints one JSON line per concurrency level, a Markdown table, and the server's batch-size metrics.
set -euo pipefail
cd "$(dirname "$0")/.."
JAR=${SEVNET_JAR:-target/sevnet.jar}
[[ -f $JAR ]] || mvn -B -q package -DskipTests
MODEL=${MODEL:-sevnet-g2}
FRAMES=${FRAMES:-8}
SIZE=${SIZE:-32}
REQUESTS=${REQUESTS:-100}
PORT=${PORT:-18181}
work=$(mktemp -d)
server=""
cleanup() {
  if [[ -n $server ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [[ $# -ge 1 ]]; then
  ckpt=$1
else
  echo ">> training $MODEL for one epoch at ${FRAMES}x${SIZE}x${SIZE} (a checkpoint to serve)" >&2
  java -jar "$JAR" train --model "$MODEL" --frames "$FRAMES" --size "$SIZE" --epochs 1 --train-samples 64 \
    --val-samples 16 --predict 0 --device cpu --progress quiet --out "$work/run" >&2
  ckpt=$work/run
fi
echo ">> writing 16 synthetic test videos" >&2
java -jar "$JAR" synth --out "$work/data" --train 1 --val 16 --frames "$FRAMES" --size "$SIZE" >/dev/null

# shellcheck disable=SC2086
java -jar "$JAR" serve --checkpoint "$ckpt" --port "$PORT" --device cpu ${SERVE_ARGS:-} >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 120); do
  if curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then cat "$work/serve.log" >&2; exit 1; fi
  sleep 0.5
done
head -1 "$work/serve.log" >&2

out=$work/results.jsonl
for clients in 1 4 16; do
  echo ">> $clients concurrent client(s) x $REQUESTS requests" >&2
  java bench/ServeLoad.java "http://127.0.0.1:$PORT/v1/predict" "$work/data/val" "$clients" "$REQUESTS" 5 | tee -a "$out"
done
echo
echo "| clients | requests | p50 ms | p99 ms | throughput req/s | non-200 |"
echo "|---|---|---|---|---|---|"
sed -E 's/.*"clients": ([0-9]+), "requests": ([0-9]+), "non_200": ([0-9]+), "p50_ms": ([0-9.]+), "p90_ms": [0-9.]+, "p99_ms": ([0-9.]+), .*"throughput_rps": ([0-9.]+).*/| \1 | \2 | \4 | \5 | \6 | \3 |/' "$out"
echo
echo "server metrics (batch sizes, queue):"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^sevnet_(batch_size_(sum|count)|clips_total|predictor_requests_total|queue_depth)' || true
