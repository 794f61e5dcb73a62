#!/bin/bash
# Runs on the lent GPU machine, from the repo root, after scripts/device/stage.sh ran here:
#   scripts/device/run_cuda.sh tests   # the CUDA tests (ctest -L cuda's binary) on the GPU
#   scripts/device/run_cuda.sh bench   # ResNet-50 / MobileNetV2: GPU engines built, benchmarked beside PyTorch
#   scripts/device/run_cuda.sh all     # both
#   scripts/device/run_cuda.sh kernels # kiln's own kernels inside ResNet-50 INT8: per-layer profile and ncu
# bench takes BENCH_MODELS, BENCH_PRECISIONS, BENCH_BATCHES, BENCH_SECONDS, BENCH_PROFILE, BENCH_LATENCY,
# BENCH_INT8_MODELS, BENCH_OPT, CALIB_SAMPLES, KEEP_FP32, KNOB_VARIANTS, ACCURACY, SKIP_TORCH and TORCH_FIRST (see below).
# Results go to $OUT (the device tool's folder that comes back): cuda_tests.log, cuda_tests.json and
# bench.tar.gz (per-engine build logs, kiln bench JSON, torch_baseline.json, the machine's description).
set -uo pipefail
MODE=${1:-all}
OUT=${OUT:-/tmp/kiln-out}
mkdir -p "$OUT"
ROOT=$(pwd)
K=/tmp/kiln-stage
rm -rf "$K" && mkdir -p "$K" && tar -C "$K" -xJf "$ROOT/.stage/kiln-stage.tar.xz" || exit 1
export LD_LIBRARY_PATH="$K/pkg/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export KILN_SHARED_DIR="$K/pkg"  # the models the tests read: $KILN_SHARED_DIR/models/...
KILN="$K/pkg/bin/kiln"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$OUT/machine.txt"

if [ "$MODE" = tests ] || [ "$MODE" = all ]; then
  "$K/pkg/bin/cuda_tests" --gtest_output=json:"$OUT/cuda_tests.json" ${GTEST_FILTER:+--gtest_filter=$GTEST_FILTER} \
    > "$OUT/cuda_tests.log" 2>&1
  echo "cuda_tests exit $?"
  grep -E "^\[  (FAILED|PASSED|SKIPPED) |tests ran|FAILED TEST" "$OUT/cuda_tests.log" | tail -40
fi

# The PyTorch peer (../shared/peers/torch_gpu_baseline.py) into $B/results; TORCH_FIRST=1 runs it before kiln's
# builds, so that a call cut short by its time limit still has the peer figures.
run_torch() {
  (cd "$B/results" && OUT="$B/results" PYTHONUNBUFFERED=1 timeout 300 python3 "$K/pkg/torch_gpu_baseline.py" \
    > torch_baseline.log 2>&1)
  tail -32 "$B/results/torch_baseline.log"
  tar -C "$B" -czf "$OUT/bench.tar.gz" results
}

