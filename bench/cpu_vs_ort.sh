#!/usr/bin/env bash
# kiln's CPU engines against ONNX Runtime 1.30 on the same machine, in the same run, alternating the two:
#
#   bench/cpu_vs_ort.sh [--models "resnet50 mobilenet_v2 efficientnet_b0"] [--precisions "fp32 int8"] [--fp16]
#       [--rounds 3] [--duration 3] [--threads N] [--batches 1,16] [--iterations-min 10]
#       [--calib-data ../shared/images] [--calib-samples 64] [--preprocess imagenet]
#       [--ort-int8-dir DIR] [--peak FILE] [--out bench/results/cpu_vs_ort_<date>] [--keep] [--timeout 1200]
#
# → OUT.json (per model, precision and batch: median throughput and latency of kiln and ORT over the rounds,
#   the ratios kiln/ORT, GFLOP/s as a share of the measured peak) and OUT.md (the table of ratios).
# Lists may be given with spaces or commas. --threads defaults to every core and is used by kiln, ORT and the
# peak measurement alike. --peak takes a recorded bench/peak_gemm result instead of measuring it at the start.
# ORT's INT8 model is kiln's --export-qdq output unless --ort-int8-dir holds DIR/<model>_int8.onnx (say, from
# ONNX Runtime's own quantize_static); the report lists the kernels ORT ran for it (QLinearConv or not).
# --timeout: seconds one `kiln bench` or ORT call may take before it is stopped and recorded as an error.
#
# Steps: installs onnxruntime-node@1.30.0 into bench/node_modules (gitignored) if missing; exports
# bench/models/*.onnx if missing (bench/export_models.py); measures the peak (bench/peak_gemm.cc, oneDNN GEMM);
# builds every engine with `kiln build` (INT8: calibrated on --calib-data, also exporting the calibrated model
# as Q/DQ ONNX for ORT); then for each round, model and precision runs `kiln bench ENGINE` and
# bench/ort_runner.js on the matching ONNX model back to back (which goes first alternates between rounds);
# finally bench/cpu_vs_ort_report.py aggregates. Raw files stay in a work folder under /tmp with --keep.
# KILN=path overrides the kiln binary (default build/tools/kiln).
set -euo pipefail
caller_dir=$PWD
abs() { case $1 in /*) echo "$1" ;; *) echo "$caller_dir/$1" ;; esac; }  # paths given are the caller's
cd "$(dirname "$0")/.."
repo=$PWD
command_line=bench/cpu_vs_ort.sh
for arg in "$@"; do  # quote only what needs it, so that the recorded command reads as typed
  if [[ $arg =~ ^[A-Za-z0-9_./,:=+-]+$ ]]; then command_line+=" $arg"; else command_line+=" $(printf '%q' "$arg")"; fi
done

KILN=${KILN:-build/tools/kiln}
models="resnet50 mobilenet_v2 efficientnet_b0"
precisions="fp32 int8"
fp16=0
rounds=3
duration=3
threads=$(nproc)
batches=1,16
iterations_min=10
calib_data=$(realpath -m "$repo/../shared/images")
calib_samples=64
preprocess=imagenet
peak_file=
ort_int8_dir=
out=bench/results/cpu_vs_ort_$(date -u +%Y-%m-%d)
keep=0
run_timeout=1200

usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
need() { [ $# -ge 2 ] || { echo "cpu_vs_ort.sh: $1 needs a value" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  case $1 in
    --models) need "$@"; models=${2//,/ }; shift 2 ;;
    --precisions) need "$@"; precisions=${2//,/ }; shift 2 ;;
    --fp16) fp16=1; shift ;;
    --rounds) need "$@"; rounds=$2; shift 2 ;;
    --duration) need "$@"; duration=$2; shift 2 ;;
    --threads) need "$@"; threads=$2; shift 2 ;;
    --batches|--batch) need "$@"; batches=${2// /,}; shift 2 ;;
    --iterations-min) need "$@"; iterations_min=$2; shift 2 ;;
    --calib-data) need "$@"; calib_data=$(abs "$2"); shift 2 ;;
    --calib-samples) need "$@"; calib_samples=$2; shift 2 ;;
    --preprocess) need "$@"; preprocess=$2; shift 2 ;;
    --ort-int8-dir) need "$@"; ort_int8_dir=$(realpath -m "$(abs "$2")"); shift 2 ;;
    --peak) need "$@"; peak_file=$(abs "$2"); shift 2 ;;
    --out) need "$@"; out=$(abs "${2%.json}"); shift 2 ;;
    --keep) keep=1; shift ;;
    --timeout) need "$@"; run_timeout=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "cpu_vs_ort.sh: unknown option $1" >&2; usage 2 ;;
  esac
done
if [ $fp16 -eq 1 ] && [[ " $precisions " != *" fp16 "* ]]; then precisions="$precisions fp16"; fi
for p in $precisions; do
  case $p in fp32|fp16|int8) ;; *) echo "cpu_vs_ort.sh: unknown precision $p (fp32, fp16, int8)" >&2; exit 2 ;; esac
done
for m in $models; do
  case $m in resnet50|mobilenet_v2|efficientnet_b0) ;; *) echo "cpu_vs_ort.sh: unknown model $m" >&2; exit 2 ;; esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "cpu_vs_ort.sh: --rounds must be a positive integer" >&2; exit 2; }
[[ $threads =~ ^[1-9][0-9]*$ ]] || { echo "cpu_vs_ort.sh: --threads must be a positive integer" >&2; exit 2; }

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# --- (a) ONNX Runtime for Node, into bench/node_modules (gitignored) ---
export NODE_PATH=$repo/bench/node_modules
ort_version() { node -e "console.log(require('onnxruntime-node/package.json').version)" 2>/dev/null || true; }
if [ "$(ort_version)" != "1.30.0" ]; then
  log "installing onnxruntime-node@1.30.0 into bench/node_modules"
  # --ignore-scripts skips the GPU download (no network for it); the CPU library is inside the package.
  npm install --ignore-scripts --no-save --no-package-lock --no-audit --no-fund --prefix bench \
    onnxruntime-node@1.30.0 >&2
  [ "$(ort_version)" = "1.30.0" ] || { echo "cpu_vs_ort.sh: onnxruntime-node 1.30.0 did not install" >&2; exit 1; }
fi

# --- (b) the ONNX models ---
missing=()
for m in $models; do [ -f "bench/models/$m.onnx" ] || missing+=("$m"); done
if [ ${#missing[@]} -gt 0 ]; then
  log "exporting ${missing[*]} to bench/models"
  /usr/bin/python3 bench/export_models.py "${missing[@]}" >&2
fi

[ -x "$KILN" ] || { echo "cpu_vs_ort.sh: no kiln binary at $KILN (build it, or set KILN=...)" >&2; exit 1; }
if ! "$KILN" bench --help > /dev/null 2>&1; then
  echo "cpu_vs_ort.sh: $KILN has no bench subcommand" >&2
  exit 1
fi

work=$(mktemp -d /tmp/cpu_vs_ort.XXXXXX)
mkdir -p "$work/engines" "$work/qdq" "$work/raw" "$work/logs"
: > "$work/builds.tsv"; : > "$work/errors.tsv"; : > "$work/order.tsv"
cleanup() { if [ $keep -eq 1 ]; then log "raw results kept in $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT
error() {  # model precision round stage logfile [exit status]
  local msg
  msg=$(tail -n 3 "$5" 2>/dev/null | tr '\t\n' '  ' | cut -c1-400)
  [ "${6:-}" = 124 ] && msg="stopped after --timeout $run_timeout s; $msg"
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$msg" >> "$work/errors.tsv"
  log "FAILED: $1 $2 $4 (round $3): $msg"
}

# --- the peak (oneDNN GEMM, same thread count): measured now and, if recorded, the newest
# bench/results/peak_gemm_*.json with this thread count; the report takes the higher figure of the two, since
# a measurement on a busy machine can only come out low. --peak FILE replaces both. ---
if [ -n "$peak_file" ]; then
  cp "$peak_file" "$work/peak_recorded.json"
  echo "$peak_file" > "$work/peak_recorded.source"
else
  for f in $(find bench/results -maxdepth 1 -name 'peak_gemm_*.json' 2>/dev/null | sort -r); do
    if /usr/bin/python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1])).get("threads") != int(sys.argv[2]))' \
         "$f" "$threads"; then
      cp "$f" "$work/peak_recorded.json"; echo "$f" > "$work/peak_recorded.source"; break
    fi
  done
  log "measuring the peak (bench/peak_gemm.cc, $threads threads)"
  if g++ -O2 -std=c++17 bench/peak_gemm.cc -ldnnl -o "$work/peak_gemm" 2> "$work/logs/peak_build.log" &&
     "$work/peak_gemm" --threads "$threads" --sizes 2048 --runs 10 > "$work/peak_measured.json" 2> "$work/logs/peak.log"
  then
    echo "measured at the start of this run: peak_gemm --threads $threads --sizes 2048 --runs 10" > "$work/peak_measured.source"
    log "peak now: $(grep -o '"fp32_gflops": [0-9.]*\|"int8_gops": [0-9.]*' "$work/peak_measured.json" | tr '\n' ' ')"
  else
    rm -f "$work/peak_measured.json"
    log "peak measurement failed (see $work/logs/peak*.log)"
  fi
fi
cat /proc/loadavg > "$work/loadavg_start"

# --- (c) engines ---
declare -A engine ort_model
for m in $models; do
  for p in $precisions; do
    flags=(--precision "$p" -o "$work/engines")
    ort_model[$m.$p]=$repo/bench/models/$m.onnx
    if [ "$p" = int8 ]; then
      flags+=(--calib-data "$calib_data" --preprocess "$preprocess" --calib-samples "$calib_samples"
              --export-qdq "$work/qdq/${m}_qdq.onnx")
      ort_model[$m.$p]=$work/qdq/${m}_qdq.onnx
      [ -n "$ort_int8_dir" ] && ort_model[$m.$p]=$ort_int8_dir/${m}_int8.onnx
    fi
    log "kiln build $m $p"
    start=$(date +%s.%N)
    if "$KILN" build "bench/models/$m.onnx" "${flags[@]}" > "$work/logs/build_${m}_$p.log" 2>&1 &&
       [ -f "$work/engines/${m}_$p.kiln" ] && [ -f "${ort_model[$m.$p]}" ]; then
      seconds=$(echo "$(date +%s.%N) - $start" | bc)
      engine[$m.$p]=$work/engines/${m}_$p.kiln
      printf '%s\t%s\t%.3f\t%s\t%s\n' "$m" "$p" "$seconds" "${engine[$m.$p]}" "${ort_model[$m.$p]}" >> "$work/builds.tsv"
    else
      error "$m" "$p" 0 build "$work/logs/build_${m}_$p.log"
    fi
  done
done

# --- (d) alternating runs ---
run_kiln() {  # round model precision
  local tag="r$1_$2_$3" rc=0
  timeout "$run_timeout" "$KILN" bench "${engine[$2.$3]}" --batch "$batches" --duration "$duration" \
    --iterations-min "$iterations_min" --threads "$threads" --json "$work/raw/${tag}_kiln.json" \
    > "$work/logs/${tag}_kiln.log" 2>&1 || rc=$?
  [ $rc -eq 0 ] || { rm -f "$work/raw/${tag}_kiln.json"; error "$2" "$3" "$1" kiln "$work/logs/${tag}_kiln.log" $rc; }
}
run_ort() {
  local tag="r$1_$2_$3" counts=() rc=0
  [ "$1" -eq 1 ] && counts=(--op-counts)  # which kernels ORT really ran (Q/DQ fused into QLinearConv or not)
  timeout "$run_timeout" node bench/ort_runner.js "${ort_model[$2.$3]}" --batch "$batches" --duration "$duration" \
    --iterations-min "$iterations_min" --threads "$threads" --precision "$3" --json "$work/raw/${tag}_ort.json" \
    "${counts[@]}" > "$work/logs/${tag}_ort.log" 2>&1 || rc=$?
  [ $rc -eq 0 ] || { rm -f "$work/raw/${tag}_ort.json"; error "$2" "$3" "$1" ort "$work/logs/${tag}_ort.log" $rc; }
}
for r in $(seq "$rounds"); do
  for m in $models; do
    for p in $precisions; do
      [ -n "${engine[$m.$p]:-}" ] || continue
      if [ $((r % 2)) -eq 1 ]; then first=kiln; else first=ort; fi
      printf '%s\t%s\t%s\t%s\n' "$r" "$m" "$p" "$first" >> "$work/order.tsv"
      log "round $r/$rounds: $m $p ($first first)"
      if [ $first = kiln ]; then run_kiln "$r" "$m" "$p"; run_ort "$r" "$m" "$p"
      else run_ort "$r" "$m" "$p"; run_kiln "$r" "$m" "$p"; fi
    done
  done
done

# --- (e, f) aggregation ---
/usr/bin/python3 bench/cpu_vs_ort_report.py --work "$work" --out "$out" --command "$command_line" \
  --models "$models" --precisions "$precisions" --rounds "$rounds" --duration "$duration" --threads "$threads" \
  --batches "$batches" --iterations-min "$iterations_min" --kiln "$KILN" \
  --calibration "INT8: --calib-data $calib_data --preprocess $preprocess --calib-samples $calib_samples (kiln's default method)" \
  --ort-int8 "${ort_int8_dir:+$ort_int8_dir/<model>_int8.onnx}"
