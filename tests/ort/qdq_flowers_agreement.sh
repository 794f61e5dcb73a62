#!/bin/sh
# The ctest `ort.qdq_mobilenet_v2_flowers`: kiln makes a Q/DQ model of the flowers MobileNetV2 (calibrated on a
# few shared photos, see make_qdq_model.cc), then ONNX Runtime and kiln's reference backend run it on every
# shared photo and must agree on top-1 (ort_agreement.sh; exit 77 = skipped without node/npm/network).
# Usage: qdq_flowers_agreement.sh MAKE_QDQ_MODEL_BIN KILN_BIN SHARED_DIR WORK_DIR
set -eu
make_model=$1 kiln=$2 shared=$3 work=$4
model="$shared/models/st_mobilenet_v2_0.35_128_flowers_fp32/mobilenet_v2_0.35_128_tfs_channel_first.onnx"
[ -f "$model" ] || { echo "SKIP: $model not found"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
"$make_model" "$model" "$shared/images" mobilenet_flowers 128 "$work"
sh "$here/ort_agreement.sh" "$kiln" "$work/model_qdq.onnx" "$work" "$work"/inputs/*.npy || exit $?

# The issue-4 bar: `kiln build --precision int8 --export-qdq` — ONNX Runtime on the exported model must agree
# with kiln's INT8 engine (oneDNN kernels) on top-1 for every shared photo.
echo "== kiln INT8 engine vs its --export-qdq model in ONNX Runtime"
"$kiln" build "$model" --precision int8 --calib-data "$shared/images" --preprocess mobilenet_flowers   --output-dir "$work/engine" --export-qdq "$work/engine/exported_qdq.onnx" --no-tactic-timing >/dev/null
engine=$(ls "$work"/engine/*_int8.kiln)
KILN_RUN_MODEL=$engine KILN_ORT_MIN_AGREE=${KILN_ORT_MIN_AGREE:-0.9}   exec sh "$here/ort_agreement.sh" "$kiln" "$work/engine/exported_qdq.onnx" "$work/engine" "$work"/inputs/*.npy
