#!/usr/bin/env bash
# Load benchmark of `sevnet serve` (CPU or GPU), side by side with a PyTorch serving peer: latency
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
# SERVE_ARGS (extra `sevnet serve` options), PEER_ARGS (extra serve_torch.py options, e.g.
# "--precision bf16 --channels-last"),
#   DEVICE       cpu|cuda|auto (default cpu): `sevnet serve --device` and the checkpoint training's --device
#   PAYLOADS     the sevnet rounds, in order (default "mp4 npy"); "npy" alone writes no videos and needs
#                no FFmpeg (the torch round runs only when npy is listed)
#   PEER_DEVICE  cpu|cuda (default cpu): serve_torch.py --device
# Java: with CP set (inside the devpack, where .devpack/run.sh exports it) sevnet runs as
# `java -cp "$CP" dev.sevnet.cli.Main` and the bench programs (dev.sevnet.bench.ServeLoad, NpyClips)
# from the same class path; otherwise SEVNET_JAR (default target/sevnet.jar) and SEVNET_TEST_CLASSES
# (default target/test-classes), built with `mvn -B -q package -DskipTests` if either is missing.
# HTTP checks (/healthz, /metrics) use curl, or python3's urllib where there is no curl.
#
# On a lent GPU machine, inside the devpack (no FFmpeg there, so npy rounds only; put the system's
# cuDNN first as bench/device_session.sh does, or run its `serve` step):
#   DEVICE=cuda PAYLOADS=npy PEER_DEVICE=cuda bash .devpack/run.sh bash bench/serve_load.sh "" python3
#
# Prints one JSON line per round and concurrency level, a Markdown table, and the servers' batch sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-sevnet-g2}
FRAMES=${FRAMES:-8}
SIZE=${SIZE:-32}
REQUESTS=${REQUESTS:-100}
PORT=${PORT:-18181}
MAX_BATCH=${MAX_BATCH:-8}
MAX_DELAY_MS=${MAX_DELAY_MS:-5}
THREADS=${THREADS:-$(nproc)}
DEVICE=${DEVICE:-cpu}
PAYLOADS=${PAYLOADS:-mp4 npy}
PEER_DEVICE=${PEER_DEVICE:-cpu}
PY=${2:-}
for p in $PAYLOADS; do
  [[ $p == mp4 || $p == npy ]] || { echo "PAYLOADS: unknown payload '$p' (mp4, npy)" >&2; exit 2; }
done
has_payload() { [[ " $PAYLOADS " == *" $1 "* ]]; }

if [[ -n ${CP:-} ]]; then
  sevnet=(java -cp "$CP" dev.sevnet.cli.Main)
  bench_cp=$CP
else
  JAR=${SEVNET_JAR:-target/sevnet.jar}
  TEST_CLASSES=${SEVNET_TEST_CLASSES:-target/test-classes}
  if [[ ! -f $JAR || ! -f $TEST_CLASSES/dev/sevnet/bench/ServeLoad.class ]]; then
    mvn -B -q package -DskipTests
  fi
  sevnet=(java -jar "$JAR")
  bench_cp=$TEST_CLASSES:$JAR
fi
bench() { java -cp "$bench_cp" "dev.sevnet.bench.$1" "${@:2}"; }

# GET URL: the body on stdout; fails on a refused connection or a non-2xx answer
http_get() {
  if command -v curl >/dev/null 2>&1; then
    curl -sf --noproxy '*' "$1"
  else
    python3 -c 'import sys, urllib.request as u
sys.stdout.buffer.write(u.build_opener(u.ProxyHandler({})).open(sys.argv[1], timeout=30).read())' "$1"
  fi
}

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
    if http_get "http://127.0.0.1:$1/healthz" >/dev/null 2>&1; then return 0; fi
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
  echo ">> training $MODEL for one epoch at ${FRAMES}x${SIZE}x${SIZE} on $DEVICE (a checkpoint to serve)" >&2
  "${sevnet[@]}" train --model "$MODEL" --frames "$FRAMES" --size "$SIZE" --epochs 1 --train-samples 64 \
    --val-samples 16 --predict 0 --device "$DEVICE" --progress quiet --out "$work/run" >&2
  ckpt=$work/run
