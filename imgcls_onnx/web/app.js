// The page of an export-web site: load model/, classify chosen or dropped images one at a time, show top-k bars.
// URL options: ?backend=wasm|webgpu (default: WebGPU when the browser has an adapter, else WASM SIMD),
// ?threads=N (default: up to 4 when the page is cross-origin isolated, else 1).
// JPEGs are decoded by libjpeg-turbo compiled to WebAssembly (jpeg.js; the runtime's pixels), other images and JPEGs
// it cannot decode by the browser.
import { classify, loadModel, preprocess } from './imgcls.js';
import { JpegRefusal, decodeJpeg, hasEndOfImage, isJpeg, loadJpegDecoder } from './jpeg.js';

const ort = globalThis.ort;
const params = new URLSearchParams(location.search);
const statusEl = document.getElementById('status');
const resultsEl = document.getElementById('results');
const input = document.getElementById('files');
const drop = document.getElementById('drop');

const state = { model: null, backend: null, threads: 1, jpeg: null, results: [], queue: Promise.resolve() };

function setStatus(text, isError = false) {
  statusEl.textContent = text;
  statusEl.classList.toggle('error', isError);
}

// the JPEG decoder named by the page (export-web's --jpeg-wasm); without it JPEGs go to the browser's decoder
async function startJpeg() {
  const meta = document.querySelector('meta[name="imgcls-jpeg-wasm"]');
  if (!meta?.content) return;
  try {
    state.jpeg = await loadJpegDecoder(new URL(meta.content, location.href).href, meta.dataset.integrity || '');
  } catch (e) {
    console.warn('the JPEG decoder (libjpeg-turbo, WebAssembly) did not load, JPEGs use the browser\'s decoder: ' +
      e.message);
  }
}

async function start() {
  const jpegReady = startJpeg();
  if (!ort) throw new Error('onnxruntime-web did not load (ort.min.js): check the network or export with a local copy');
  // an absolute URL: onnxruntime-web imports its .mjs from there, and a bare relative path is not a module URL
  ort.env.wasm.wasmPaths = new URL(document.querySelector('meta[name="imgcls-ort-wasm"]').content, location.href).href;
  const isolated = globalThis.crossOriginIsolated === true;
  const wanted = Number(params.get('threads')) || (isolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1);
  state.threads = isolated ? wanted : 1;
  ort.env.wasm.numThreads = state.threads;
  const choice = params.get('backend') || 'auto';
  let model = null;
  if (choice === 'webgpu' || (choice === 'auto' && navigator.gpu)) {
    try {
      const adapter = navigator.gpu ? await navigator.gpu.requestAdapter() : null;
      if (adapter) {
        model = await loadModel('./model/', { ort, executionProviders: ['webgpu'] });
        state.backend = 'webgpu';
      }
    } catch (e) {
      console.warn('WebGPU unavailable, using WASM:', e);
    }
  }
  if (!model) {
    model = await loadModel('./model/', { ort, executionProviders: ['wasm'] });
    state.backend = `wasm (SIMD, ${state.threads} thread${state.threads > 1 ? 's' : ''})`;
  }
  state.model = model;
  await jpegReady;
  const c = model.config;
  const jpeg = state.jpeg ? 'libjpeg-turbo (WebAssembly)' : 'the browser';
  setStatus(`${c.name} · ${c.labels.length || c.output.classes} classes · backend: ${state.backend} · ` +
    `JPEG decoder: ${jpeg}` +
    (c.weights === 'random' ? ' · WARNING: random weights, predictions are meaningless' : ''));
  document.body.dataset.ready = 'true';
  document.body.dataset.backend = state.backend;
  document.body.dataset.jpeg = state.jpeg ? 'wasm' : 'browser';
}

