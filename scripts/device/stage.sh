#!/bin/bash
# Stages what a run on the lent GPU machine needs into .stage/kiln-stage.tar.xz (ignored by git; name
# `.stage` in the device call's `carry`). That machine (Ubuntu 24.04, CUDA 13, cuDNN 9) has no protobuf,
# libonnx or oneDNN, so kiln and the CUDA tests are built here (nvcc for sm_80 and sm_90; such binaries run
# there unchanged) and travel with the Debian libraries they link, plus the shared models the tests use and
# the PyTorch peer script. scripts/device/run_cuda.sh unpacks and runs it there.
#
#   scripts/device/stage.sh            # then: device run, carry [".stage"], command "scripts/device/run_cuda.sh all"
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-cuda}
SHARED=${KILN_SHARED_DIR:-$ROOT/../shared}
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DKILN_CUDA=ON -DKILN_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$BUILD" --target kiln cuda_tests -j"${JOBS:-2}"

STAGE="$ROOT/.stage"
PKG="$STAGE/pkg"
rm -rf "$PKG" && mkdir -p "$PKG/bin" "$PKG/lib" "$PKG/models"
cp "$BUILD/tools/kiln" "$BUILD/tests/cuda_tests" "$PKG/bin/"
strip "$PKG/bin/"*
# Every library they link except glibc's, the C++ runtime's (newer there) and CUDA's own (installed there).
ldd "$PKG/bin/kiln" "$PKG/bin/cuda_tests" | awk '/=>/ {print $3}' | sort -u |
  grep -v -E '/(libc|libm|libdl|librt|libpthread|libstdc\+\+|libgcc_s|ld-linux[^/]*)\.so|/usr/local/cuda' |
  while read -r lib; do cp -L "$lib" "$PKG/lib/"; done
# The shared models the CUDA model tests read (../shared does not travel).
for m in squeezenet1.0 st_mobilenet_v2_0.35_128_flowers_fp32 ultraface mnist_8 onnx_light_untrained; do
  [ -d "$SHARED/models/$m" ] && cp -r "$SHARED/models/$m" "$PKG/models/"
done
# Photos to calibrate INT8 engines on (the bench builds them there).
[ -d "$SHARED/images" ] && cp -r "$SHARED/images" "$PKG/images"
cp "$SHARED/peers/torch_gpu_baseline.py" "$PKG/" 2>/dev/null || true
tar -C "$STAGE" -cJf "$STAGE/kiln-stage.tar.xz" pkg
rm -rf "$PKG"
ls -la "$STAGE/kiln-stage.tar.xz"
