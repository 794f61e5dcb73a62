// The HTML report: one self-contained page. The data is embedded as JSON; inline JavaScript draws every
// chart as SVG (no canvas fonts, no network, no external files), then marks <body data-charts-drawn="N">.
#include <string>

#include "compare/report.h"

namespace kiln {

namespace {

// Page skeleton; @DATA@ is replaced by the JSON of the result.
constexpr const char* kPage = R"HTML(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kiln compare</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #1f2328;
       background: #fff; max-width: 1200px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
.meta { color: #57606a; font-size: 13px; margin: 2px 0; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; margin-top: 8px; }
th, td { padding: 4px 8px; border-bottom: 1px solid #d0d7de; text-align: right; white-space: nowrap; }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
th { background: #f6f8fa; }
.grid { display: flex; flex-wrap: wrap; gap: 16px; }
.chart { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 12px; }
.chart h3 { font-size: 14px; margin: 0 0 4px; }
.note { color: #57606a; font-size: 12px; }
code { background: #f6f8fa; padding: 1px 4px; border-radius: 4px; }
svg text { font-family: inherit; font-size: 12px; fill: #1f2328; }
</style></head>
<body>
<h1>kiln compare</h1>
<div id="meta"></div>
<h2>Engines</h2>
<div id="table"></div>
<div class="grid" id="charts"></div>
<div id="layers"></div>
<script type="application/json" id="compare-data">@DATA@</script>
<script>
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("compare-data").textContent);
  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = { fp32: "#0969da", fp16: "#1a7f37", int8: "#bc4c00", onnx: "#6e7781" };
  var drawn = 0;

  function el(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function html(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function fmt(v, digits) {
    if (v === null || v === undefined) return "-";
    if (Math.abs(v) >= 1000) return v.toFixed(0);
    return Number(v.toPrecision(digits || 3)).toString();
  }
  function pct(v) { return v === null || v === undefined ? "-" : (100 * v).toFixed(1) + "%"; }
  function color(e) { return COLORS[e.precision] || "#8250df"; }

  // Horizontal bar chart. rows: [{label, value, text, color}]; series > 1 draws grouped bars per row.
  function barChart(parent, title, note, rows, series, opts) {
    series = series || [{ key: "value", name: "" }];
    opts = opts || {};
    var labelW = opts.labelW || 170, barW = opts.barW || 300, textW = opts.textW || 130, maxLabel = opts.maxLabel || 26, rowH = 18 * series.length + 8, top = series.length > 1 ? 22 : 4;
    var max = 0;
    rows.forEach(function (r) {
      series.forEach(function (s) { var v = r[s.key]; if (v > max) max = v; });
      if (r.whisker > max) max = r.whisker;  // the p99 whisker must fit too
    });
    if (!(max > 0)) max = 1;
    var h = top + rows.length * rowH + 4;
    var svg = el("svg", { width: labelW + barW + textW, height: h, role: "img", "aria-label": title });
    if (series.length > 1)
      series.forEach(function (s, i) {
        svg.appendChild(el("rect", { x: labelW + i * 100, y: 4, width: 10, height: 10, fill: s.color }));
        svg.appendChild(el("text", { x: labelW + i * 100 + 14, y: 13 }, s.name));
      });
    rows.forEach(function (r, i) {
      var y = top + i * rowH;
      var label = r.label.length > maxLabel ? "…" + r.label.slice(1 - maxLabel) : r.label;
      var lt = el("text", { x: labelW - 6, y: y + rowH / 2 + 4, "text-anchor": "end" }, label);
      lt.appendChild(el("title", {}, r.label));
      svg.appendChild(lt);
      series.forEach(function (s, k) {
        var v = r[s.key], by = y + 4 + k * 18;
        if (v === null || v === undefined || !isFinite(v)) {
          svg.appendChild(el("text", { x: labelW + 4, y: by + 12, fill: "#57606a" }, r[s.key + "Text"] || "n/a"));
          return;
        }
        var w = Math.max(1, barW * Math.max(0, v) / max);
        svg.appendChild(el("rect", { x: labelW, y: by, width: w, height: 14, rx: 2,
                                     fill: s.color || r.color || "#0969da" }));
        if (r.whisker !== undefined && k === 0) {
          var wx = labelW + barW * r.whisker / max;
          svg.appendChild(el("line", { x1: labelW + w, x2: wx, y1: by + 7, y2: by + 7, stroke: "#1f2328" }));
          svg.appendChild(el("line", { x1: wx, x2: wx, y1: by + 2, y2: by + 12, stroke: "#1f2328" }));
        }
        var tx = labelW + Math.max(w, r.whisker !== undefined && k === 0 ? barW * r.whisker / max : 0) + 4;
        svg.appendChild(el("text", { x: tx, y: by + 11 }, r[s.key + "Text"] || fmt(v)));
      });
    });
    var box = html("div", undefined, "chart");
    box.appendChild(html("h3", title));
    box.appendChild(svg);
    if (note) box.appendChild(html("div", note, "note"));
    parent.appendChild(box);
    drawn++;
  }

  // Vertical bars of a per-layer series along graph order (error growth through the network).
  function depthChart(parent, title, note, layers) {
    var w = 860, h = 180, top = 10, left = 50, bottom = 20, n = layers.length;
    var max = 0;
    layers.forEach(function (l) { if (l.error !== null && l.error > max) max = l.error; });
    if (!(max > 0)) max = 1;
    var root = el("svg", { width: w, height: top + h + bottom, role: "img", "aria-label": title });
    var svg = el("g", { transform: "translate(0," + top + ")" });
    root.appendChild(svg);
    for (var t = 0; t <= 4; t++) {
      var y = h - h * t / 4;
      svg.appendChild(el("line", { x1: left, x2: w, y1: y, y2: y, stroke: "#eaeef2" }));
      svg.appendChild(el("text", { x: left - 4, y: y + 4, "text-anchor": "end" }, fmt(max * t / 4, 2)));
    }
    var bw = (w - left) / Math.max(n, 1);
    layers.forEach(function (l, i) {
      var v = l.error === null ? max : l.error, bh = h * v / max;
      var r = el("rect", { x: left + i * bw, y: h - bh, width: Math.max(bw - 1, 1), height: bh,
                           fill: l.added > 0.5 * max ? "#cf222e" : "#0969da" });
      r.appendChild(el("title", {}, l.node + " (" + l.op_type + "): error " + fmt(l.error) + ", added " + fmt(l.added)));
      svg.appendChild(r);
    });
    svg.appendChild(el("text", { x: left, y: h + 15 }, "graph input"));
    svg.appendChild(el("text", { x: w, y: h + 15, "text-anchor": "end" }, "graph output"));
    var box = html("div", undefined, "chart");
    box.appendChild(html("h3", title));
    box.appendChild(root);
    if (note) box.appendChild(html("div", note, "note"));
    parent.appendChild(box);
    drawn++;
  }

  var meta = document.getElementById("meta");
  meta.appendChild(html("div", "Data: " + data.data, "meta"));
  meta.appendChild(html("div", data.samples + " samples; input " + data.input + "; scores from output '" +
                        data.output + "'; the first engine is the reference.", "meta"));

  var engines = data.engines;
  var table = html("table");
  var head = ["engine", "precision", "size", "top-1", "top-5", "agreement", "max abs", "mean abs", "cosine",
              "SNR dB", "p50 ms", "p99 ms", "samples/s"];
  var tr = html("tr");
  head.forEach(function (h) { tr.appendChild(html("th", h)); });
  table.appendChild(tr);
  engines.forEach(function (e, i) {
    var s = e.outputs.length ? e.outputs[0].error : {};
    var t = e.timing || {};
    var ref = i === 0;
    var cells = [e.name, e.precision, (e.file_bytes / 1048576).toFixed(2) + " MiB", pct(e.top1), pct(e.top5),
                 ref ? "reference" : pct(e.top1_agreement), ref ? "-" : fmt(s.max_abs), ref ? "-" : fmt(s.mean_abs),
                 ref ? "-" : fmt(s.cosine, 6), ref ? "-" : (s.snr_db === null ? "exact" : s.snr_db.toFixed(1)),
                 fmt(t.latency_p50_ms), fmt(t.latency_p99_ms), fmt(t.samples_per_s)];
    var row = html("tr");
    cells.forEach(function (c) { row.appendChild(html("td", c)); });
    table.appendChild(row);
  });
  var scroll = html("div", undefined, "scroll");
  scroll.appendChild(table);
  document.getElementById("table").appendChild(scroll);

  var charts = document.getElementById("charts");
  function rows(f) {
    return engines.map(function (e) { var r = f(e); r.label = e.name; r.color = color(e); return r; });
  }
  barChart(charts, "File size (MiB)", "smaller is better", rows(function (e) {
    return { value: e.file_bytes / 1048576, valueText: (e.file_bytes / 1048576).toFixed(2) + " MiB" };
  }));
  var timed = engines.filter(function (e) { return e.timing; }).length > 0;
  if (timed) {
    var t0 = engines[0].timing || {};
    barChart(charts, "Latency at batch " + t0.latency_batch + " (ms)", "bar: p50, whisker: p99; smaller is better",
             rows(function (e) {
               var t = e.timing || {};
               return { value: t.latency_p50_ms, whisker: t.latency_p99_ms,
                        valueText: fmt(t.latency_p50_ms) + " / " + fmt(t.latency_p99_ms) };
             }));
    barChart(charts, "Throughput (samples/s)", "at each engine's profile opt batch; larger is better",
             rows(function (e) {
               var t = e.timing || {};
               return { value: t.samples_per_s, valueText: fmt(t.samples_per_s) + " (batch " + t.throughput_batch + ")" };
             }));
  }
  var series = [];
  if (data.has_labels) {
    series.push({ key: "top1", name: "top-1", color: "#0969da" });
    series.push({ key: "top5", name: "top-5", color: "#54aeff" });
  }
  series.push({ key: "agree", name: "agreement", color: "#8250df" });
  barChart(charts, data.has_labels ? "Accuracy and top-1 agreement with the reference (%)"
                                   : "Top-1 agreement with the reference (%)", "larger is better",
           engines.map(function (e) {
             return { label: e.name, top1: e.top1 === null ? null : 100 * e.top1, top1Text: pct(e.top1),
                      top5: e.top5 === null ? null : 100 * e.top5, top5Text: pct(e.top5),
                      agree: 100 * e.top1_agreement, agreeText: pct(e.top1_agreement) };
           }), series);
  if (engines.length > 1)
    barChart(charts, "Output SNR vs the reference (dB)", "10·log10(Σref² / Σerr²); larger is better",
             rows(function (e) {
               var s = e.outputs.length ? e.outputs[0].error : {};
               return { value: s.snr_db, valueText: s.snr_db === null ? "exact" : s.snr_db.toFixed(1) + " dB" };
             }).slice(1));

  if (data.per_layer) {
    var p = data.per_layer, box = document.getElementById("layers");
    box.appendChild(html("h2", "Per-layer error: " + p.candidate + " vs " + p.reference));
    box.appendChild(html("div", p.layers.length + " of " + p.reference_values + " values matched, " + p.samples +
                         " samples. Error: " + p.metric + ".", "meta"));
    var worst = p.layers.slice(0, 25);
    barChart(box, "Layers that add the most error (top " + worst.length + ")",
             "added = error(output) − max error(inputs); the remedy: kiln build --keep-fp32 NODE for the worst layers",
             worst.map(function (l) {
               return { label: l.node, value: l.added, valueText: fmt(l.added) + " (" + l.op_type + ")",
                        color: "#cf222e" };
             }), undefined, { labelW: 420, barW: 340, textW: 170, maxLabel: 62 });
    var byDepth = p.layers.slice().sort(function (a, b) { return a.position - b.position; });
    depthChart(box, "Error through the network (relative RMS per matched value, graph order)",
               "red: layers whose added error exceeds half the largest error; hover a bar for its node", byDepth);
    if (p.suggested_keep_fp32.length) {
      var s = html("p");
      s.appendChild(document.createTextNode("Suggested rebuild: "));
      s.appendChild(html("code", "kiln build ... --keep-fp32 " + p.suggested_keep_fp32.join(",")));
      box.appendChild(s);
    }
  }
  document.body.setAttribute("data-charts-drawn", String(drawn));
})();
</script>
</body></html>
)HTML";

// JSON inside <script>: "</" would end the element early, so escape it (JSON allows "\/").
std::string embed_json(const std::string& json) {
  std::string out;
  out.reserve(json.size());
  for (size_t i = 0; i < json.size(); ++i) {
    if (json[i] == '<' && i + 1 < json.size() && json[i + 1] == '/') out += "<\\";
    else out += json[i];
  }
  return out;
}

}  // namespace

std::string render_html_report(const CompareResult& r) {
  std::string page = kPage;
  std::string data = embed_json(compare_result_to_json(r).dump());
  size_t at = page.find("@DATA@");
  page.replace(at, 6, data);
  return page;
}

}  // namespace kiln