function formatBytes(n) {
  return n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} kB` : `${(n / (1 << 20)).toFixed(1)} MB`;
}

// File/Blob -> { image: RGB or RGBA pixels with EXIF orientation applied and no colour management (as the runtime
// decodes), decoder: 'libjpeg-turbo' | 'browser' }. { wasm: false } sends JPEGs to the browser's decoder too.
export async function decode(blob, name, { wasm = true } = {}) {
  const limits = state.model.config.limits || {};
  const what = `${blob.type || 'unknown type'}, ${formatBytes(blob.size)}`;
  if (limits.max_bytes && blob.size > limits.max_bytes) {
    throw new Error(`${name}: ${formatBytes(blob.size)} is over the ${formatBytes(limits.max_bytes)} limit`);
  }
  if (isJpeg(new Uint8Array(await blob.slice(0, 3).arrayBuffer()))) {
    const bytes = new Uint8Array(await blob.arrayBuffer());
    // the runtime refuses a JPEG without an end-of-image marker (libjpeg would fill the missing rows with grey)
    if (!hasEndOfImage(bytes)) throw new Error(`${name}: truncated JPEG, no end-of-image marker (${what})`);
    if (state.jpeg && wasm) {
      try {
        return { image: await decodeJpeg(state.jpeg, bytes, { maxPixels: limits.max_pixels }),
          decoder: 'libjpeg-turbo' };
      } catch (e) {
        if (e instanceof JpegRefusal) throw new Error(`${name}: ${e.message}`);
        console.warn(`${name}: ${e.message}; trying the browser's decoder`);
      }
    }
  }
  let bitmap;
  try {
    bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image', colorSpaceConversion: 'none',
      premultiplyAlpha: 'none' });
  } catch (e) {
    throw new Error(`${name}: not an image this browser can decode (${what})`);
  }
  try {
    const { width, height } = bitmap;
    if (limits.max_pixels && width * height > limits.max_pixels) {
      throw new Error(`${name}: ${width}x${height} pixels is over the limit of ${limits.max_pixels}`);
    }
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(bitmap, 0, 0);
    return { image: ctx.getImageData(0, 0, width, height, { colorSpace: 'srgb' }), decoder: 'browser' };
  } finally {
    bitmap.close();
  }
}

export async function classifyBlob(blob, name) {
  const t0 = performance.now();
  const { image, decoder } = await decode(blob, name);
  const t1 = performance.now();
  const result = await classify(state.model, image);
  result.timings_ms.decode = t1 - t0;
  result.timings_ms.total = performance.now() - t0;
  result.width = image.width;
  result.height = image.height;
  result.decoder = decoder;
  return result;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v; else if (k.startsWith('data-')) node.setAttribute(k, v); else node[k] = v;
  }
  for (const child of children) node.append(child);
  return node;
}

function showResult(file, result) {
  const bars = result.label_names.map((label, i) => {
    const fill = el('span', { class: 'fill' });
    fill.style.width = `${(100 * Math.max(0, Math.min(1, result.scores[i]))).toFixed(1)}%`;
    return el('div', { class: 'bar' }, el('span', { class: 'label', title: label, textContent: label }),
      el('span', { class: 'track' }, fill), el('span', { class: 'score', textContent: result.scores[i].toFixed(4) }));
  });
  const t = result.timings_ms;
  const timing = el('div', { class: 'timing', textContent: `${t.total.toFixed(1)} ms (decode ${t.decode.toFixed(1)} ` +
    `by ${result.decoder === 'browser' ? 'the browser' : result.decoder}, ` +
    `preprocess ${t.preprocess.toFixed(1)}, model ${t.inference.toFixed(1)}) · ${result.width}x${result.height}` });
  const img = el('img', { alt: file.name, src: URL.createObjectURL(file) });
  img.onload = () => URL.revokeObjectURL(img.src);
  resultsEl.append(el('article', { class: 'result', 'data-name': file.name, 'data-result': JSON.stringify(result) },
    img, el('div', {}, el('h2', { textContent: file.name }), ...bars, timing)));
}

function showError(file, message) {
  resultsEl.append(el('article', { class: 'result error', 'data-name': file.name, 'data-error': message },
    el('h2', { textContent: file.name }), el('p', { textContent: message })));
}

function handleFiles(files) {
  for (const file of files) {
    // one image at a time: memory holds one decoded image, whatever the number of files
    state.queue = state.queue.then(async () => {
      try {
        const result = await classifyBlob(file, file.name);
        state.results.push({ name: file.name, ...result });
        showResult(file, result);
      } catch (e) {
        state.results.push({ name: file.name, error: e.message });
        showError(file, e.message);
      }
      document.body.dataset.done = String(state.results.length);
    });
  }
}

input.addEventListener('change', () => { handleFiles([...input.files]); input.value = ''; });
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  handleFiles([...e.dataTransfer.files]);
});

const ready = start().catch((e) => {
  setStatus(`Could not load the model: ${e.message}`, true);
  document.body.dataset.ready = 'error';
  throw e;
});

// for scripts (tests, benchmarks): the loaded model and the same path the page takes
globalThis.imgcls = {
  ready,
  state,
  classifyBlob,
  async classifyUrl(url) {
    const r = await fetch(url);
    return classifyBlob(await r.blob(), url);
  },
  decode,
  // the model's input for an image, as the page computes it: { decoder, dims, type, data }
  async inputTensor(blob, name, options) {
    const { image, decoder } = await decode(blob, name, options);
    const x = preprocess(image, state.model.config);
    return { decoder, dims: x.dims, type: x.type, data: x.data };
  },
};