fi
if has_payload mp4; then
  echo ">> writing 16 synthetic test videos of ${FRAMES}x${SIZE}x${SIZE}" >&2
  "${sevnet[@]}" synth --out "$work/data" --train 1 --val 16 --frames "$FRAMES" --size "$SIZE" >/dev/null
fi
if has_payload npy; then
  echo ">> writing 16 float32 clips of 3x${FRAMES}x${SIZE}x${SIZE}" >&2
  bench NpyClips "$work/npy" "$FRAMES" "$SIZE" 16
fi

out=$work/results.jsonl
load() { # NAME KIND DIR PORT
  for clients in 1 4 16; do
    echo ">> $1 $2: $clients concurrent client(s) x $REQUESTS requests" >&2
    bench ServeLoad "http://127.0.0.1:$4/v1/predict" "$3" "$clients" "$REQUESTS" 5 "$2" |
      sed "s/^{/{\"server\": \"$1\", /" | tee -a "$out"
  done
}

# shellcheck disable=SC2086
OMP_NUM_THREADS=$THREADS "${sevnet[@]}" serve --checkpoint "$ckpt" --port "$PORT" --device "$DEVICE" \
  --max-batch "$MAX_BATCH" --max-delay-ms "$MAX_DELAY_MS" ${SERVE_ARGS:-} >"$work/serve.log" 2>&1 &
server=$!
wait_healthy "$PORT" "$work/serve.log"
head -1 "$work/serve.log" >&2
for p in $PAYLOADS; do
  if [[ $p == mp4 ]]; then load sevnet mp4 "$work/data/val" "$PORT"; else load sevnet npy "$work/npy" "$PORT"; fi
done
echo "sevnet server metrics (batch sizes, queue, buffer pools):"
http_get "http://127.0.0.1:$PORT/metrics" |
  grep -E '^sevnet_(batch_size_(sum|count)|clips_total|predictor_requests_total|queue_depth|host_pool)' || true
stop_server

if [[ -n $PY ]] && ! has_payload npy; then
  echo ">> no torch round: it serves .npy clips, and PAYLOADS ($PAYLOADS) has no npy" >&2
elif [[ -n $PY ]]; then
  # shellcheck disable=SC2086
  "$PY" bench/reference/serve_torch.py --checkpoint "$ckpt" --port $((PORT + 1)) --threads "$THREADS" \
    --device "$PEER_DEVICE" --max-batch "$MAX_BATCH" --max-delay-ms "$MAX_DELAY_MS" ${PEER_ARGS:-} \
    >"$work/torch.log" 2>&1 &
  server=$!
  wait_healthy $((PORT + 1)) "$work/torch.log"
  head -1 "$work/torch.log" >&2
  load torch npy "$work/npy" $((PORT + 1))
  echo "torch server batch sizes: $(http_get "http://127.0.0.1:$((PORT + 1))/healthz" || true)"
  stop_server
fi

echo
echo "| server | payload | clients | requests | p50 ms | p99 ms | throughput req/s | non-200 |"
echo "|---|---|---|---|---|---|---|---|"
sed -E 's/.*"server": "([a-z]+)", "payload": "([a-z0-9]+)", "clients": ([0-9]+), "requests": ([0-9]+), "non_200": ([0-9]+), "p50_ms": ([0-9.]+), "p90_ms": [0-9.]+, "p99_ms": ([0-9.]+), .*"throughput_rps": ([0-9.]+).*/| \1 | \2 | \3 | \4 | \6 | \7 | \8 | \5 |/' "$out"
