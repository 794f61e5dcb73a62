// ONNX Runtime (CPU) timed the way `kiln bench` times an engine, for bench/cpu_vs_ort.sh.
//
//   NODE_PATH=bench/node_modules node bench/ort_runner.js MODEL.onnx [--batch 1,16] [--duration 3] [--warmup 0.2]
//       [--iterations-min 10] [--threads N] [--precision LABEL] [--json FILE] [--op-counts]
//
// Session options are those of ../shared/peers/ort_bench.js (intra-op threads = --threads, one inter-op
// thread, graph optimization 'all', sequential execution). Timing follows tools/cmd_bench.cc: per batch size,
// --warmup seconds of untimed runs (at least one), then timed runs until --duration seconds have passed and at
// least --iterations-min ran; throughput = batch * runs / wall time of the timed runs; latency percentiles are
// nearest-rank over the individual runs. Inputs: every input of the model, shapes from the model with the
// symbolic (or first) dimension set to the batch; floats uniform in [0, 1) from a seeded generator, like kiln
// bench. Output: the JSON of `kiln bench --json` ({engine, precision, backend, threads, cpu, date, results}),
// on stdout and in --json FILE. --op-counts adds "executed_ops": how many nodes of each op type ONNX Runtime
// executed in one run after its graph optimizations (from its profiler, in a separate session), which shows
// whether a Q/DQ model became integer kernels (QLinearConv, ...) or stayed DequantizeLinear + float Conv.
'use strict';
const fs = require('fs');
const os = require('os');
const ort = require('onnxruntime-node');

const args = process.argv.slice(2);
const opt = (k, d) => { const i = args.indexOf('--' + k); return i >= 0 ? args[i + 1] : d; };
const model = args[0];
if (!model || model.startsWith('--')) {
  console.error('usage: node ort_runner.js MODEL.onnx [--batch 1,16] [--duration 3] [--warmup 0.2] ' +
    '[--iterations-min 10] [--threads N] [--precision LABEL] [--json FILE] [--op-counts]');
  process.exit(2);
}
const threads = +opt('threads', os.cpus().length);
const duration = +opt('duration', 3), warmup = +opt('warmup', 0.2), itersMin = +opt('iterations-min', 10);
const batches = opt('batch', '1').split(',').map(Number);
const precision = opt('precision', 'fp32');
const jsonPath = opt('json', '');
const opCounts = args.includes('--op-counts');

// mulberry32: small seeded generator, uniform in [0, 1).
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeTensor(meta, batch, seed) {
  const type = meta && meta.type ? meta.type : 'float32';
  const shape = meta && meta.shape ? meta.shape : [batch, 3, 224, 224];
  // Dimension 0 is the batch; any other symbolic dimension becomes 1.
  const dims = shape.map((d, i) => (i === 0 ? batch : typeof d === 'number' && d > 0 ? d : 1));
  const n = dims.reduce((a, b) => a * b, 1);
  const r = rng(seed);
  let data;
  switch (type) {
    case 'float32': data = new Float32Array(n); for (let i = 0; i < n; i++) data[i] = r(); break;
    case 'float64': data = new Float64Array(n); for (let i = 0; i < n; i++) data[i] = r(); break;
    case 'uint8': data = new Uint8Array(n); for (let i = 0; i < n; i++) data[i] = Math.floor(r() * 256); break;
    case 'int8': data = new Int8Array(n); for (let i = 0; i < n; i++) data[i] = Math.floor(r() * 256) - 128; break;
    case 'int64': data = new BigInt64Array(n); break;  // zeros: always valid for indices and lengths
    case 'int32': data = new Int32Array(n); break;
    default: throw new Error(`input '${meta.name}' has type ${type}, which ort_runner.js cannot generate`);
  }
  return new ort.Tensor(type, data, dims);
}

function percentile(sorted, p) {  // nearest rank, as in tools/cmd_bench.cc
  const n = sorted.length, rank = Math.ceil((p * n) / 100);
  return sorted[Math.min(Math.max(rank, 1), n) - 1];
}

function cpuModel() {
  try {
    const m = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m);
    return m ? m[1].trim() : 'unknown';
  } catch (e) { return 'unknown'; }
}

// Node count per op type in one profiled run of batch 1 (the profiler writes a file, read here and removed).
async function executedOps(metas) {
  const prefix = `${os.tmpdir()}/ort_runner_profile_${process.pid}`;
  const s = await ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1,
    graphOptimizationLevel: 'all', executionMode: 'sequential', enableProfiling: true, profileFilePrefix: prefix });
  const feeds = {};
  metas.forEach((m, i) => { feeds[s.inputNames[i]] = makeTensor(m, 1, 1234 + i); });
  await s.run(feeds);
  s.endProfiling();
  const counts = {};
  for (const f of fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith(prefix.split('/').pop()))) {
    const path = `${os.tmpdir()}/${f}`;
    for (const e of JSON.parse(fs.readFileSync(path, 'utf8')))
      if (e.cat === 'Node' && e.name.endsWith('_kernel_time')) counts[e.args.op_name] = (counts[e.args.op_name] || 0) + 1;
    fs.unlinkSync(path);
  }
  return Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1]));
}

const now = () => Number(process.hrtime.bigint()) / 1e9;

(async () => {
  const s = await ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1,
    graphOptimizationLevel: 'all', executionMode: 'sequential' });
  const version = require('onnxruntime-node/package.json').version;
  const metas = s.inputMetadata || s.inputNames.map((name) => ({ name }));
  const out = { engine: model, precision, backend: `onnxruntime ${version} (cpu)`, threads, cpu: cpuModel(),
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), results: [] };
  for (const batch of batches) {
    const feeds = {};
    metas.forEach((m, i) => { feeds[s.inputNames[i]] = makeTensor(m, batch, 1234 + i); });
    const w = now();
    do { await s.run(feeds); } while (now() - w < warmup);
    const ms = [];
    const start = now();
    while (ms.length < itersMin || now() - start < duration) {
      const t0 = now();
      await s.run(feeds);
      ms.push((now() - t0) * 1e3);
    }
    const seconds = now() - start;
    ms.sort((a, b) => a - b);
    const n = ms.length, med = n % 2 ? ms[n >> 1] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
    out.results.push({ batch, runs: n, seconds, throughput: (batch * n) / seconds,
      latency_ms: { min: ms[0], mean: ms.reduce((a, b) => a + b, 0) / n, median: med, p90: percentile(ms, 90),
        p95: percentile(ms, 95), p99: percentile(ms, 99), max: ms[n - 1] } });
    console.error(`  ort batch ${batch}: ${n} runs, ${(batch * n / seconds).toFixed(1)} samples/s, median ${med.toFixed(3)} ms`);
  }
  if (opCounts) out.executed_ops = await executedOps(metas);
  const text = JSON.stringify(out, null, 2) + '\n';
  if (jsonPath) fs.writeFileSync(jsonPath, text);
  process.stdout.write(text);
})().catch((e) => { console.error(e.message); process.exit(1); });
