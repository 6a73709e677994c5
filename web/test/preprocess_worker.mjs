// Parity worker for tests/web/test_preprocess_parity.py: reads cases from stdin, answers with imgcls.js's output.
// Request: one JSON line {"width", "height", "transform_ops"} then width*height*3 bytes (RGB HWC uint8).
// Answer: one JSON line {"width", "height"} (or {"error"}) then the staged uint8 HWC bytes, then the float32 CHW
// model input (little-endian).
import { applyImageOps, compileOps, normalizeToCHW, toRGB } from '../../imgcls_onnx/web/imgcls.js';

let buffer = Buffer.alloc(0);
let waiting = null;
process.stdin.on('data', (chunk) => { buffer = Buffer.concat([buffer, chunk]); if (waiting) waiting(); });
let ended = false;
process.stdin.on('end', () => { ended = true; if (waiting) waiting(); });

async function take(n) {
  while (buffer.length < n) {
    if (ended) return null;
    await new Promise((r) => { waiting = r; });
    waiting = null;
  }
  const out = buffer.subarray(0, n);
  buffer = buffer.subarray(n);
  return out;
}

async function line() {
  for (;;) {
    const i = buffer.indexOf(10);
    if (i >= 0) { const s = buffer.subarray(0, i).toString(); buffer = buffer.subarray(i + 1); return s; }
    if (ended) return null;
    await new Promise((r) => { waiting = r; });
    waiting = null;
  }
}

function write(data) {
  return new Promise((resolve) => { if (process.stdout.write(data)) resolve(); else process.stdout.once('drain', resolve); });
}

for (;;) {
  const header = await line();
  if (header === null || header === '') break;
  const req = JSON.parse(header);
  const pixels = await take(req.width * req.height * 3);
  try {
    const plan = compileOps(req.transform_ops, req.options ?? {});
    const rgb = toRGB({ data: new Uint8Array(pixels), width: req.width, height: req.height, channels: 3 });
    const staged = applyImageOps(rgb, req.width, req.height, plan);
    const x = normalizeToCHW(staged.data, staged.width, staged.height, plan);
    await write(JSON.stringify({ width: staged.width, height: staged.height }) + '\n');
    await write(Buffer.from(staged.data.buffer, staged.data.byteOffset, staged.data.byteLength));
    await write(Buffer.from(x.buffer, x.byteOffset, x.byteLength));
  } catch (e) {
    await write(JSON.stringify({ error: String(e.message) }) + '\n');
  }
}
