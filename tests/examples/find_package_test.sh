#!/bin/sh
# package.find_package: install the build tree into a temporary prefix, build examples/ on its own against it
# with find_package(kiln), check that the program does not link protobuf/libonnx (link command and ldd), and run
# it on the flowers engine (built with the installed `kiln`), or, without the shared models, with no arguments.
# Usage: find_package_test.sh CMAKE BUILD_DIR SOURCE_DIR GENERATOR SHARED_DIR WORK_DIR
set -eu
cmake=$1 build=$2 source=$3 generator=$4 shared=$5 work=$6
prefix=$work/prefix example_build=$work/example-build
rm -rf "$work" && mkdir -p "$work"

"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log"
for f in include/kiln/kiln.h lib/cmake/kiln/kilnConfig.cmake lib/cmake/kiln/kilnConfigVersion.cmake \
         lib/cmake/kiln/kilnRuntimeTargets.cmake lib/cmake/kiln/kilnBuilderTargets.cmake; do
  [ -f "$prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
# Consumers see include/kiln only: no internal header may be installed.
if [ -n "$(find "$prefix/include" -type f ! -path "*/include/kiln/*")" ]; then
  echo "FAIL: headers outside include/kiln installed"; exit 1
fi

launcher=
command -v ccache >/dev/null 2>&1 && launcher=-DCMAKE_CXX_COMPILER_LAUNCHER=ccache
"$cmake" -S "$source/examples" -B "$example_build" -G "$generator" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix" $launcher >"$work/configure.log" || { cat "$work/configure.log"; exit 1; }
"$cmake" --build "$example_build" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
infer=$example_build/infer

# The link command of `infer` (kiln::runtime only): no protobuf, no libonnx.
case $generator in
  Ninja*) ninja -C "$example_build" -t commands infer | tail -n 1 >"$work/link.txt" ;;
  *) cp "$example_build/CMakeFiles/infer.dir/link.txt" "$work/link.txt" ;;
esac
echo "link: $(cat "$work/link.txt")"
grep -q 'libkiln_runtime\.a' "$work/link.txt" || { echo "FAIL: infer does not link libkiln_runtime.a"; exit 1; }
if grep -Eqi 'protobuf|onnx\.|onnx_proto|libkiln_(onnx|builder|passes)' "$work/link.txt"; then
  echo "FAIL: kiln::runtime pulls protobuf/libonnx/the builder"; exit 1
fi
if ldd "$infer" | grep -Eqi 'protobuf|libonnx'; then
  echo "FAIL: infer loads protobuf/libonnx:"; ldd "$infer"; exit 1
fi

# kiln::builder from the same package: links protobuf/libonnx and builds an engine.
consumer_build=$work/builder-consumer-build
"$cmake" -S "$source/tests/examples/builder_consumer" -B "$consumer_build" -G "$generator" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix" $launcher >"$work/consumer-configure.log" || { cat "$work/consumer-configure.log"; exit 1; }
"$cmake" --build "$consumer_build" >"$work/consumer-build.log" 2>&1 || { cat "$work/consumer-build.log"; exit 1; }

model_dir=$shared/models/st_mobilenet_v2_0.35_128_flowers_fp32
if [ -d "$model_dir" ]; then
  "$consumer_build/build_and_load" "$model_dir/mobilenet_v2_0.35_128_tfs_channel_first.onnx" "$work/consumer.kiln"
  "$prefix/bin/kiln" -q build "$model_dir/mobilenet_v2_0.35_128_tfs_channel_first.onnx" --precision fp32 -o "$work" >/dev/null
  "$infer" "$work"/*_fp32.kiln "$shared/images/ort_examples/tulip.jpg" --labels "$model_dir/labels_tf_flowers.txt" \
      --scale 0.0078431373 --mean 1 --std 1 | tee "$work/infer.txt"
  grep -q '^1\. tulips ' "$work/infer.txt" || { echo "FAIL: top-1 is not tulips"; exit 1; }
else
  # No engine to run: the program must still start and print its usage.
  status=0; "$infer" 2>"$work/usage.txt" || status=$?
  [ "$status" -eq 2 ] && grep -q usage "$work/usage.txt" || { echo "FAIL: infer did not run"; exit 1; }
fi
echo "PASS"
