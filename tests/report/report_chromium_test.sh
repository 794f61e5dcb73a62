#!/bin/sh
# Renders kiln compare's HTML report in headless Chromium and checks that its inline JavaScript drew every
# chart (the page sets <body data-charts-drawn="N">). Exit 77 (skipped) when Chromium is not installed.
# usage: report_chromium_test.sh MAKE_SAMPLE_REPORT WORK_DIR
set -eu
make_report=$1
work=$2
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "chromium not installed (apt-get install chromium): skipping"
  exit 77
fi
rm -rf "$work"
mkdir -p "$work"
"$make_report" "$work/report.html"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# --no-sandbox: tests may run as root. No network is needed: the page is self-contained.
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
  --dump-dom "file://$work/report.html" > "$work/dom.html" 2> "$work/chromium.log" || {
  echo "chromium failed:"; tail -20 "$work/chromium.log"; exit 1; }
# size, latency, throughput, accuracy, SNR, per-layer ranking, error through the network
if ! grep -q 'data-charts-drawn="7"' "$work/dom.html"; then
  echo "expected data-charts-drawn=\"7\" in the rendered page; got:"
  grep -o 'data-charts-drawn="[0-9]*"' "$work/dom.html" || echo "(no marker: the script failed)"
  exit 1
fi
svgs=$(grep -o '<svg' "$work/dom.html" | wc -l)
[ "$svgs" -eq 7 ] || { echo "expected 7 <svg> charts, found $svgs"; exit 1; }
# The data text must be shown as text, not markup (it holds "<b>" and "</script>").
grep -q '&lt;b&gt;not bold&lt;/b&gt;' "$work/dom.html" || { echo "data description was not escaped"; exit 1; }
grep -q 'keep-fp32 /features/conv6/Conv' "$work/dom.html" || { echo "no --keep-fp32 suggestion"; exit 1; }
echo "report rendered: 7 charts"
