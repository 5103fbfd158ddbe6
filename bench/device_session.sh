#!/usr/bin/env bash
# One call on a lent GPU machine (see ../shared/device/README.md): the GPU tests, `sevnet doctor`,
# a short train/eval/predict on the GPU, compute-sanitizer on the CUDA op tests, the kernel
# microbenchmarks, the cubin launch-shape harness, the throughput harness, the serving load. Run from the project root
# after devpack.sh, inside the devpack (java, $CP):
#   bash .devpack/run.sh bash bench/device_session.sh [tests] [doctor] [cli] [sanitize] [selftest] [profile] [kernels] [jmh] [cubins] [bench] [serve] [prefetch] [graphs] [streams] [channels-last] [cpu-cores]
# Logs go to $OUT (or ./device-out).
set -uo pipefail
cd "$(dirname "$0")/.."
O=${OUT:-device-out}
mkdir -p "$O"
# The GPU machines have two cuDNN installs: the system's (9.14, complete, with unversioned .so
# links) and PyTorch's venv (9.19). JavaCPP's preloader and the dynamic linker must see one set, or
# cuDNN answers CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH: put the system's first.
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
JUNIT=$(ls .devpack/lib/junit-platform-console-standalone-*.jar)
junit() { java -jar "$JUNIT" execute --class-path "$CP" --disable-banner "$@"; }
sevnet() { java -cp "$CP" dev.sevnet.cli.Main "$@"; }
steps=" $* "
has() { [[ $steps == *" $1 "* ]]; }
if has tests; then
  # TESTS_SELECT narrows the run to JUnit selectors, e.g. "--select-class dev.sevnet.train.GraphedTrainStepGpuTest"
  echo "== GPU tests"; timeout ${TESTS_TIMEOUT:-500} java -jar "$JUNIT" execute --class-path "$CP" --disable-banner ${TESTS_SELECT:---scan-class-path .devpack/lib/project-test-classes.jar --include-tag gpu} --details=tree > "$O/gpu-tests.log" 2>&1; echo "rc=$?"
  sed 's/\x1b\[[0-9;]*m//g' "$O/gpu-tests.log" | grep -E "✘|tests (successful|failed|aborted|skipped)|relative error|worst|median" | head -40
fi
if has doctor; then
  echo "== doctor"; sevnet doctor 2>&1 | grep -E "cud|gpu|driver"
