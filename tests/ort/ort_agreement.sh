#!/bin/sh
# Runs one ONNX model in ONNX Runtime (CPU) and in kiln (`kiln run`, reference backend) on the same inputs and
# checks that both give the same top-1 (argmax of the first output) for every input; reports max |diff|.
#
# ONNX Runtime runs twice: with graph optimizations off (ORT evaluates the model op by op, Q/DQ literally:
# what the model means, and what kiln's reference backend computes; every input must agree), then with all
# optimizations on (ORT fuses Q/DQ groups into its own int8 kernels, which round differently: at least
# $KILN_ORT_MIN_AGREE of the inputs, default 0.9, must agree — near-ties may flip).
#
# Usage: ort_agreement.sh KILN_BIN MODEL.onnx WORK_DIR X1.npy [X2.npy ...]
#   ONNX Runtime is onnxruntime-node 1.30.0, installed on first use into $KILN_ORT_DIR (default: the repo's
#   .cache/ort) with `npm install --ignore-scripts` (the flag skips a GPU download; the CPU library is in the
#   package). Exit codes: 0 all agree, 1 a disagreement or an error, 77 skipped (no node/npm or no network).
set -eu
if [ $# -lt 4 ]; then
  echo "usage: $0 KILN_BIN MODEL.onnx WORK_DIR X1.npy [X2.npy ...]" >&2
  exit 1
fi
kiln=$1 model=$2 work=$3
shift 3
# What kiln runs: the same model, or (KILN_RUN_MODEL) e.g. the INT8 engine the Q/DQ model was exported from.
kiln_model=${KILN_RUN_MODEL:-$model}
here=$(cd "$(dirname "$0")" && pwd)
ort_dir=${KILN_ORT_DIR:-$here/../../.cache/ort}

command -v node >/dev/null 2>&1 || { echo "SKIP: node is not installed"; exit 77; }
if [ ! -f "$ort_dir/node_modules/onnxruntime-node/package.json" ]; then
  command -v npm >/dev/null 2>&1 || { echo "SKIP: npm is not installed"; exit 77; }
  mkdir -p "$ort_dir"
  echo "installing onnxruntime-node@1.30.0 into $ort_dir"
  if ! (cd "$ort_dir" && timeout 600 npm install --ignore-scripts --no-audit --no-fund onnxruntime-node@1.30.0 >npm.log 2>&1); then
    echo "SKIP: npm install onnxruntime-node@1.30.0 failed (offline?):"; tail -5 "$ort_dir/npm.log"; exit 77
  fi
fi
export NODE_PATH="$ort_dir/node_modules"

rm -rf "$work/ort_disabled" "$work/ort_all" "$work/kiln"
mkdir -p "$work/kiln"
stems=""
for x in "$@"; do
  stem=$(basename "$x" .npy)
  stems="$stems $stem"
  "$kiln" run "$kiln_model" --input "$x" -o "$work/kiln/$stem" >/dev/null || { echo "kiln run failed on $x"; exit 1; }
done
status=0
for level in disabled all; do
  ORT_OPT_LEVEL=$level node "$here/run_ort.js" "$model" "$work/ort_$level" "$@" >"$work/ort_$level.log" ||
    { cat "$work/ort_$level.log"; exit 1; }
  first=$(basename "$1" .npy)
  output=$(ls "$work/ort_$level/$first" | head -n 1)
  min=1
  [ "$level" = all ] && min=${KILN_ORT_MIN_AGREE:-0.9}
  echo "== ONNX Runtime (graph optimizations: $level) vs kiln ($(basename "$kiln_model"))"
  # shellcheck disable=SC2086  # stems are file stems without spaces
  node "$here/compare_top1.js" --min-agree "$min" --label "ort_$level" "$work/ort_$level" "$work/kiln" \
    "${output%.npy}" $stems || status=1
done
exit $status
