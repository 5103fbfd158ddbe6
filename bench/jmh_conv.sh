#!/usr/bin/env bash
# JMH microbenchmarks of the CPU conv kernels (1x1x1, grouped 1x3x3, temporal 3x1x1 at SEVNet-G8
# stage-0 shapes, batch 1): sevnet's optimized paths and the naive reference (ConvKernelsBench, the
# default build), then sevnet against PyTorch's libtorch (TorchConvBench, the -Pbench-torch profile).
# Prints a Markdown table (best of ROUNDS per cell, and each round's ratio) and keeps JMH's CSV files.
#
#   bench/jmh_conv.sh                  # both suites
#   bench/jmh_conv.sh default|torch    # one suite
#   bench/jmh_conv.sh table            # only the table, from the CSV files of an earlier run in $OUT
#
# Environment (all optional):
#   SEVNET_BUILD_DIR  Maven build folder (default: target; the torch suite builds in $SEVNET_BUILD_DIR/bench-torch)
#   JMH_OPTS          JMH options for every run (default: -f 1 -wi 3 -i 5 -w 1 -r 1)
#   ROUNDS            rounds of the torch suite (default: 2); each round runs every (layer, pass) as
#                     sevnet then libtorch, the next round libtorch then sevnet, one JMH run each
#   THREADS           threads for both sides in the torch suite (default: 0 = every core)
#   OUT               folder for CSV files and logs (default: $SEVNET_BUILD_DIR/jmh-conv)
#   MVN_ARGS          extra Maven arguments (e.g. -o)
#
# What it runs, in full (the JMH runner is each class's main, from the test classpath):
#   mvn -B -q -Dsevnet.build.dir=B test-compile dependency:build-classpath -Dmdep.outputFile=CP1 -Dmdep.includeScope=test
#   java -cp B/test-classes:B/classes:$(cat CP1) dev.sevnet.bench.ConvKernelsBench $JMH_OPTS -rf csv -rff default.csv
#   mvn -B -q -Pbench-torch -Dsevnet.build.dir=B test-compile dependency:build-classpath -Dmdep.outputFile=CP2 -Dmdep.includeScope=test
#   java -cp B/bench-torch/test-classes:B/bench-torch/classes:$(cat CP2) dev.sevnet.bench.TorchConvBench \
#       $JMH_OPTS -p layer=L -p threads=$THREADS 'TorchConvBench.PASS_IMPL$' -rf csv -rff ...
# The Java runs have OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset, so a libtorch path that used OpenBLAS would
# get its own CPU detection (libtorch's conv3d runs on oneDNN here; `TorchConvBench --config` says so).
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE=${1:-all}
case "$SUITE" in default|torch|all|table) ;; *) echo "usage: $0 [default|torch|all|table]" >&2; exit 2 ;; esac
B=${SEVNET_BUILD_DIR:-$PWD/target}
case "$B" in /*) ;; *) B=$PWD/$B ;; esac
JMH_OPTS=${JMH_OPTS:--f 1 -wi 3 -i 5 -w 1 -r 1}
ROUNDS=${ROUNDS:-2}
THREADS=${THREADS:-0}
OUT=${OUT:-$B/jmh-conv}
mkdir -p "$OUT"
read -r -a MVN_EXTRA <<< "${MVN_ARGS:-}"
LAYERS=(pointwise grouped temporal)
PASSES=(forward backwardData backwardWeight)

jrun() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE java "$@"; }

if [[ $SUITE != table ]]; then
  echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "JMH options: $JMH_OPTS; rounds: $ROUNDS; results in $OUT"
fi

if [[ $SUITE == default || $SUITE == all ]]; then
  echo "== default suite: ConvKernelsBench (sevnet optimized vs naive reference)"
  mvn -B -q "${MVN_EXTRA[@]}" -Dsevnet.build.dir="$B" test-compile dependency:build-classpath \
      -Dmdep.outputFile="$OUT/cp-default.txt" -Dmdep.includeScope=test
  # shellcheck disable=SC2086
  jrun -cp "$B/test-classes:$B/classes:$(cat "$OUT/cp-default.txt")" dev.sevnet.bench.ConvKernelsBench \
      $JMH_OPTS -rf csv -rff "$OUT/default.csv" > "$OUT/default.log" 2>&1 \
      || { tail -40 "$OUT/default.log"; exit 1; }
  sed -n '/^Benchmark /,$p' "$OUT/default.log"
fi

if [[ $SUITE == torch || $SUITE == all ]]; then
  echo "== torch suite: TorchConvBench (sevnet vs libtorch, -Pbench-torch)"
  mvn -B -q "${MVN_EXTRA[@]}" -Pbench-torch -Dsevnet.build.dir="$B" test-compile dependency:build-classpath \
      -Dmdep.outputFile="$OUT/cp-torch.txt" -Dmdep.includeScope=test
  TCP="$B/bench-torch/test-classes:$B/bench-torch/classes:$(cat "$OUT/cp-torch.txt")"
  jrun -cp "$TCP" dev.sevnet.bench.TorchConvBench --config > "$OUT/torch-config.txt" 2>&1
  head -3 "$OUT/torch-config.txt"
  rm -f "$OUT"/torch-r*.csv "$OUT"/torch-r*.log "$OUT/torch-verified.txt"
  for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then ORDER=(sevnet torch); else ORDER=(torch sevnet); fi
    for L in "${LAYERS[@]}"; do
      for P in "${PASSES[@]}"; do
        for I in "${ORDER[@]}"; do
          f="$OUT/torch-r$r-$L-$P-$I"
          # shellcheck disable=SC2086
          jrun -cp "$TCP" dev.sevnet.bench.TorchConvBench $JMH_OPTS -p layer="$L" -p threads="$THREADS" \
              "TorchConvBench.${P}_${I}\$" -rf csv -rff "$f.csv" > "$f.log" 2>&1 \
              || { tail -40 "$f.log"; exit 1; }
          grep -o '# verified.*' "$f.log" | head -1 >> "$OUT/torch-verified.txt" || true
          printf 'round %d %-9s %-14s %-6s %s ms\n' "$r" "$L" "$P" "$I" \
              "$(awk -F, 'NR == 2 { print $5 }' "$f.csv")"
        done
      done
    done
  done
  sort -u "$OUT/torch-verified.txt"
fi

# ---- Markdown table: best (lowest) of the rounds per cell; ratio = libtorch ms / sevnet ms ----
shopt -s nullglob
CSVS=("$OUT"/torch-r*.csv)
if ((${#CSVS[@]} == 0)); then exit 0; fi
[[ -f $OUT/default.csv ]] || : > "$OUT/default.csv"
echo
awk -F, -v def="$OUT/default.csv" '
  function unq(s) { gsub(/["\r]/, "", s); return s }  # JMH writes quoted CSV with CRLF
  function keep(a, k, v) { if (!(k in a) || v < a[k]) a[k] = v }
  BEGIN {
    lc = 0  # the "Param: layer" column (JMH orders the params by name: stage and batch come around it)
    while ((getline line < def) > 0) {
      n = split(line, f, ","); b = unq(f[1])
      if (b == "Benchmark") { for (i = 1; i <= n; i++) if (unq(f[i]) == "Param: layer") lc = i; continue }
      sub(/.*\./, "", b); keep(D, unq(f[lc ? lc : n]) "/" b, unq(f[5]) + 0)
    }
  }
  FNR == 1 { next }
  {
    b = unq($1); sub(/.*\./, "", b); split(b, parts, "_"); L = unq($8)
    r = FILENAME; sub(/.*torch-r/, "", r); sub(/-.*/, "", r); if (r + 0 > nr) nr = r + 0
    keep(T, L "/" parts[1] "/" parts[2], unq($5) + 0)
    R[L "/" parts[1] "/" parts[2] "/" r] = unq($5) + 0
  }
  END {
    name["pointwise"] = "1x1x1, 64 -> 64"; name["grouped"] = "grouped 1x3x3, 64 ch, g = 8"
    name["temporal"] = "temporal 3x1x1, 64 -> 64"
    pn["forward"] = "forward"; pn["backwardData"] = "backward data"; pn["backwardWeight"] = "backward weight"
    split("pointwise grouped temporal", Ls, " "); split("forward backwardData backwardWeight", Ps, " ")
    print "| layer (input 1x64x8x56x56) | pass | sevnet ms | libtorch ms | libtorch / sevnet | per round | naive ms | sevnet ms (ConvKernelsBench) |"
    print "|---|---|---|---|---|---|---|---|"
    for (i = 1; i <= 3; i++) for (j = 1; j <= 3; j++) {
      L = Ls[i]; P = Ps[j]; s = T[L "/" P "/sevnet"]; t = T[L "/" P "/torch"]
      kn = L "/forwardNaive"; kc = L "/" P
      nv = (P == "forward" && (kn in D)) ? sprintf("%.0f", D[kn]) : "-"
      cb = (kc in D) ? sprintf("%.2f", D[kc]) : "-"
      pr = ""
      for (r = 1; r <= nr; r++) {
        rs = R[L "/" P "/sevnet/" r]; rt = R[L "/" P "/torch/" r]
        pr = pr (r > 1 ? ", " : "") ((rs && rt) ? sprintf("%.2fx", rt / rs) : "-")
      }
      printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", name[L], pn[P], s ? sprintf("%.2f", s) : "-",
          t ? sprintf("%.2f", t) : "-", (s && t) ? sprintf("**%.2fx**", t / s) : "-", pr, nv, cb
    }
  }' "${CSVS[@]}"
