#!/usr/bin/env bash
# Engine size and build time per precision for the benchmark models (issue "Engines" bars):
#   bench/engine_build.sh [RUNS]   → bench/results/engine_build_<date>.json
# Needs bench/models/*.onnx (bench/export_models.py) and a built kiln (build/tools/kiln).
set -euo pipefail
cd "$(dirname "$0")/.."
KILN=${KILN:-build/tools/kiln}
RUNS=${1:-5}
out_dir=$(mktemp -d)
date_tag=$(date -u +%Y-%m-%d)
result=bench/results/engine_build_${date_tag}.json
cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
{
  echo "{"
  echo "  \"command\": \"bench/engine_build.sh $RUNS\","
  echo "  \"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
  echo "  \"machine\": {\"cpu\": \"$cpu\", \"cores\": $(nproc), \"memory_gib\": $(free -g | awk '/Mem:/ {print $2}')},"
  echo "  \"kiln_backend\": \"cpu (reference kernels)\","
  echo "  \"models\": {"
  first_model=1
  for model in bench/models/*.onnx; do
    name=$(basename "$model" .onnx)
    weights=$("$KILN" inspect --json "$model" | grep -A3 weight_bytes_by_dtype | grep -o '"f32": [0-9]*' | grep -o '[0-9]*$')
    [ $first_model -eq 1 ] || echo ","
    first_model=0
    echo "    \"$name\": {\"onnx_weight_bytes\": $weights,"
    first_p=1
    for precision in fp32 fp16; do
      times=()
      for _ in $(seq "$RUNS"); do
        start=$(date +%s.%N)
        "$KILN" build "$model" --precision $precision -o "$out_dir" > /dev/null 2>&1
        end=$(date +%s.%N)
        times+=("$(printf '%.4f' "$(echo "$end - $start" | bc)")")
      done
      median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
      bytes=$(stat -c %s "$out_dir/${name}_${precision}.kiln")
      [ $first_p -eq 1 ] || echo ","
      first_p=0
      printf '      "%s": {"engine_bytes": %s, "build_seconds_median": %s, "build_seconds_runs": [%s]}' \
        "$precision" "$bytes" "$median" "$(IFS=,; echo "${times[*]}")"
    done
    fp32=$(stat -c %s "$out_dir/${name}_fp32.kiln"); fp16=$(stat -c %s "$out_dir/${name}_fp16.kiln")
    echo ","
    printf '      "fp16_vs_fp32": %s, "fp32_vs_onnx_weights": %s}' "$(printf '%.4f' "$(echo "scale=6; $fp16 / $fp32" | bc)")" \
      "$(printf '%.4f' "$(echo "scale=6; $fp32 / $weights" | bc)")"
  done
  echo
  echo "  }"
  echo "}"
} > "$result"
rm -rf "$out_dir"
cat "$result"
