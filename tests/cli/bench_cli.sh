#!/usr/bin/env bash
# `kiln bench` on the bundled Fashion-MNIST model: the JSON report is complete and consistent, a batch
# outside the engine's profile is refused with the allowed range, and --profile names each layer's kernel.
# Durations are tiny: the point is the report's shape, not the speed.
#   tests/cli/bench_cli.sh PATH/TO/kiln SOURCE_DIR
set -u
kiln=$1
source_dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

model=$source_dir/models/fashion_mnist_mobilenet.onnx
"$kiln" build "$model" --precision fp32 -o "$tmp" > "$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; echo "FAIL: build"; exit 1; }
engine=$tmp/fashion_mnist_mobilenet_fp32.kiln

# Two batch sizes, JSON report: every statistic present and ordered as percentiles must be.
if "$kiln" bench "$engine" --batch 1,4 --duration 0.3 --warmup 0.05 --iterations-min 3 --json "$tmp/bench.json" \
    > "$tmp/bench.out" 2>&1; then
  python3 - "$tmp/bench.json" "$engine" <<'EOF' || fail "JSON report checks"
import json, sys
report = json.load(open(sys.argv[1]))
for key in ("engine", "precision", "backend", "threads", "cpu", "date", "results"):
    assert key in report, f"missing key {key}"
assert report["engine"] == sys.argv[2] and report["precision"] == "fp32", report
results = report["results"]
assert [r["batch"] for r in results] == [1, 4], results
for r in results:
    lat = r["latency_ms"]
    assert r["runs"] >= 3, r
    assert r["throughput"] > 0, r
    assert 0 < lat["min"] <= lat["median"] <= lat["p90"] <= lat["p95"] <= lat["p99"] <= lat["max"], lat
    assert lat["min"] <= lat["mean"] <= lat["max"], lat
    assert "profile" not in r, "profile without --profile"
EOF
  grep -qE '^ +4 +[0-9]+ ' "$tmp/bench.out" || fail "no table row for batch 4 in: $(cat "$tmp/bench.out")"
else
  fail "kiln bench --batch 1,4 exited non-zero: $(cat "$tmp/bench.out")"
fi

expect_error() {  # expect_error "message fragment" command...
  local want=$1
  shift
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ $rc -ne 1 ] || ! grep -qF -- "$want" <<< "$out"; then
    fail "'$*' exited $rc; expected exit 1 and an error containing: $want"
    echo "  got: $out"
  fi
}

# The default profile is 1:16:32.
expect_error "allowed range" "$kiln" bench "$engine" --batch 64 --duration 0.01
expect_error "1 to 32" "$kiln" bench "$engine" --batch 64 --duration 0.01
expect_error "--batch: 'x' is not a positive integer" "$kiln" bench "$engine" --batch 1,x
expect_error "--duration must be" "$kiln" bench "$engine" --duration 0
expect_error "engine file not found" "$kiln" bench "$tmp/missing.kiln"
expect_error "refusing to overwrite" "$kiln" bench "$engine" --duration 0.01 --json "$engine"
"$kiln" inspect "$engine" > /dev/null 2>&1 || fail "--json pointed at the engine damaged it"

# --profile: a per-layer table (node, op_type, kernel, median ms, %) with a kernel on every row.
if "$kiln" bench "$engine" --batch 1 --duration 0.05 --warmup 0 --iterations-min 1 --profile --json "$tmp/profile.json" \
    > "$tmp/profile.out" 2>&1; then
  rows=$(awk '/^per-layer profile/ {on = 1; getline; next} on && NF == 0 {on = 0} on' "$tmp/profile.out")
  [ -n "$rows" ] || fail "no per-layer rows in: $(cat "$tmp/profile.out")"
  # Columns from the right: %, median ms, kernel; node names have no spaces.
  bad=$(awk 'NF < 5 || $(NF - 2) == "" || $NF !~ /%$/' <<< "$rows")
  [ -z "$bad" ] || fail "per-layer rows without a kernel column: $bad"
  python3 - "$tmp/profile.json" <<'EOF' || fail "JSON profile checks"
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
layers = r["profile"]
assert layers and all(l["kernel"] and l["node"] and l["op_type"] for l in layers), layers
times = [l["median_ms"] for l in layers]
assert times == sorted(times, reverse=True), "layers not sorted by time"
assert abs(sum(l["percent"] for l in layers) - 100) < 0.5 or sum(times) == 0
assert sum(t["layers"] for t in r["profile_by_op_type"]) == len(layers)
EOF
else
  fail "kiln bench --profile exited non-zero: $(cat "$tmp/profile.out")"
fi

if [ $failures -eq 0 ]; then echo "bench cli checks: all passed"; exit 0; fi
echo "bench cli checks: $failures failed"
exit 1
