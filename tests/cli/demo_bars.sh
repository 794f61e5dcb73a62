#!/bin/sh
# The ctest `cli.demo`: runs `make demo`'s script (scripts/demo.sh) into a temporary folder and checks the
# main job's bars from the JSON it writes: FP32 top-1 equal to the accuracy recorded when the model was
# trained (models/fashion_mnist_mobilenet.json), FP16 within 0.05 points of it, INT8 within 0.3 points, engine
# sizes about 1 : 0.5 : 0.25, and a self-contained HTML report.
# Usage: demo_bars.sh KILN_BIN REPO_DIR WORK_DIR   (exit 77: skipped without the Fashion-MNIST package)
set -eu
kiln=$1 repo=$2 work=$3
data=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
[ -f "$data/t10k-images-idx3-ubyte.gz" ] || { echo "SKIP: $data not installed (dataset-fashion-mnist)"; exit 77; }
rm -rf "$work"
mkdir -p "$work"
cd "$repo"
DEMO_OUT="$work" KILN="$kiln" bash scripts/demo.sh >"$work/demo.log" 2>&1 || { tail -30 "$work/demo.log"; exit 1; }
python3 - "$work/compare.json" "$repo/models/fashion_mnist_mobilenet.json" "$work/report.html" <<'PY'
import json, sys
result, recorded, report = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), open(sys.argv[3]).read()
engines = {e["precision"]: e for e in result["engines"]}
fp32, fp16, int8 = engines["fp32"], engines["fp16"], engines["int8"]
want = recorded["test_accuracy_top1"]
checks = [
    ("10000 test images", fp32["samples"] == 10000),
    (f"FP32 top-1 {fp32['top1']:.4f} == recorded {want:.4f}", abs(fp32["top1"] - want) < 5e-5),
    (f"FP16 top-1 {fp16['top1']:.4f} within 0.05 points", abs(fp16["top1"] - fp32["top1"]) <= 0.0005 + 1e-9),
    (f"INT8 top-1 {int8['top1']:.4f} within 0.3 points", fp32["top1"] - int8["top1"] <= 0.003 + 1e-9),
    (f"FP16/FP32 size {fp16['file_bytes'] / fp32['file_bytes']:.3f} <= 0.52", fp16["file_bytes"] <= 0.52 * fp32["file_bytes"]),
    (f"INT8/FP32 size {int8['file_bytes'] / fp32['file_bytes']:.3f} <= 0.30", int8["file_bytes"] <= 0.30 * fp32["file_bytes"]),
    # (tests/report renders it in Chromium; here: charts are drawn by inline script, nothing is fetched)
    ("report is self-contained HTML with charts", ("<svg" in report or "createElementNS" in report) and
     not any(f'{attr}="http' in report for attr in ("src", "href"))),
]
ok = True
for what, passed in checks:
    print(("ok   " if passed else "FAIL ") + what)
    ok &= passed
sys.exit(0 if ok else 1)
PY
