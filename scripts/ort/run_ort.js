#!/usr/bin/env node
// Reference runs with ONNX Runtime (CPU) for the executor cross-check and the benchmark.
//
//   node scripts/ort/run_ort.js MODEL.onnx --out DIR [--in NAME=FILE.npy ...] [--threads N]
//                                [--bench RUNS] [--warmup RUNS] [--opt-level disabled|basic|extended|all]
//                                [--as NAME=uint8 ...] [--profile]
//
// --opt-level (default all) sets ORT's graph optimizations. The correctness check uses
// `disabled`: ORT's fusions at `basic` and above change YOLOv3-tiny's output by 1.2e-3
// relative (they do not keep ONNX semantics bit-for-bit), while unfused ORT agrees with the
// executor to 1e-7.
// --as NAME=uint8 feeds an int64 .npy to a uint8 model input (the exported cloud halves read the
// edge's uint8 codes; values outside 0..255 are an error).
// --profile (with --bench) runs the timed runs under ORT's profiler and prints, before the summary,
// its kernel time per run by node kind (Conv split into Conv(1x1), Conv(depthwise) and Conv(kxk)
// by the weight's shape, as bench_executor does) and per node:
//   #kind KIND MS
//   #node KIND OUTPUT_SHAPE MS        (shape as 1x96x112x112, nodes in execution order)
// Inputs are .npy files (float32 or int64, C order). Outputs are written as DIR/output_K.npy in
// the model's output order; a JSON summary goes to stdout:
//   {"ort":"1.30.0","threads":N,"outputs":[{"name":..,"file":..,"shape":[..]}],"ms":[..]}
// onnxruntime-node is looked up in $AUTOSPLIT_ORT_DIR/node_modules (default: <repo>/.cache/ort),
// installed with:  (cd .cache/ort && ONNXRUNTIME_NODE_INSTALL=skip npm install)  — see README.md.
'use strict';
const fs = require('fs');
const path = require('path');

function fail(msg, code = 1) {
  process.stderr.write(`error: ${msg}\n`);
  process.exit(code);
}

// A relative $AUTOSPLIT_ORT_DIR is taken from the working directory (require() would resolve it from this file's).
const ortDir = path.resolve(process.env.AUTOSPLIT_ORT_DIR || path.join(__dirname, '..', '..', '.cache', 'ort'));

function ortVersion() {
  return JSON.parse(fs.readFileSync(path.join(ortDir, 'node_modules', 'onnxruntime-node', 'package.json'))).version;
}

function loadOrt() {
  const dir = ortDir;
  const mod = path.join(dir, 'node_modules', 'onnxruntime-node');
  if (!fs.existsSync(mod)) fail(`onnxruntime-node is not installed in ${dir}`, 3);
  return require(mod);
}

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') fail(`${file} is not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + hlen);
  const descr = /'descr':\s*'([^']*)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const off = start + hlen;
  const bytes = buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + buf.length);
  if (descr === '<f4') return { type: 'float32', data: new Float32Array(bytes), shape };
  if (descr === '<i8') return { type: 'int64', data: new BigInt64Array(bytes), shape };
  fail(`${file}: element type ${descr} is not supported (float32 or int64)`);
}

