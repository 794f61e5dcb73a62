#!/bin/sh
# examples.infer: build an FP32 engine of the flowers MobileNetV2 with the kiln CLI, run examples/infer.cpp on
# tulip.jpg with the model's preprocessing (RGB / 127.5 - 1, 128x128) and check that "tulips" is the top-1 line.
# Usage: infer_test.sh KILN INFER_EXAMPLE SHARED_DIR WORK_DIR. Exits 77 (skip) without the shared models.
set -eu
kiln=$1 infer=$2 shared=$3 work=$4
model_dir=$shared/models/st_mobilenet_v2_0.35_128_flowers_fp32
image=$shared/images/ort_examples/tulip.jpg
if [ ! -d "$model_dir" ] || [ ! -f "$image" ]; then
  echo "SKIP: shared models not found at $shared"
  exit 77
fi
rm -rf "$work" && mkdir -p "$work"
"$kiln" -q build "$model_dir/mobilenet_v2_0.35_128_tfs_channel_first.onnx" --precision fp32 -o "$work" >/dev/null
"$infer" "$work"/*_fp32.kiln "$image" --labels "$model_dir/labels_tf_flowers.txt" \
    --scale 0.0078431373 --mean 1 --std 1 | tee "$work/infer.txt"
if grep -q '^1\. tulips ' "$work/infer.txt"; then
  echo "PASS: top-1 is tulips"
else
  echo "FAIL: top-1 is not tulips"
  exit 1
fi
