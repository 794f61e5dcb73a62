// Runs an ONNX model in ONNX Runtime (CPU) on .npy inputs and writes each output as .npy.
// Setup once: npm install --ignore-scripts onnxruntime-node@1.30.0 (into a folder on NODE_PATH).
// Usage: node run_ort.js MODEL.onnx OUT_DIR X1.npy [X2.npy ...]
//   Each input file is one run of a single-input model; outputs go to OUT_DIR/<input stem>/<output name>.npy.
//   Prints one JSON line per run: {"input": ..., "outputs": {"name": [dims]}}.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');
const { readNpy, writeNpy } = require('./npy.js');

(async () => {
  const [model, outDir, ...inputs] = process.argv.slice(2);
  if (!model || !outDir || inputs.length === 0) throw new Error('usage: node run_ort.js MODEL.onnx OUT_DIR X.npy...');
  // Deterministic and single-threaded where it matters for comparison; all graph optimizations on, as
  // users run it (ORT fuses the Q/DQ pairs into its int8 kernels at 'all').
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1,
    graphOptimizationLevel: process.env.ORT_OPT_LEVEL || 'all', executionMode: 'sequential' });
  if (session.inputNames.length !== 1) throw new Error(`${model}: ${session.inputNames.length} inputs, expected 1`);
  for (const file of inputs) {
    const x = readNpy(file);
    const results = await session.run({ [session.inputNames[0]]: new ort.Tensor(x.type, x.data, x.dims) });
    const dir = path.join(outDir, path.basename(file, '.npy'));
    fs.mkdirSync(dir, { recursive: true });
    const shapes = {};
    for (const name of session.outputNames) {
      const t = results[name];
      writeNpy(path.join(dir, name.replace(/[^A-Za-z0-9_.-]/g, '_') + '.npy'), t.type, t.dims, t.data);
      shapes[name] = t.dims;
    }
    console.log(JSON.stringify({ input: file, outputs: shapes }));
  }
})().catch(e => { console.error('run_ort.js: ' + e.message); process.exit(1); });