function writeNpy(file, tensor) {
  let descr, data;
  if (tensor.type === 'float32') {
    descr = '<f4';
    data = Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  } else if (tensor.type === 'int64') {
    descr = '<i8';
    data = Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  } else if (tensor.type === 'float16' || tensor.type === 'float64' || tensor.type.startsWith('int') || tensor.type.startsWith('uint') || tensor.type === 'bool') {
    // Widen to float32 / int64 for the comparison side.
    const isInt = tensor.type !== 'float16' && tensor.type !== 'float64';
    if (isInt) {
      const out = new BigInt64Array(tensor.data.length);
      for (let i = 0; i < out.length; ++i) out[i] = BigInt(tensor.data[i]);
      descr = '<i8';
      data = Buffer.from(out.buffer);
    } else {
      const out = Float32Array.from(tensor.data, Number);
      descr = '<f4';
      data = Buffer.from(out.buffer);
    }
  } else {
    fail(`output type ${tensor.type} cannot be written`);
  }
  const shape = `(${tensor.dims.join(', ')}${tensor.dims.length === 1 ? ',' : ''})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), data]));
}

// The kind of a profiled node: its op, Conv split by its weight's shape [O, I / group, k...].
function nodeKind(op, inputShapes) {
  if (!op.endsWith('Conv') || inputShapes.length < 2 || inputShapes[1].length < 3) return op;
  const x = inputShapes[0], w = inputShapes[1];
  const k = w.slice(2).reduce((a, b) => a * b, 1);
  if (w[1] === 1 && x.length >= 2 && w[0] === x[1] && w[0] > 1) return 'Conv(depthwise)';
  return k === 1 ? 'Conv(1x1)' : 'Conv(kxk)';
}

// Ends the session's profiling and prints the mean kernel time per run of the last `runs` runs
// by kind and by node; removes ORT's profile file.
function printProfile(session, prefix, runs) {
  session.endProfiling();
  const dir = path.dirname(prefix);
  const files = fs.readdirSync(dir).filter((f) => f.startsWith(path.basename(prefix)) && f.endsWith('.json'));
  if (files.length === 0) fail('ORT wrote no profile');
  const events = JSON.parse(fs.readFileSync(path.join(dir, files[0]), 'utf8'));
  for (const f of files) fs.unlinkSync(path.join(dir, f));
  const byNode = new Map();  // node name -> {kind, shape, durations}
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !e.args) continue;
    let n = byNode.get(e.name);
    if (!n) {
      const shapes = (e.args.input_type_shape || []).map((t) => Object.values(t)[0] || []);
      const out = (e.args.output_type_shape || []).map((t) => Object.values(t)[0] || [])[0] || [];
      n = { kind: nodeKind(e.args.op_name || '?', shapes), shape: out.join('x') || '-', us: [] };
      byNode.set(e.name, n);
    }
    n.us.push(e.dur);
  }
  const kinds = new Map();
  const lines = [];
  for (const n of byNode.values()) {
    const last = n.us.slice(-runs);
    const ms = last.reduce((a, b) => a + b, 0) / last.length / 1000;
    kinds.set(n.kind, (kinds.get(n.kind) || 0) + ms);
    lines.push(`#node ${n.kind} ${n.shape} ${ms.toFixed(4)}`);
  }
  for (const [k, ms] of kinds) process.stdout.write(`#kind ${k} ${ms.toFixed(4)}\n`);
  for (const l of lines) process.stdout.write(l + '\n');
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length === 0 || args.includes('--help')) {
    process.stdout.write('usage: run_ort.js MODEL.onnx --out DIR [--in NAME=FILE.npy ...] [--threads N] [--bench RUNS] [--warmup RUNS] [--opt-level LEVEL]\n');
    process.exit(args.length === 0 ? 2 : 0);
  }
  let model = null, out = null, threads = 0, bench = 0, warmup = 2, level = 'all', profile = false;
  const inputs = {};
  const as = {};
  for (let i = 0; i < args.length; ++i) {
    const a = args[i];
    const next = () => { if (i + 1 >= args.length) fail(`${a} needs a value`, 2); return args[++i]; };
    if (a === '--out') out = next();
    else if (a === '--threads') threads = Number(next());
    else if (a === '--bench') bench = Number(next());
    else if (a === '--warmup') warmup = Number(next());
    else if (a === '--opt-level') level = next();
    else if (a === '--profile') profile = true;
    else if (a === '--as') {
      const v = next();
      const eq = v.indexOf('=');
      if (eq < 0 || v.slice(eq + 1) !== 'uint8') fail(`--as expects NAME=uint8, got ${v}`, 2);
      as[v.slice(0, eq)] = 'uint8';
    }
    else if (a === '--in') {
      const v = next();
      const eq = v.indexOf('=');
      if (eq < 0) fail(`--in expects NAME=FILE.npy, got ${v}`, 2);
      inputs[v.slice(0, eq)] = v.slice(eq + 1);
    } else if (a.startsWith('--')) fail(`unknown option ${a}`, 2);
    else model = a;
  }
  if (!model) fail('no model given', 2);
  const ort = loadOrt();
  if (!['disabled', 'basic', 'extended', 'all'].includes(level)) fail(`--opt-level: ${level}`, 2);
  const opts = { graphOptimizationLevel: level, executionMode: 'sequential', interOpNumThreads: 1 };
  if (threads > 0) opts.intraOpNumThreads = threads;
  const profilePrefix = path.join(require('os').tmpdir(), `autosplit-ort-profile-${process.pid}`);
  if (profile) {
    if (bench <= 0) fail('--profile needs --bench RUNS', 2);
    opts.enableProfiling = true;
    opts.profileFilePrefix = profilePrefix;
  }
  const session = await ort.InferenceSession.create(model, opts);
  const feeds = {};
  for (const name of session.inputNames) {
    if (!(name in inputs)) fail(`no --in for model input '${name}'`, 2);
    const t = readNpy(inputs[name]);
    if (as[name] === 'uint8') {
      const u = new Uint8Array(t.data.length);
      for (let k = 0; k < u.length; ++k) {
        const v = Number(t.data[k]);
        if (!(v >= 0 && v <= 255)) fail(`--as ${name}=uint8: value ${v} at ${k} is outside 0..255`);
        u[k] = v;
      }
      feeds[name] = new ort.Tensor('uint8', u, t.shape);
    } else {
      feeds[name] = new ort.Tensor(t.type, t.data, t.shape);
    }
  }
  let results = await session.run(feeds);
  for (let i = 0; i < warmup && bench > 0; ++i) results = await session.run(feeds);
  const ms = [];
  for (let i = 0; i < bench; ++i) {
    const t0 = process.hrtime.bigint();
    results = await session.run(feeds);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  if (profile) printProfile(session, profilePrefix, bench);
  const summary = { ort: ortVersion(), threads, optLevel: level, outputs: [], ms };
  if (out) {
    fs.mkdirSync(out, { recursive: true });
    session.outputNames.forEach((name, k) => {
      const file = path.join(out, `output_${k}.npy`);
      writeNpy(file, results[name]);
      summary.outputs.push({ name, file, shape: results[name].dims });
    });
  }
  process.stdout.write(JSON.stringify(summary) + '\n');
}

main().catch((e) => fail(e && e.message ? e.message : String(e)));
