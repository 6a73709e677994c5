// imgcls.js: PaddleX image-classification preprocessing and inference for onnxruntime-web (browser) or
// onnxruntime-node / onnxruntime-web (Node). No imports: pass the onnxruntime module you use as `ort`.
//
//   import { loadModel, classify } from './imgcls.js';
//   const model = await loadModel('./model/', { ort });          // model.json + model.onnx written by export-web
//   const result = await classify(model, imageData);            // ImageData, or {data, width, height, channels}
//   // result: { class_ids, scores, label_names, timings_ms }
//
// Exactness: ResizeImage with cv2's INTER_LINEAR is OpenCV's fixed-point algorithm (11-bit coefficients, the same
// rounding, the same 2x2 shortcut for exact halving), so the uint8 image before normalisation equals the Python
// runtime's (checked on random images by tests/web). NormalizeImage is done in float32 with PaddleX's folded constants.

export const VERSION = '1';

const COEF_BITS = 11;
const COEF_SCALE = 1 << COEF_BITS;

// C's lrintf under the default rounding mode: nearest, ties to even
function roundHalfEven(x) {
  const r = Math.round(x);
  return (r - x === 0.5 && r % 2 !== 0) ? r - 1 : r;
}

// Python's round(): ties to even, on doubles
export function pyRound(x) {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function linearTable(srcSize, dstSize, clampCoefficients) {
  // OpenCV resize.cpp (resizeGeneric setup, INTER_LINEAR, CV_8U): float fx, cvFloor, coefficients
  // saturate_cast<short>(c * 2048) rounded independently. Columns past an edge get coefficients (1, 0); rows do not:
  // their weights stay as computed and both taps read the clipped edge row.
  const scale = 1 / (dstSize / srcSize);
  const ofs = new Int32Array(dstSize);
  const a0 = new Int32Array(dstSize);
  const a1 = new Int32Array(dstSize);
  for (let d = 0; d < dstSize; d++) {
    let f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = Math.fround(f - s);
    if (clampCoefficients) {
      if (s < 0) { f = 0; s = 0; }
      if (s >= srcSize - 1) { f = 0; s = srcSize - 1; }
    }
    ofs[d] = s;
    a0[d] = roundHalfEven(Math.fround(Math.fround(1 - f) * COEF_SCALE));
    a1[d] = roundHalfEven(Math.fround(f * COEF_SCALE));
  }
  return { ofs, a0, a1 };
}

// Resize an RGB uint8 HWC image with OpenCV's INTER_LINEAR and return only the window [x0, x0+cw) x [y0, y0+ch) of
// the resized image (a following CropImage): memory and time follow the window, not the resized size.
export function resizeLinearWindow(src, sw, sh, dw, dh, x0 = 0, y0 = 0, cw = dw, ch = dh) {
  const out = new Uint8Array(cw * ch * 3);
  if (dw === sw && dh === sh) {
    for (let y = 0; y < ch; y++) {
      const s = ((y0 + y) * sw + x0) * 3;
      out.set(src.subarray(s, s + cw * 3), y * cw * 3);
    }
    return out;
  }
  if (dw * 2 === sw && dh * 2 === sh) {
    // hal::resize turns INTER_LINEAR into INTER_AREA's fast path for exact halving: (a + b + c + d + 2) >> 2
    for (let y = 0; y < ch; y++) {
      const r0 = (2 * (y0 + y)) * sw * 3;
      const r1 = r0 + sw * 3;
      for (let x = 0; x < cw; x++) {
        const c0 = 2 * (x0 + x) * 3;
        const o = (y * cw + x) * 3;
        for (let k = 0; k < 3; k++) {
          out[o + k] = (src[r0 + c0 + k] + src[r0 + c0 + 3 + k] + src[r1 + c0 + k] + src[r1 + c0 + 3 + k] + 2) >> 2;
        }
      }
    }
    return out;
  }
  const tx = linearTable(sw, dw, true);
  const ty = linearTable(sh, dh, false);
  // horizontal pass of one source row, for the window's columns only (int: value * 2048)
  const rowCache = new Map();
  const hrow = (sy) => {
    let row = rowCache.get(sy);
    if (row) return row;
    row = new Int32Array(cw * 3);
    const base = sy * sw * 3;
    for (let x = 0; x < cw; x++) {
      const dx = x0 + x;
      const s = base + tx.ofs[dx] * 3;
      const a0 = tx.a0[dx];
      const a1 = tx.a1[dx];
      const o = x * 3;
      if (a1 === 0) {
        row[o] = src[s] * a0; row[o + 1] = src[s + 1] * a0; row[o + 2] = src[s + 2] * a0;
      } else {
        row[o] = src[s] * a0 + src[s + 3] * a1;
        row[o + 1] = src[s + 1] * a0 + src[s + 4] * a1;
        row[o + 2] = src[s + 2] * a0 + src[s + 5] * a1;
      }
    }
    if (rowCache.size > 4) rowCache.delete(rowCache.keys().next().value);
    rowCache.set(sy, row);
    return row;
  };
  for (let y = 0; y < ch; y++) {
    const dy = y0 + y;
    const sy0 = Math.min(Math.max(ty.ofs[dy], 0), sh - 1);
    const sy1 = Math.min(Math.max(ty.ofs[dy] + 1, 0), sh - 1);
    const b0 = ty.a0[dy];
    const b1 = ty.a1[dy];
    const r0 = hrow(sy0);
    const r1 = hrow(sy1);
    const o = y * cw * 3;
    for (let i = 0; i < cw * 3; i++) {
      // VResizeLinear<uchar, int, short, FixedPtCast<.., 22>>: the same shifts as OpenCV's scalar and SIMD paths
      const v = (((b0 * (r0[i] >> 4)) >> 16) + ((b1 * (r1[i] >> 4)) >> 16) + 2) >> 2;
      out[o + i] = v < 0 ? 0 : (v > 255 ? 255 : v);
    }
  }
  return out;
}

// OpenCV INTER_NEAREST (resizeNN): sx = min(floor(dx * (1 / inv_scale)), w - 1)
export function resizeNearestWindow(src, sw, sh, dw, dh, x0 = 0, y0 = 0, cw = dw, ch = dh) {
  const fx = 1 / (dw / sw);
  const fy = 1 / (dh / sh);
  const out = new Uint8Array(cw * ch * 3);
  for (let y = 0; y < ch; y++) {
    const sy = Math.min(Math.floor((y0 + y) * fy), sh - 1);
    for (let x = 0; x < cw; x++) {
      const sx = Math.min(Math.floor((x0 + x) * fx), sw - 1);
      const s = (sy * sw + sx) * 3;
      const o = (y * cw + x) * 3;
      out[o] = src[s]; out[o + 1] = src[s + 1]; out[o + 2] = src[s + 2];
    }
  }
  return out;
}

// Pillow's resampling (Image.resize with BICUBIC, BILINEAR, LANCZOS, BOX; PaddleX's `backend: pil`):
// antialiased separable filters, coefficients normalised in double and rounded to 22-bit integers, a horizontal
// pass into an 8-bit image, then a vertical pass (libImaging/Resample.c).
const PIL_PRECISION_BITS = 32 - 8 - 2;
function sinc(x) { if (x === 0) return 1; x *= Math.PI; return Math.sin(x) / x; }
export const PIL_FILTERS = {
  bicubic: { support: 2, f: (x) => {
    const a = -0.5;
    if (x < 0) x = -x;
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
  } },
  linear: { support: 1, f: (x) => { if (x < 0) x = -x; return x < 1 ? 1 - x : 0; } },
  box: { support: 0.5, f: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  lanczos: { support: 3, f: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

function pilCoefficients(inSize, outSize, filter, first, count) {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filter.support * filterscale;
  const ss = 1 / filterscale;
  const bounds = [];
  for (let xx = first; xx < first + count; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const w = new Float64Array(Math.max(xmax, 0));
    let ww = 0;
    for (let x = 0; x < xmax; x++) { w[x] = filter.f((x + xmin - center + 0.5) * ss); ww += w[x]; }
    const k = new Int32Array(w.length);
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? w[x] / ww : w[x];
      k[x] = Math.trunc(v < 0 ? -0.5 + v * (1 << PIL_PRECISION_BITS) : 0.5 + v * (1 << PIL_PRECISION_BITS));
    }
    bounds.push({ min: xmin, k });
  }
  return bounds;
}

const PIL_HALF = 1 << (PIL_PRECISION_BITS - 1);

function pilClip8(ss) {
  const v = Math.floor(ss / (1 << PIL_PRECISION_BITS));
  return v < 0 ? 0 : (v > 255 ? 255 : v);
}

// Pillow resize of an RGB uint8 HWC image to dw x dh, returning the window [x0, x0+cw) x [y0, y0+ch) only.
// Pass order as Pillow >= 13 (ImagingResampleInner): vertical first when the height shrinks by more than twice as
// many pixels as the width, else horizontal first; Pillow <= 12 always goes horizontal first (verticalFirstRule
// false). The intermediate image is 8-bit, so the order changes results.
export function resizePilWindow(src, sw, sh, dw, dh, x0, y0, cw, ch, kind, verticalFirstRule = true) {
  const filter = PIL_FILTERS[kind];
  if (!filter) throw new PreprocessError(`Pillow resampling ${kind} is not available in JavaScript`);
  const needH = dw !== sw;
  const needV = dh !== sh;
  const horizontalFirst = !(verticalFirstRule && (sh - dh) > 0 && (sh - dh) > (sw - dw) * 2);
  const cols = needH ? pilCoefficients(sw, dw, filter, x0, cw) : null;
  const rows = needV ? pilCoefficients(sh, dh, filter, y0, ch) : null;
  // the source columns / rows the window reads
  // (loops, not Math.min(...list): a spread of a very long list overflows the call stack)
  const span = (list, lo, hi) => {
    if (!list) return [lo, hi];
    let a = Infinity; let b = -Infinity;
    for (const c of list) { a = Math.min(a, c.min); b = Math.max(b, c.min + c.k.length); }
    return [a, b];
  };
  const [clo, chi] = span(cols, x0, x0 + cw);
  const [rlo, rhi] = span(rows, y0, y0 + ch);
  // image views: {data, w (row length in pixels), x (first column held), y (first row held)}
  let img = { data: src, w: sw, x: 0, y: 0 };
  const horizontal = (from, rowLo, rowHi) => {
    const n = rowHi - rowLo;
    const out = new Uint8Array(n * cw * 3);
    for (let r = 0; r < n; r++) {
      const base = ((rowLo + r - from.y) * from.w - from.x) * 3;
      for (let x = 0; x < cw; x++) {
        const { min, k } = cols[x];
        let s0 = PIL_HALF; let s1 = PIL_HALF; let s2 = PIL_HALF;
        for (let i = 0; i < k.length; i++) {
          const p = base + (min + i) * 3;
          s0 += from.data[p] * k[i]; s1 += from.data[p + 1] * k[i]; s2 += from.data[p + 2] * k[i];
        }
        const o = (r * cw + x) * 3;
        out[o] = pilClip8(s0); out[o + 1] = pilClip8(s1); out[o + 2] = pilClip8(s2);
      }
    }
    return { data: out, w: cw, x: x0, y: rowLo };
  };
  const vertical = (from, colLo, colHi) => {
    const n = colHi - colLo;
    const out = new Uint8Array(ch * n * 3);
    for (let y = 0; y < ch; y++) {
      const { min, k } = rows[y];
      for (let c = 0; c < n; c++) {
        for (let b = 0; b < 3; b++) {
          let s = PIL_HALF;
          for (let j = 0; j < k.length; j++) s += from.data[((min + j - from.y) * from.w + colLo + c - from.x) * 3 + b] * k[j];
          out[(y * n + c) * 3 + b] = pilClip8(s);
        }
      }
    }
    return { data: out, w: n, x: colLo, y: y0 };
  };
  const crop = (from, colLo, rowLo, w, h) => {
    const out = new Uint8Array(w * h * 3);
    for (let r = 0; r < h; r++) {
      const s = ((rowLo + r - from.y) * from.w + colLo - from.x) * 3;
      out.set(from.data.subarray(s, s + w * 3), r * w * 3);
    }
    return out;
  };
  if (horizontalFirst) {
    if (needH) img = horizontal(img, rlo, rhi);
    if (needV) img = vertical(img, x0, x0 + cw);
  } else {
    if (needV) img = vertical(img, clo, chi);
    if (needH) img = horizontal(img, y0, y0 + ch);
  }
  return crop(img, x0, y0, cw, ch);
}

export class PreprocessError extends Error {}

function sizePair(value, op) {
  if (Number.isInteger(value)) return [value, value];
  if (Array.isArray(value) && value.length === 2 && value.every(Number.isInteger)) return value;
  throw new PreprocessError(`${op}: size must be an integer or [width, height], got ${JSON.stringify(value)}`);
}

// Parse PaddleX transform_ops (as in inference.yml, e.g. [{ResizeImage: {resize_short: 256}}, ...]) into a plan.
// options.pillow_vertical_first: follow Pillow >= 13's pass order (default) or Pillow <= 12's (false).
export function compileOps(transformOps, options = {}) {
  const plan = { image: [], normalize: null, chw: false, pillowVerticalFirst: options.pillow_vertical_first ?? true };
  for (const entry of transformOps) {
    const names = Object.keys(entry);
    if (names.length !== 1) throw new PreprocessError(`each op must have one name, got ${JSON.stringify(entry)}`);
    const name = names[0];
    const args = entry[name] || {};
    if (name === 'ResizeImage') {
      if (plan.normalize) throw new PreprocessError('ResizeImage after NormalizeImage is not supported');
      const interp = String(args.interpolation || 'linear').toLowerCase();
      const backend = String(args.backend || 'cv2').toLowerCase();
      const canonical = { bilinear: 'linear', cubic: 'bicubic', lanczos4: 'lanczos' }[interp] ?? interp;
      const ok = backend === 'cv2' ? ['linear', 'nearest'] : backend === 'pil' ? Object.keys(PIL_FILTERS) : [];
      if (!ok.includes(canonical)) {
        throw new PreprocessError(`ResizeImage: interpolation ${interp} with backend ${backend} is not available in ` +
          `JavaScript (supported: cv2 linear and nearest; pil ${Object.keys(PIL_FILTERS).join(', ')})`);
      }
      const kind = backend === 'pil' ? `pil:${canonical}` : canonical;
      if (args.resize_short) plan.image.push({ op: 'resize', short: args.resize_short, kind });
      else plan.image.push({ op: 'resize', size: sizePair(args.size, name), kind });
    } else if (name === 'CropImage') {
      if (plan.normalize) throw new PreprocessError('CropImage after NormalizeImage is not supported');
      plan.image.push({ op: 'crop', size: sizePair(args.size ?? 224, name) });
    } else if (name === 'NormalizeImage') {
      const mean = args.mean ?? [0.485, 0.456, 0.406];
      const std = args.std ?? [0.229, 0.224, 0.225];
      let scale = args.scale ?? 1 / 255;
      if (typeof scale === 'string') {
        const m = scale.split('/');
        scale = m.length === 2 ? Number(m[0]) / Number(m[1]) : Number(scale);
      }
      if (!(Number.isFinite(scale)) || mean.length !== 3 || std.length !== 3 || std.includes(0)) {
        throw new PreprocessError(`NormalizeImage: invalid arguments ${JSON.stringify(args)}`);
      }
      // PaddleX's folded form, computed in double then stored as float32 (as numpy does)
      plan.normalize = {
        alpha: Float32Array.from(std.map((s) => scale / s)),
        beta: Float32Array.from(mean.map((m, c) => -m / std[c])),
      };
    } else if (name === 'ToCHWImage') {
      plan.chw = true;
    } else {
      throw new PreprocessError(`unknown preprocessing op ${name}`);
    }
  }
  return plan;
}

function outputSize(step, w, h) {
  if (step.size) return [step.size[0], step.size[1]];
  const scale = step.short / Math.min(h, w);
  return [pyRound(w * scale), pyRound(h * scale)];
}

// RGB uint8 HWC from ImageData-like input ({data, width, height[, channels]}; RGBA drops alpha as cv2 does for
// decoded images: the browser gives straight, not premultiplied, values when asked for them)
export function toRGB(image) {
  const { width, height } = image;
  const data = image.data;
  const channels = image.channels ?? (data.length === width * height * 4 ? 4 : 3);
  if (!(width > 0 && height > 0) || data.length !== width * height * channels || (channels !== 3 && channels !== 4)) {
    throw new PreprocessError(`image data must be ${width}x${height}x3 or x4 uint8, got ${data.length} values`);
  }
  if (channels === 3) return data instanceof Uint8Array ? data : Uint8Array.from(data);
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < data.length; i += 4, j += 3) {
    rgb[j] = data[i]; rgb[j + 1] = data[i + 1]; rgb[j + 2] = data[i + 2];
  }
  return rgb;
}

// The image ops (resize, crop) on an RGB uint8 HWC image: {data, width, height}. A resize followed by a crop is
// computed for the crop window only.
export function applyImageOps(rgb, width, height, plan) {
  let data = rgb;
  let w = width;
  let h = height;
  const ops = plan.image;
  for (let i = 0; i < ops.length; i++) {
    const step = ops[i];
    if (step.op === 'resize') {
      const [dw, dh] = outputSize(step, w, h);
      if (!(dw > 0 && dh > 0)) throw new PreprocessError(`image of ${w}x${h} resizes to ${dw}x${dh}`);
      let x0 = 0; let y0 = 0; let cw = dw; let ch = dh;
      const next = ops[i + 1];
      if (next && next.op === 'crop') {
        [cw, ch] = next.size;
        if (dw < cw || dh < ch) throw new PreprocessError(`image of ${dw}x${dh} is smaller than the crop ${cw}x${ch}`);
        x0 = Math.floor((dw - cw) / 2);
        y0 = Math.floor((dh - ch) / 2);
        i++;
      }
      if (dw === w && dh === h) {
        data = resizeLinearWindow(data, w, h, w, h, x0, y0, cw, ch); // the runtime does not resize to the same size
      } else if (step.kind.startsWith('pil:')) {
        data = resizePilWindow(data, w, h, dw, dh, x0, y0, cw, ch, step.kind.slice(4), plan.pillowVerticalFirst);
      } else {
        const fn = step.kind === 'nearest' ? resizeNearestWindow : resizeLinearWindow;
        data = fn(data, w, h, dw, dh, x0, y0, cw, ch);
      }
      w = cw; h = ch;
    } else {
      const [cw, ch] = step.size;
      if (w < cw || h < ch) throw new PreprocessError(`image of ${w}x${h} is smaller than the crop ${cw}x${ch}`);
      data = resizeLinearWindow(data, w, h, w, h, Math.floor((w - cw) / 2), Math.floor((h - ch) / 2), cw, ch);
      w = cw; h = ch;
    }
  }
  return { data, width: w, height: h };
}

// uint8 HWC -> float32 CHW with NormalizeImage's float32 arithmetic (x * alpha + beta, each step rounded to float32)
export function normalizeToCHW(hwc, width, height, plan) {
  const n = width * height;
  const out = new Float32Array(3 * n);
  const { alpha, beta } = plan.normalize ?? { alpha: Float32Array.of(1, 1, 1), beta: Float32Array.of(0, 0, 0) };
  for (let c = 0; c < 3; c++) {
    const lut = new Float32Array(256);
    for (let v = 0; v < 256; v++) lut[v] = Math.fround(v * alpha[c]) + beta[c];
    const o = c * n;
    for (let i = 0; i < n; i++) out[o + i] = lut[hwc[i * 3 + c]];
  }
  return out;
}

// Image -> model input: {data, dims, type} for a float32 NCHW graph, or uint8 NHWC for a fused-preprocessing bundle
export function preprocess(image, config) {
  const plan = config._plan ?? compileOps(config.transform_ops, config);
  const rgb = toRGB(image);
  const staged = applyImageOps(rgb, image.width, image.height, plan);
  const input = config.input ?? { layout: 'NCHW' };
  if (input.height && input.width && (staged.height !== input.height || staged.width !== input.width)) {
    throw new PreprocessError(`preprocessing gives ${staged.width}x${staged.height}, the model takes ` +
      `${input.width}x${input.height}`);
  }
  if (input.layout === 'NHWC') {
    return { data: staged.data, dims: [1, staged.height, staged.width, 3], type: 'uint8', staged };
  }
  return { data: normalizeToCHW(staged.data, staged.width, staged.height, plan),
    dims: [1, 3, staged.height, staged.width], type: 'float32', staged };
}

export function softmax(values) {
  let max = -Infinity;
  for (const v of values) max = Math.max(max, v);
  const out = new Float32Array(values.length);
  let sum = 0;
  for (let i = 0; i < values.length; i++) { out[i] = Math.exp(values[i] - max); sum += out[i]; }
  for (let i = 0; i < values.length; i++) out[i] /= sum;
  return out;
}

// PaddleX's Topk: highest first, ties to the higher class id; scores rounded to 5 decimals. Linear in the class
// count for small k (a 1000-class model needs no sort of 1000 values).
export function topK(probs, k) {
  const kk = Math.min(k, probs.length);
  const ids = [];
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i];
    if (ids.length === kk && !(p >= probs[ids[kk - 1]])) continue;
    let j = ids.length === kk ? kk - 1 : ids.length;
    if (ids.length < kk) ids.push(i);
    while (j > 0 && p >= probs[ids[j - 1]]) { ids[j] = ids[j - 1]; j--; }
    ids[j] = i;
  }
  return { class_ids: ids, scores: ids.map((i) => Math.round(probs[i] * 1e5) / 1e5) };
}