if [ "$MODE" = bench ] || [ "$MODE" = all ]; then
  B=/tmp/kiln-bench
  rm -rf "$B" && mkdir -p "$B/models" "$B/engines" "$B/results"
  cp "$OUT/machine.txt" "$B/results/"
  [ -z "${SKIP_TORCH:-}" ] && [ -n "${TORCH_FIRST:-}" ] && run_torch
  python3 "$ROOT/bench/export_models.py" --out "$B/models" ${BENCH_MODELS:-resnet50 mobilenet_v2} > "$B/results/export.log" 2>&1
  for m in ${BENCH_MODELS:-resnet50 mobilenet_v2}; do
    for p in ${BENCH_PRECISIONS:-fp16 int8 tf32 fp32}; do
      # BENCH_INT8_MODELS (e.g. resnet50) limits the INT8 engines (each calibrates and builds for ~2 min).
      [ "$p" = int8 ] && [ -n "${BENCH_INT8_MODELS:-}" ] && [[ " $BENCH_INT8_MODELS " != *" $m "* ]] && continue
      # INT8: calibrated on the host CPU (kiln's CPU engine) with the staged photos.
      int8_args=()
      [ "$p" = int8 ] && int8_args=(--calib-data "$K/pkg/images" --preprocess imagenet --calib-samples "${CALIB_SAMPLES:-32}")
      # KEEP_FP32 (e.g. Gemm): INT8 engines keep those nodes or op types in float (kiln build --keep-fp32).
      [ "$p" = int8 ] && [ -n "${KEEP_FP32:-}" ] && int8_args+=(--keep-fp32 "$KEEP_FP32")
      # KNOB_VARIANTS=N: every cuDNN convolution also offers N kernel-config variants (kiln build --knob-variants).
      # BENCH_OPT: the profile's opt batch, where tactics are timed (32; 128 tunes for the INT8 bar's batch).
      /usr/bin/time -f "%e s wall" "$KILN" build "$B/models/$m.onnx" --device cuda --precision "$p" \
        --batch "1:${BENCH_OPT:-32}:128" \
        "${int8_args[@]}" ${KNOB_VARIANTS:+--knob-variants "$KNOB_VARIANTS"} -o "$B/engines" \
        --timing-cache "$B/results/timing_cache.json" > "$B/results/build_${m}_$p.log" 2>&1
      echo "build $m $p: $(tail -1 "$B/results/build_${m}_$p.log")"
      "$KILN" bench "$B/engines/${m}_$p.kiln" --device cuda --batch ${BENCH_BATCHES:-1,16,32,128} \
        --duration "${BENCH_SECONDS:-2}" ${BENCH_PROFILE:+--profile} --json "$B/results/bench_${m}_$p.json" > "$B/results/bench_${m}_$p.log" 2>&1
      grep -A6 "GPU phases" "$B/results/bench_${m}_$p.log" || tail -5 "$B/results/bench_${m}_$p.log"
      tar -C "$B" -czf "$OUT/bench.tar.gz" results  # after every engine: a run cut short still returns its part
    done
  done
  # A latency engine: tactics timed at batch 1 (--batch 1:1:32), benchmarked at batch 1 (BENCH_LATENCY=1).
  if [ -n "${BENCH_LATENCY:-}" ]; then
    m=resnet50
    "$KILN" build "$B/models/$m.onnx" --device cuda --precision fp16 --batch 1:1:32 -o "$B/engines/latency" \
      --timing-cache "$B/results/timing_cache.json" > "$B/results/build_${m}_fp16_latency.log" 2>&1
    "$KILN" bench "$B/engines/latency/${m}_fp16.kiln" --device cuda --batch 1 --duration "${BENCH_SECONDS:-2}" \
      --json "$B/results/bench_${m}_fp16_latency.json" > "$B/results/bench_${m}_fp16_latency.log" 2>&1
    grep -A6 "GPU phases" "$B/results/bench_${m}_fp16_latency.log" || tail -5 "$B/results/bench_${m}_fp16_latency.log"
  fi
  # ACCURACY=1: the GPU engines against a CPU FP32 engine (the reference) on the staged photos: top-1 agreement,
  # cosine and error per engine (kiln compare; the INT8 bar asks for INT8's accuracy bars beside its speed).
  if [ -n "${ACCURACY:-}" ]; then
    for m in ${BENCH_MODELS:-resnet50 mobilenet_v2}; do
      "$KILN" build "$B/models/$m.onnx" --device cpu --precision fp32 -o "$B/engines/cpu" \
        > "$B/results/build_${m}_cpu_fp32.log" 2>&1
      engines=()
      for p in ${BENCH_PRECISIONS:-fp16 int8 tf32 fp32}; do
        [ -f "$B/engines/${m}_$p.kiln" ] && engines+=("$B/engines/${m}_$p.kiln")
      done
      "$KILN" compare "$B/engines/cpu/${m}_fp32.kiln" "${engines[@]}" --data "$K/pkg/images" --preprocess imagenet \
        --samples 41 --time-budget 0 --no-progress --json "$B/results/accuracy_$m.json" > "$B/results/accuracy_$m.log" 2>&1
      echo "accuracy $m (exit $?):"; tail -15 "$B/results/accuracy_$m.log"
    done
  fi
  [ -z "${SKIP_TORCH:-}" ] && [ -z "${TORCH_FIRST:-}" ] && run_torch
  tar -C "$B" -czf "$OUT/bench.tar.gz" results
fi

# kiln's own kernels measured in place: a ResNet-50 INT8 engine built with --tactic-sources kiln (kiln's kernels
# wherever they apply, cuDNN's elsewhere), its per-layer profile at KERNELS_BATCH (32), and Nsight Compute on the
# first NCU_LAUNCHES (6: layer1.0's four convolutions, layer1.1's first two) launches of NCU_KERNEL
# (int8_conv_kernel): throughput against the ceilings, memory, warp stalls, occupancy. --clock-control none:
# the device notes ask to leave the clocks alone. Results in $OUT/kernels.tar.gz.
if [ "$MODE" = kernels ]; then
  B=/tmp/kiln-kernels
  rm -rf "$B" && mkdir -p "$B/models" "$B/engines" "$B/results"
  python3 "$ROOT/bench/export_models.py" --out "$B/models" resnet50 > "$B/results/export.log" 2>&1
  "$KILN" build "$B/models/resnet50.onnx" --device cuda --precision int8 --batch 1:32:128 --tactic-sources kiln \
    --calib-data "$K/pkg/images" --preprocess imagenet --calib-samples "${CALIB_SAMPLES:-32}" -o "$B/engines" \
    > "$B/results/build_resnet50_int8_kiln.log" 2>&1
  echo "build: $(grep -h "cuda kernels" "$B/results/build_resnet50_int8_kiln.log")"
  E="$B/engines/resnet50_int8.kiln"
  "$KILN" bench "$E" --device cuda --batch "${KERNELS_BATCH:-32}" --duration 1 --profile \
    > "$B/results/bench_resnet50_int8_kiln.log" 2>&1
  grep -E "int8_igemm|int8_pointwise|few_channel|GPU phases" -A0 "$B/results/bench_resnet50_int8_kiln.log" | head -40
  tar -C "$B" -czf "$OUT/kernels.tar.gz" results
  timeout "${NCU_SECONDS:-180}" ncu --clock-control none --kernel-name "regex:${NCU_KERNEL:-int8_conv_kernel}" \
    --launch-count "${NCU_LAUNCHES:-6}" --section SpeedOfLight --section MemoryWorkloadAnalysis \
    --section ComputeWorkloadAnalysis --section WarpStateStats --section SchedulerStats --section Occupancy --section LaunchStats \
    "$KILN" bench "$E" --device cuda --batch "${KERNELS_BATCH:-32}" --duration 0.2 > "$B/results/ncu.txt" 2>&1
  echo "ncu exit $?"
  grep -E "int8_conv_kernel|int8_pointwise_kernel|Duration|Throughput|Registers|Achieved Occupancy|Stall" "$B/results/ncu.txt" | head -80
  tar -C "$B" -czf "$OUT/kernels.tar.gz" results
fi
