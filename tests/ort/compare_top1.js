// Compares two runtimes' outputs, written as DIR/<input stem>/<output>.npy by run_ort.js and `kiln run`:
// top-1 (argmax of the first output, per batch row) must agree for every input; reports the max |a - b|.
// Usage: node compare_top1.js [--min-agree FRACTION] [--label TEXT] DIR_A DIR_B OUTPUT_NAME STEM...
// Prints one line per input and a JSON summary; exits 1 when fewer than FRACTION (default 1: every input) of
// the inputs agree on top-1, or on a missing file.
'use strict';
const path = require('path');
const { readNpy } = require('./npy.js');

function argmaxRows(t) {
  const rows = t.dims.length > 1 ? t.dims[0] : 1;
  const cols = t.data.length / rows;
  const out = [];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (Number(t.data[r * cols + c]) > Number(t.data[r * cols + best])) best = c;
    out.push(best);
  }
  return out;
}

const args = process.argv.slice(2);
let minAgree = 1, label = '';
while (args[0] && args[0].startsWith('--')) {
  const [flag, value] = args.splice(0, 2);
  if (flag === '--min-agree') minAgree = Number(value); else if (flag === '--label') label = value;
  else throw new Error(`unknown flag ${flag}`);
}
const [dirA, dirB, output, ...stems] = args;
let agree = 0, maxAbs = 0, worst = '';
const disagreements = [];
for (const stem of stems) {
  const file = output.replace(/[^A-Za-z0-9_.-]/g, '_') + '.npy';
  const a = readNpy(path.join(dirA, stem, file)), b = readNpy(path.join(dirB, stem, file));
  if (a.dims.join('x') !== b.dims.join('x')) throw new Error(`${stem}: shapes ${a.dims} vs ${b.dims}`);
  let diff = 0;
  for (let i = 0; i < a.data.length; i++) diff = Math.max(diff, Math.abs(Number(a.data[i]) - Number(b.data[i])));
  if (diff > maxAbs) { maxAbs = diff; worst = stem; }
  const ta = argmaxRows(a), tb = argmaxRows(b);
  const same = ta.join(',') === tb.join(',');
  if (same) agree++; else disagreements.push(stem);
  console.log(`${same ? 'agree   ' : 'DISAGREE'} ${stem}: top-1 ${ta} vs ${tb}, max |diff| ${diff.toExponential(3)}`);
}
console.log(JSON.stringify({ label, inputs: stems.length, top1_agree: agree, max_abs_diff: maxAbs, worst_input: worst,
                             disagreements }));
process.exit(stems.length > 0 && agree >= minAgree * stems.length ? 0 : 1);
