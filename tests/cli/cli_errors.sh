#!/usr/bin/env bash
# The `kiln` command gives specific errors and a non-zero exit on bad input, never a crash.
#   tests/cli/cli_errors.sh PATH/TO/kiln SHARED_DIR
set -u
kiln=$1
shared=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

expect_error() {  # expect_error "message fragment" command...
  local want=$1
  shift
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 128 ] || ! grep -qF -- "$want" <<< "$out"; then
    echo "FAIL: '$*' exited $rc; expected an error containing: $want"
    echo "  got: $out"
    failures=$((failures + 1))
  fi
}

expect_error "ONNX model not found: $tmp/missing.onnx" "$kiln" run "$tmp/missing.onnx"
printf 'not a model' > "$tmp/text.onnx"
expect_error "not an ONNX model" "$kiln" inspect "$tmp/text.onnx"
expect_error "not found" "$kiln" run "$tmp/missing.kiln"
printf 'garbage garbage garbage garbage garbage garbage garbage garbage garbage' > "$tmp/bad.kiln"
expect_error "$tmp/bad.kiln" "$kiln" inspect "$tmp/bad.kiln"
expect_error "--batch" "$kiln" build "$tmp/text.onnx" --batch 4:2:1
expect_error "unknown precision" "$kiln" build "$tmp/text.onnx" --precision fp12

model=$shared/models/mnist_8/model.onnx
if [ -f "$model" ]; then
  head -c 3000 "$model" > "$tmp/truncated.onnx"
  expect_error "truncated" "$kiln" inspect "$tmp/truncated.onnx"
  expect_error "no value given for input 'Input3'" "$kiln" run "$model"
  expect_error ".npy file not found" "$kiln" run "$model" --input "$tmp/none.npy"
  "$kiln" build "$model" --precision fp32 -o "$tmp" > /dev/null 2>&1 || { echo "FAIL: build mnist"; failures=$((failures + 1)); }
  printf 'mine' > "$tmp/notmine_fp32.kiln"
  cp "$model" "$tmp/notmine.onnx"
  expect_error "not a kiln engine; refusing to overwrite" "$kiln" build "$tmp/notmine.onnx" --precision fp32 -o "$tmp"
  [ "$(cat "$tmp/notmine_fp32.kiln")" = "mine" ] || { echo "FAIL: user file was overwritten"; failures=$((failures + 1)); }
  # GPU-only options on a CPU build, and a GPU build where there is no GPU (or no CUDA backend compiled in).
  expect_error "precision tf32 is for GPU engines (--device cuda)" "$kiln" build "$model" --precision tf32 -o "$tmp"
  expect_error "--allow-cpu-fallback is for GPU engines" "$kiln" build "$model" --allow-cpu-fallback -o "$tmp"
  expect_error "--no-stem-space-to-depth is for GPU engines" "$kiln" build "$model" --no-stem-space-to-depth -o "$tmp"
  expect_error "--device" "$kiln" build "$model" --device metal -o "$tmp"
  expect_error "--tactic-sources is for GPU engines" "$kiln" build "$model" --tactic-sources kiln -o "$tmp"
  expect_error "--knob-variants is for GPU engines" "$kiln" build "$model" --knob-variants 8 -o "$tmp"
  expect_error "--knob-variants must be 0 to 64, got 65" "$kiln" build "$model" --device cuda --knob-variants 65 -o "$tmp"
  # Checked before the GPU is looked for: a bad source is named on any machine.
  expect_error "unknown source 'tensorrt' (expected cudnn, cublaslt or kiln" "$kiln" build "$model" --device cuda \
    --tactic-sources cudnn,tensorrt -o "$tmp"
  if [ ! -e /dev/nvidia0 ]; then
    out=$("$kiln" build "$model" --device cuda -o "$tmp/gpu" 2>&1)
    rc=$?
    if [ $rc -eq 0 ] || [ $rc -ge 128 ] || ! grep -qE "building a cuda engine needs a GPU|built without the CUDA backend" <<< "$out"; then
      echo "FAIL: --device cuda without a GPU exited $rc: $out"
      failures=$((failures + 1))
    fi
    [ ! -e "$tmp/gpu/model_fp32.kiln" ] || { echo "FAIL: a failed GPU build left an engine"; failures=$((failures + 1)); }
  fi
  expect_error "is a cpu engine, not cuda (build it with --device cuda)" "$kiln" bench "$tmp/model_fp32.kiln" --device cuda
  head -c 5000 "$tmp/model_fp32.kiln" > "$tmp/cut.kiln"
  expect_error "truncated" "$kiln" run "$tmp/cut.kiln"
else
  echo "shared models not found at $shared; skipping the model-based checks"
fi

if [ $failures -eq 0 ]; then echo "cli error checks: all passed"; exit 0; fi
echo "cli error checks: $failures failed"
exit 1
