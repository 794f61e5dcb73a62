#!/usr/bin/env bash
# The main job on the bundled default model (for now a shared real model: the flowers MobileNetV2):
# build its FP32, FP16 and INT8 engines, run each on a real photo's tensor, and show sizes and top-1.
set -euo pipefail
KILN=${KILN:-build/tools/kiln}
SHARED=${SHARED:-../shared}
model_dir=$SHARED/models/st_mobilenet_v2_0.35_128_flowers_fp32
if [ ! -d "$model_dir" ]; then
  echo "demo: shared models not found at $SHARED/models" >&2
  exit 1
fi
out=out/demo
mkdir -p "$out"
model=$model_dir/mobilenet_v2_0.35_128_tfs_channel_first.onnx
input=$model_dir/test_data_set_0/input_0.pb   # tulip.jpg, preprocessed (see SOURCE.txt there)
labels=$model_dir/labels_tf_flowers.txt

# INT8 calibrates on the shared photos with the model's preprocessing (RGB / 127.5 - 1).
"$KILN" build "$model" --all --output-dir "$out" --calib-data "$SHARED/images" --preprocess mobilenet_flowers \
    --calib-cache "$out/calibration.cache" 2>/dev/null
echo
for precision in fp32 fp16 int8; do
  engine=$out/$(basename "${model%.onnx}")_$precision.kiln
  echo "$precision engine on tulip.jpg:"
  "$KILN" run "$engine" --input "$input" --output-dir "$out/$precision" --top 3 --labels "$labels" | grep top-
done
