// ONNX Runtime's per-node kernel times for one model, to set beside `kiln bench --profile`:
//
//   NODE_PATH=bench/node_modules node bench/ort_layer_profile.js MODEL.onnx BATCH RUNS > ort_profile.txt
//   /usr/bin/python3 bench/compare_layer_profiles.py kiln_profile.log ort_profile.txt
//
// Session options as bench/ort_runner.js (2 intra-op threads by default: --threads N, optimization 'all',
// sequential). Runs RUNS + 2 times (the first two untimed) with ORT's profiler on, and prints the median kernel
// time of every node (ms, tab-separated: time, ORT's node name, op type), slowest first, after a "total" line.
'use strict';
const fs = require('fs');
const os = require('os');
const ort = require('onnxruntime-node');

const args = process.argv.slice(2);
const [model, batchArg, runsArg] = args;
if (!model || !batchArg || !runsArg) {
  console.error('usage: node ort_layer_profile.js MODEL.onnx BATCH RUNS [--threads N]');
  process.exit(2);
}
const batch = +batchArg, runs = +runsArg;
const ti = args.indexOf('--threads');
const threads = ti >= 0 ? +args[ti + 1] : 2;

(async () => {
  const prefix = `${os.tmpdir()}/ort_layer_profile_${process.pid}`;
  const s = await ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1,
    graphOptimizationLevel: 'all', executionMode: 'sequential', enableProfiling: true, profileFilePrefix: prefix });
  const meta = s.inputMetadata ? s.inputMetadata[0] : null;
  const dims = meta && meta.shape ? meta.shape.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? batch : 1))
                                  : [batch, 3, 224, 224];
  dims[0] = batch;
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n).map((_, i) => ((i * 7919) % 1000) / 1000);
  const feeds = { [s.inputNames[0]]: new ort.Tensor('float32', data, dims) };
  for (let i = 0; i < runs + 2; ++i) await s.run(feeds);
  s.endProfiling();
  const per = {};
  for (const f of fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith(prefix.split('/').pop()))) {
    const path = `${os.tmpdir()}/${f}`;
    const events = JSON.parse(fs.readFileSync(path, 'utf8')).filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
    // The first two runs' events are the warm-up: drop each node's first two samples.
    const seen = {};
    for (const e of events) {
      const key = e.name.replace(/_kernel_time$/, '') + '\t' + e.args.op_name;
      seen[key] = (seen[key] || 0) + 1;
      if (seen[key] > 2) (per[key] = per[key] || []).push(e.dur / 1000);
    }
    fs.unlinkSync(path);
  }
  const rows = Object.entries(per).map(([k, v]) => { v.sort((a, b) => a - b); return [k, v[Math.floor(v.length / 2)]]; });
  rows.sort((a, b) => b[1] - a[1]);
  console.log('total\t' + rows.reduce((t, r) => t + r[1], 0).toFixed(3));
  for (const [k, v] of rows) console.log(v.toFixed(4) + '\t' + k);
})();