fi
if has cli; then
  echo "== train + eval + predict on cuda"
  # frame folders (gpu-fixtures/frames, extracted from `sevnet synth` videos) stand in for mp4s:
  # the FFmpeg jar is left out of the devpack to fit the 64 MiB transfer limit
  ( timeout 240 java -cp "$CP" dev.sevnet.cli.Main train --device cuda --model sevnet-g2 --epochs 3 --train-samples 1024 --val-samples 256 --predict 0 --out /tmp/runs/gpu --progress log \
    && sevnet eval --device cuda --checkpoint /tmp/runs/gpu \
    && sevnet predict --device cuda --checkpoint /tmp/runs/gpu gpu-fixtures/frames/* \
    && sevnet predict --device cuda --precision bf16 --checkpoint /tmp/runs/gpu gpu-fixtures/frames/* \
    && timeout 240 java -cp "$CP" dev.sevnet.cli.Main train --device cuda --precision bf16 --model sevnet-g2 --epochs 2 --train-samples 1024 --val-samples 256 --predict 0 --out /tmp/runs/gpu-bf16 --progress log \
    && timeout 240 java -cp "$CP" dev.sevnet.cli.Main train --device cuda --precision fp16 --model sevnet-g2 --epochs 2 --train-samples 1024 --val-samples 256 --predict 0 --out /tmp/runs/gpu-fp16 --progress log ) > "$O/cli.log" 2>&1; echo "rc=$?"
  grep -vE "^\s+at " "$O/cli.log" | tail -30
fi
if has sanitize; then
  # SANITIZE_TOOLS / SANITIZE_CLASSES (simple names in dev.sevnet.backend.cuda) narrow a short call
  classes=${SANITIZE_CLASSES:-CudaBackendOpsTest CudaFusedKernelsTest CudaTemporalConvNdhwcTest CudaHalfInferenceTest CudaBatchNormHalfTest CudaHalfTrainingOpsTest}
  select=(); for c in $classes; do select+=(--select-class "dev.sevnet.backend.cuda.$c"); done
  for tool in ${SANITIZE_TOOLS:-memcheck racecheck}; do
    echo "== compute-sanitizer $tool on $classes"
    timeout ${SANITIZE_TIMEOUT:-280} compute-sanitizer --tool $tool --print-limit 20 java -jar "$JUNIT" execute --class-path "$CP" --disable-banner \
      "${select[@]}" --details=summary > "$O/$tool.log" 2>&1; echo "rc=$?"
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY|Invalid|hazard|tests (successful|failed)" "$O/$tool.log" | head -12
  done
fi
if has profile; then
  # where one step's GPU time goes: Nsight Compute over one timed iteration (bench --cuda-profiler-range) of
  # SEVNet-G8 16x224 batch 8, sevnet beside PyTorch, kernels summed by name and kind (bench/ncu_summary.py); and
  # sevnet's own op table (bench --profile: CUDA events around each backend op).
  # PROFILE: ';'-separated "mode precision memory-format" triples; ncu at the GPU's own clocks, caches not flushed
  IFS=';' read -ra cfgs <<< "${PROFILE:-train fp32 channels-last}"
  ncuargs=(--profile-from-start off --metrics gpu__time_duration.sum --csv --print-units base --clock-control none
    --cache-control none)
  for cfg in "${cfgs[@]}"; do
    read -r m p f <<< "$cfg"
    tag="$m-$p-$f"; fold=""; [[ $m == infer ]] && fold=--fold
    layout=cl; [[ $f == contiguous ]] && layout=ncdhw
    echo "== profile $tag: ncu over one step, sevnet and PyTorch"
    # first a plain run (no ncu): its clips/s, and the routes kernel mode auto measures, saved with the algorithm
    # cache (--algo-cache) and logged (the backend's debug log: each problem's route times and the one kept) — the
    # ncu run loads them, so its step runs the routes a plain run picks (measuring under ncu, whose per-launch cost
    # weighs on routes of several launches, could pick others)
    rm -f "$O/algo-$tag.bin"
    timeout ${PROFTIMEOUT:-200} java -Dorg.slf4j.simpleLogger.log.dev.sevnet.backend.cuda.CudaBackend=${ROUTELOG:-debug} \
      -cp "$CP" dev.sevnet.cli.Main bench --device cuda $fold --precision $p --memory-format $f --model sevnet-g8 \
      --mode $m --batch 8 --frames 16 --size 224 --warmup 3 --iters 5 --algo-cache "$O/algo-$tag.bin" --json \
      --profile > "$O/plain-sevnet-$tag.out" 2>&1
    echo "sevnet plain rc=$?: $(grep -o '"clips_per_s": *[0-9.]*' "$O/plain-sevnet-$tag.out" | head -1)"
    # its op table without ncu: device ms (CUDA events) and host ms per op — an op whose host time passes its device
    # time is where an eager step leaves the GPU waiting (the sixteenth session: ~10 ms of a 44 ms bf16 step)
    "${PY:-python3}" - "$O/plain-sevnet-$tag.out" <<'PYEOF' || true
import json, sys
txt = open(sys.argv[1]).read()
j = json.loads(txt[txt.index('{"'):].splitlines()[0])
p = j.get("profile", {})
print(f"op table (plain run): device {p.get('total_ms', 0):.2f} ms, host {p.get('host_ms', 0):.2f} ms")
print("| phase | op | calls | device ms | host ms |")
for r in sorted(p.get("rows", []), key=lambda r: -max(r["ms"], r["host_ms"]))[:30]:
    print(f"| {r['phase']} | {r['op']} | {r['calls']} | {r['ms']:.3f} | {r['host_ms']:.3f} |")
PYEOF
    echo "routes measured (problem: route times -> kept):"
    grep -E "DEBUG dev.sevnet.backend.cuda.CudaBackend - .* -> " "$O/plain-sevnet-$tag.out" | sed 's/.*CudaBackend - //' | head -120
    timeout ${PROFTIMEOUT:-200} ncu "${ncuargs[@]}" --log-file "$O/ncu-sevnet-$tag.csv" java -cp "$CP" dev.sevnet.cli.Main \
      bench --device cuda $fold --precision $p --memory-format $f --model sevnet-g8 --mode $m --batch 8 \
      --frames 16 --size 224 --warmup 3 --iters 1 --cuda-profiler-range --profile --algo-cache "$O/algo-$tag.bin" \
      > "$O/ncu-sevnet-$tag.out" 2>&1
    echo "sevnet rc=$?"
    # bench --profile's own table (CUDA events per backend op, steps after the ncu range): op by op, with the gaps
    # where the device waited for the host
    sed -n '/^| phase | op/,/^| (total)/p' "$O/ncu-sevnet-$tag.out"
    timeout ${PROFTIMEOUT:-200} ncu "${ncuargs[@]}" --log-file "$O/ncu-torch-$tag.csv" "${PY:-python3}" \
      bench/reference/bench_torch_gpu.py --modes $m --infer-batches 8 --train-batches 8 --precisions $p \
      --layouts $layout --warmup 3 --iters 1 --cuda-profiler-range > "$O/ncu-torch-$tag.out" 2>&1
    echo "pytorch rc=$?"
    "${PY:-python3}" bench/ncu_summary.py "sevnet=$O/ncu-sevnet-$tag.csv" "pytorch=$O/ncu-torch-$tag.csv" \
      --top ${PROFTOP:-20} > "$O/ncu-$tag.md" 2>&1; cat "$O/ncu-$tag.md"
  done
fi
if has selftest; then
  # the kernels' native self-test (bench/pack_selftest.sh puts it in .devpack/selftest): every CUDA kernel against its
  # CPU reference without a JVM, plain, then under compute-sanitizer (SELFTEST_TOOLS, default memcheck racecheck);
  # SEVNET_SELFTEST_ONLY=bn_ndhwc,pool_ndhwc,... runs only those groups (test_* names less "test_") in every run,
  # SELFTEST_SAN_ONLY=... only under the sanitizers (the plain run then takes every group)
  S=/tmp/sevnet-selftest
  if [[ -x .devpack/selftest/sevnet_cuda_selftest ]]; then
    mkdir -p $S && cp .devpack/selftest/* $S/
    # its two libraries from the project jar (the same build as the program)
    "${PY:-python3}" - .devpack/lib/project-classes.jar $S <<'PYEOF'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in z.namelist():
        if n.endswith(("/libsevnet.so", "/libsevnet_cuda.so")):
            open(os.path.join(sys.argv[2], os.path.basename(n)), "wb").write(z.read(n))
PYEOF
    echo "== sevnet_cuda_selftest"
    LD_LIBRARY_PATH=$S:$LD_LIBRARY_PATH timeout ${STTIMEOUT:-120} $S/sevnet_cuda_selftest > "$O/selftest.log" 2>&1; echo "rc=$?"
    grep -E "^device|FAIL|ALL OK|FAILURES" "$O/selftest.log" | head -20
    for tool in ${SELFTEST_TOOLS:-memcheck racecheck}; do
      echo "== compute-sanitizer $tool sevnet_cuda_selftest"
      # SEVNET_SELFTEST_SMALL: the newer kernels' ragged shapes only under the sanitizer (their G8 sizes ran above)
      SEVNET_SELFTEST_ONLY=${SELFTEST_SAN_ONLY-${SEVNET_SELFTEST_ONLY:-}} SEVNET_SELFTEST_SMALL=1 \
        LD_LIBRARY_PATH=$S:$LD_LIBRARY_PATH timeout ${STSANTIMEOUT:-240} compute-sanitizer \
        --tool $tool --print-limit 20 $S/sevnet_cuda_selftest > "$O/selftest-$tool.log" 2>&1; echo "rc=$?"
      grep -E "ERROR SUMMARY|RACECHECK SUMMARY|Invalid|hazard|FAIL|ALL OK|FAILURES" "$O/selftest-$tool.log" | head -12
    done
  else
    echo "no .devpack/selftest/sevnet_cuda_selftest: run bench/pack_selftest.sh after devpack.sh"
  fi
fi
if has kernels; then
  # KSECTIONS: all (default), base (temporal conv + BN vs cuDNN), fused (conv_bn_relu.cu vs the library
  # sequence it replaces, and the one-launch SGD step), ndhwc (channels-last temporal conv, fp32 and bf16,
  # vs the NCDHW conv the backend runs), bnhalf (16-bit BN training kernels vs fp32), halfroutes (the widen / cudnn /
  # channels-last routes of 16-bit grouped convs), halftrain (16-bit conv
  # backward passes through cuDNN and BN vs fp32), cl (a G8 block's ops contiguous vs channels-last),
  # lt (the channels-last 1x1x1 conv + bias/residual/ReLU by route: cuDNN, cuBLAS, cuBLASLt epilogue, measured),
  # gcl (the channels-last grouped 1x3x3 conv, its three passes by route: cuDNN NDHWC, ncdhw, sevnet, measured),
  # tcl (the channels-last temporal conv, folded forward / forward / backward-data by route: cuDNN NDHWC, ncdhw,
  # cuBLAS, sevnet's CUDA-core and tensor-core kernels, measured)
  # KPEAKGBS / KPEAKTF: the peaks the fractions divide by (0, the default: the device's own, from its attributes)
  echo "== kernel microbenchmarks (custom vs cuDNN / library)"
  timeout ${KTIMEOUT:-420} java -cp "$CP" dev.sevnet.bench.CudaKernelsBench 8 ${KREPS:-20} ${KPEAKGBS:-0} ${KPEAKTF:-0} ${KSECTIONS:-all} > "$O/kernels.md" 2>&1; echo "rc=$?"
  cat "$O/kernels.md"
fi
if has jmh; then
  # CudaKernelsJmhBench: the same comparisons as a JMH suite (wall ms/op, device ms/op from CUDA events), a table at
  # the end; JMH_ARGS picks ops, stages and kernel modes (-p op=... -p stage=64x56,512x7 -p kernels=custom,library)
  echo "== JMH: CudaKernelsJmhBench ${JMH_ARGS:--p stage=64x56 -p kernels=custom,library -wi 1 -i 2 -w 1 -r 1 -f 1}"
  timeout ${JTIMEOUT:-300} java -cp "$CP" dev.sevnet.bench.CudaKernelsJmhBench \
    ${JMH_ARGS:--p stage=64x56 -p kernels=custom,library -wi 1 -i 2 -w 1 -r 1 -f 1} > "$O/jmh.log" 2>&1; echo "rc=$?"
  sed -n '/^| op | stage/,$p' "$O/jmh.log"
fi
if has cubins; then
  # CubinKernelBench: each kernel loaded from its cubin through the driver API (JCuda, primary context),
  # launch shapes swept, CUDA-event median per shape, output checked against the CPU backend.
  # CSWEEP: sweep (default: G8 shapes for add_kernel, the temporal conv, its backward-weight split count and
  # the fused grouped conv's tiles, the channels-last grouped conv's tiles), or one kernel's own lists, e.g.
  # CSWEEP="gconv N=8 C=64 T=16 H=56 W=56 tile=auto,2x8x16" or CSWEEP="gconv-cl N=8 C=64 T=16 H=56 W=56 tile=auto,2x8x8"
  echo "== cubin harness: check"
  timeout ${CCHECK_TIMEOUT:-150} java -cp "$CP" dev.sevnet.bench.CubinKernelBench check > "$O/cubin-check.md" 2>&1; echo "rc=$?"
  grep -E "^device|FAIL|refused|skipped|error|checks|interop" "$O/cubin-check.md" | head -20
  echo "== cubin harness: ${CSWEEP:-sweep}"
  timeout ${CTIMEOUT:-420} java -cp "$CP" dev.sevnet.bench.CubinKernelBench --reps=${CREPS:-50} ${CSWEEP:-sweep} > "$O/cubin-sweep.md" 2>&1; echo "rc=$?"
  cat "$O/cubin-sweep.md"
fi
if has bench; then
  echo "== throughput"
  # every measured route's timings per problem (RouteTuner, kernel mode auto) into bench.log
  export JAVA_TOOL_OPTIONS="${JAVA_TOOL_OPTIONS:-} -Dorg.slf4j.simpleLogger.log.dev.sevnet.backend.cuda.CudaBackend=debug"
  ITERS=${ITERS:-10} WARMUP=${WARMUP:-3} OUT_JSONL="$O/throughput.jsonl" timeout ${BENCH_TIMEOUT:-420} bash bench/gpu_throughput.sh > "$O/bench.log" 2>&1; echo "rc=$?"
  tail -12 "$O/bench.log"
  grep -E 'DEBUG.*->' "$O/bench.log" | sed 's/.*CudaBackend - //' | sort -u > "$O/routes.log"; echo "routes measured: $(wc -l < "$O/routes.log") problems, see routes.log"
  unset JAVA_TOOL_OPTIONS
fi
if has serve; then
  # bench/serve_load.sh on the GPU: `sevnet serve --device cuda` and the PyTorch peer (serve_torch.py
  # --device cuda) on .npy clips (no FFmpeg in the devpack, so no mp4 round), 1/4/16 closed-loop clients.
  # SMODEL/SFRAMES/SSIZE: the checkpoint trained for it (one epoch on cuda); SREQUESTS: requests per client;
  # SERVE_ARGS / PEER_ARGS pass through (e.g. SERVE_ARGS="--precision bf16" PEER_ARGS="--precision bf16")
  echo "== serving load on cuda (sevnet serve vs PyTorch peer)"
  DEVICE=cuda PAYLOADS=npy PEER_DEVICE=cuda MODEL=${SMODEL:-sevnet-g2} FRAMES=${SFRAMES:-8} SIZE=${SSIZE:-32} \
    REQUESTS=${SREQUESTS:-50} timeout ${SERVE_TIMEOUT:-240} bash bench/serve_load.sh "" "${PY:-python3}" > "$O/serve.log" 2>&1; echo "rc=$?"
  grep -E '^sevnet serve:|^\{"serving"' "$O/serve.log"
  tail -12 "$O/serve.log"
fi
if has prefetch; then
  # the training loop itself on cuda (synthetic clips made by --workers threads), input prefetching
  # (pinned memory, copy stream, one batch ahead) off and on, alternated; the epoch's clips/s from its summary line
  echo "== input prefetching: sevnet train --device cuda, -Dsevnet.prefetch=off|on"
  for round in 1 2; do
    for mode in off on; do
      timeout ${PTIMEOUT:-120} java -Dsevnet.prefetch=$mode -cp "$CP" dev.sevnet.cli.Main train --device cuda \
        --model ${PMODEL:-sevnet-g8} --frames ${PFRAMES:-16} --size ${PSIZE:-112} --batch ${PBATCH:-8} \
        --workers ${PWORKERS:-12} --epochs 1 --train-samples ${PSAMPLES:-512} --val-samples 16 --predict 0 \
        --out /tmp/runs/prefetch-$mode-$round --progress log > "$O/prefetch-$mode-$round.log" 2>&1
      echo "round $round prefetch=$mode rc=$?: $(grep -oE '[0-9.]+ clips/s' "$O/prefetch-$mode-$round.log" | tail -1)"
    done
  done
fi
if has graphs; then
  # the training step as a CUDA graph (train --cuda-graphs) against eager, on the main job's small model and clips
  # (launch-bound: where a graph matters) and on G8 16x112; the second epoch's clips/s from its summary line (the
  # first one's carries the algorithm searches and route measurements: the sixteenth session's one-epoch figures,
  # 144 clips/s for G2 8x32² batch 32, were mostly that)
  echo "== training step as a CUDA graph: sevnet train --device cuda [--cuda-graphs]"
  for cfg in "sevnet-g2 8 32 32" "sevnet-g8 16 112 8"; do
    set -- $cfg
    # what the loader alone delivers with the same threads (is the epoch's clips/s the data pipeline's?)
    java -cp "$CP" dev.sevnet.cli.Main bench --mode load --frames $2 --size $3 --batch $4 --workers ${PWORKERS:-12} \
      --warmup 2 --iters 20 2>&1 | tail -1
    for g in "" "--cuda-graphs"; do
      timeout ${GTIMEOUT:-120} java -cp "$CP" dev.sevnet.cli.Main train --device cuda --model $1 --frames $2 --size $3 \
        --batch $4 --workers ${PWORKERS:-12} --epochs 2 --train-samples ${GSAMPLES:-512} --val-samples 16 --predict 0 \
        --out /tmp/runs/graphs-$1$g --progress log $g > "$O/graphs-$1$g.log" 2>&1
      echo "$1 ${2}x${3}x${3} batch $4 ${g:-eager} rc=$?: $(grep -oE '[0-9.]+ clips/s' "$O/graphs-$1$g.log" | tail -1) $(grep -o 'captured into a CUDA graph' "$O/graphs-$1$g.log" | head -1)"
    done
  done
fi
if has streams; then
  # worker streams: N forward passes at once, each on a CUDA stream of its own (what `serve --in-flight N` does),
  # sevnet and PyTorch (a torch.cuda.Stream per thread), folded fp32 SEVNet-G8 16x224; SBATCHES: batch sizes
  echo "== worker streams: bench --mode infer --streams 1|4 beside PyTorch"
  for b in ${SBATCHES:-1 8}; do
    for n in 1 4; do
      timeout ${STIMEOUT:-90} "${PY:-python3}" bench/reference/bench_torch_gpu.py --modes infer --infer-batches $b \
        --precisions fp32 --layouts cl --streams $n --warmup 3 --iters 10 2>>"$O/streams.err"
      timeout ${STIMEOUT:-90} java -cp "$CP" dev.sevnet.cli.Main bench --json --device cuda --fold --model sevnet-g8 \
        --mode infer --batch $b --streams $n --frames 16 --size 224 --warmup 3 --iters 10 2>>"$O/streams.err" | grep '^{'
    done
  done > "$O/streams.jsonl"; echo "rc=$?"
  "${PY:-python3}" - "$O/streams.jsonl" <<'PYEOF'
import json, sys
for l in open(sys.argv[1]):
    if l.startswith("{"):
        r = json.loads(l)
        print(f"{r['impl'][:14]:14} batch {r['batch']:2} streams {r.get('streams', 1)}: {r['clips_per_s']:8.1f} clips/s")
PYEOF
fi
if has channels-last; then
  # channels-last (NDHWC) activations (--memory-format channels-last): the GPU tests of the NDHWC ops, kernels and
  # training step, then SEVNet-G8 16x224 batch 8 contiguous vs channels-last beside PyTorch channels-last, then
  # train/predict from the command line. CLTIMEOUT bounds the tests, CBTIMEOUT each bench row; CL_MODES (infer train),
  # CL_PRECISIONS (fp32 bf16) and CL_FORMATS (contiguous channels-last) narrow the rows, CL_GRAPHS=1 adds each row
  # as a CUDA graph (--cuda-graphs), CL_KERNELS picks kernel modes (auto), CL_CLI=0 skips the CLI round.
  if [[ ${CL_TESTS:-1} == 1 ]]; then  # CL_TESTS=0: already run by the tests step
  echo "== channels-last: GPU tests"
  cltests=(--select-class dev.sevnet.backend.cuda.CudaChannelsLastTest
    --select-method "dev.sevnet.backend.cuda.CudaTrainingStepTest#aChannelsLastStepMatchesTheCpu(java.lang.String)")
  # CL_KERNEL_TESTS="" runs none of the NDHWC kernel tests (unset: these two)
  for c in ${CL_KERNEL_TESTS-CudaBatchNormNdhwcTest CudaChannelsNdhwcTest}; do cltests+=(--select-class dev.sevnet.backend.cuda.$c); done
  timeout ${CLTIMEOUT:-200} java -jar "$JUNIT" execute --class-path "$CP" --disable-banner "${cltests[@]}" --details=tree > "$O/cl-tests.log" 2>&1; echo "rc=$?"
  sed 's/\x1b\[[0-9;]*m//g' "$O/cl-tests.log" | grep -E "✘|tests (successful|failed|aborted|skipped)|worst|median|relative error" | head -40
  fi
  echo "== channels-last: throughput, G8 16x224 batch 8"
  {
    # one PyTorch process per precision, each under CBTIMEOUT (one for all four rows lost bf16 training on the H100)
    modes=${CL_MODES:-infer train}
    for p in ${CL_PRECISIONS:-fp32 bf16}; do
      timeout ${CBTIMEOUT:-120} "${PY:-python3}" bench/reference/bench_torch_gpu.py --modes ${modes// /,} --infer-batches 8 \
        --train-batches 8 --precisions $p --layouts cl --warmup 3 --iters 10 2>>"$O/cl-bench.err"
    done
    for m in $modes; do
      for p in ${CL_PRECISIONS:-fp32 bf16}; do
        for f in ${CL_FORMATS:-contiguous channels-last}; do
          fold=""; [[ $m == infer ]] && fold=--fold
          # CL_GRAPHS=1: each row also as a CUDA graph (--cuda-graphs): what the host's launches cost the eager row;
          # CL_KERNELS: kernel modes (default auto; "custom library" is issue 5's end-to-end comparison)
          for kmode in ${CL_KERNELS:-auto}; do
            for g in "" ${CL_GRAPHS:+--cuda-graphs}; do
              timeout ${CBTIMEOUT:-120} java -cp "$CP" dev.sevnet.cli.Main bench --json --device cuda $fold \
                --precision $p --memory-format $f --kernels $kmode --model sevnet-g8 --mode $m --batch 8 --frames 16 \
                --size 224 --warmup 3 --iters 10 $g 2>>"$O/cl-bench.err" | grep '^{'
            done
          done
        done
      done
    done
  } > "$O/cl-bench.jsonl"; echo "rc=$?"
  "${PY:-python3}" - "$O/cl-bench.jsonl" <<'PYEOF'
import json, sys
for l in open(sys.argv[1]):
    if l.startswith("{"):
        r = json.loads(l)
        fmt = r.get("memory_format", r.get("layout", "-"))
        graphs = " graph" if r.get("cuda_graphs") else ""
        kmode = r.get("kernels", "-")
        print(f"{r['impl'][:14]:14} {r['mode']:5} {r['precision']:5} {fmt:13} {kmode:7}{graphs:6}: {r['clips_per_s']:8.1f} clips/s"
              + (f", peak {r['peak_device_mb']:.0f} MB" if r.get('peak_device_mb') else "")
              + (f" ({r['graph_pool_mb']:.0f} of it the graph's pool)" if r.get('graph_pool_mb') else ""))
PYEOF
  if [[ ${CL_CLI:-1} == 1 ]]; then
  echo "== channels-last: train + predict on cuda"
  ( timeout 150 java -cp "$CP" dev.sevnet.cli.Main train --device cuda --memory-format channels-last --model sevnet-g2 \
      --epochs 2 --train-samples 512 --val-samples 128 --predict 0 --out /tmp/runs/gpu-cl --progress log \
    && sevnet predict --device cuda --memory-format channels-last --checkpoint /tmp/runs/gpu-cl gpu-fixtures/frames/* \
    && sevnet predict --device cuda --precision bf16 --memory-format channels-last --checkpoint /tmp/runs/gpu-cl gpu-fixtures/frames/* ) \
    > "$O/cl-cli.log" 2>&1; echo "rc=$?"
  grep -vE "^\s+at " "$O/cl-cli.log" | tail -20
  fi
fi
if has cpu-cores; then
  # The machine's CPU cores (16 on the lent ones): the only many-core machine this project gets — sevnet's CPU backend
  # beside PyTorch's at every core and at 2 (the dev box's count), alternating, one round each (bench/RESULTS.md,
  # twenty-third session: the weight gradients' and in-flight batches' scaling were measured only as 16 threads on 2
  # cores). CPU_THREADS="16 2", CPU_MODES="train infer".
  echo "== CPU cores: $(nproc)"
  for t in ${CPU_THREADS:-$(nproc) 2}; do
    for m in ${CPU_MODES:-train infer}; do
      if [[ $m == train ]]; then a=(--mode train --batch 8 --frames 8 --size 112); else a=(--mode infer --batch 1 --frames 16 --size 224); fi
      timeout ${CPUTIMEOUT:-90} java -cp "$CP" dev.sevnet.cli.Main bench --json --device cpu --model sevnet-g8 "${a[@]}" --warmup 1 --iters 3 --threads "$t" 2>/dev/null | tail -1 | tee -a "$O/cpu-cores.jsonl"
      timeout ${CPUTIMEOUT:-90} "${PY:-python3}" bench/reference/bench_torch.py --g 8 "${a[@]}" --warmup 1 --iters 3 --threads "$t" 2>/dev/null | tail -1 | tee -a "$O/cpu-cores.jsonl"
    done
  done
fi