async function readBytes(source) {
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) return source;
  if (typeof process !== 'undefined' && process.versions?.node && !/^https?:/.test(String(source))) {
    const { readFile } = await import('node:fs/promises');
    return new Uint8Array(await readFile(source instanceof URL ? source : String(source)));
  }
  const r = await fetch(source);
  if (!r.ok) throw new Error(`${source}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

async function readJSON(source) {
  return JSON.parse(new TextDecoder().decode(await readBytes(source)));
}

// Load a model exported by `imgcls-onnx export-web` (a folder or URL holding model.json and model.onnx), or
// {config, model} objects. options: ort (required), executionProviders (default ['wasm']), sessionOptions.
export async function loadModel(source, options = {}) {
  const ort = options.ort ?? globalThis.ort;
  if (!ort) throw new Error('loadModel needs onnxruntime: pass { ort } (onnxruntime-web or onnxruntime-node)');
  let config;
  let modelBytes;
  if (typeof source === 'string' || source instanceof URL) {
    const base = String(source).endsWith('/') ? String(source) : `${source}/`;
    const join = (name) => (source instanceof URL ? new URL(name, source) : base + name);
    config = await readJSON(join('model.json'));
    modelBytes = await readBytes(join(config.model_file ?? 'model.onnx'));
  } else {
    config = source.config;
    modelBytes = await readBytes(source.model);
  }
  config._plan = compileOps(config.transform_ops, config);
  const providers = options.executionProviders ?? ['wasm'];
  const session = await ort.InferenceSession.create(modelBytes, { executionProviders: providers,
    ...(options.sessionOptions ?? {}) });
  return { ort, session, config, providers };
}

export async function classify(model, image, options = {}) {
  const { ort, session, config } = model;
  const t0 = performance.now();
  const x = preprocess(image, config);
  const t1 = performance.now();
  const inputName = config.input?.name ?? session.inputNames[0];
  const outputName = config.output?.name ?? session.outputNames[0];
  const feeds = { [inputName]: new ort.Tensor(x.type, x.data, x.dims) };
  const out = await session.run(feeds);
  const t2 = performance.now();
  const raw = out[outputName].data;
  const probs = config.output?.probabilities === false ? softmax(raw) : raw;
  const k = options.topk ?? config.topk ?? 5;
  const { class_ids, scores } = topK(probs, k);
  const labels = config.labels ?? [];
  for (const t of Object.values(out)) t.dispose?.();
  return {
    class_ids,
    scores,
    label_names: class_ids.map((i) => labels[i] ?? String(i)),
    timings_ms: { preprocess: t1 - t0, inference: t2 - t1 },
  };
}
