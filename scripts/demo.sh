#!/usr/bin/env bash
# The main job on the bundled model (models/fashion_mnist_mobilenet.onnx, trained on Fashion-MNIST):
# build its FP32, FP16 and INT8 engines (INT8 calibrated on 500 Fashion-MNIST training images), compare them
# on the 10,000 test images with their labels, print the table, and write the HTML report.
set -euo pipefail
KILN=${KILN:-build/tools/kiln}
DATA=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
model=models/fashion_mnist_mobilenet.onnx
preprocess="channels=gray,scale=0.00392156863,mean=0.286,std=0.353"   # models/README.md
out=${DEMO_OUT:-out/demo}
for f in "$DATA/train-images-idx3-ubyte.gz" "$DATA/t10k-images-idx3-ubyte.gz" "$DATA/t10k-labels-idx1-ubyte.gz"; do
  if [ ! -f "$f" ]; then
    echo "demo: $f not found (Debian package dataset-fashion-mnist; scripts/install-deps.sh installs it)" >&2
    exit 1
  fi
done
mkdir -p "$out"

echo "== building FP32, FP16 and INT8 engines of $model"
# The timing cache makes a second `make demo` skip tactic timing (and rebuild identical engines).
"$KILN" build "$model" --all --output-dir "$out" --timing-cache "$out/timing_cache.json" \
    --calib-data "$DATA/train-images-idx3-ubyte.gz" --calib-samples 500 --preprocess "$preprocess" \
    --calib-cache "$out/calibration.cache"

echo
echo "== comparing them on the 10,000 Fashion-MNIST test images (model's recorded top-1: 92.14%)"
stem=$(basename "${model%.onnx}")
"$KILN" compare "$out/${stem}_fp32.kiln" "$out/${stem}_fp16.kiln" "$out/${stem}_int8.kiln" \
    --data "$DATA/t10k-images-idx3-ubyte.gz" --labels "$DATA/t10k-labels-idx1-ubyte.gz" \
    --preprocess "$preprocess" --samples 10000 --batch 64 --no-progress \
    --json "$out/compare.json" --report "$out/report.html"
echo
echo "report: $out/report.html   (JSON: $out/compare.json; engines in $out/)"
