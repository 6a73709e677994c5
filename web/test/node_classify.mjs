// imgcls.js under Node: classify raw RGB images with a model folder written by export-web.
//   node node_classify.mjs SITE/model node|web '[{"path": "x.rgb", "width": w, "height": h}, ...]'
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { classify, loadModel } from '../../imgcls_onnx/web/imgcls.js';

const [modelDir, runtime, list] = process.argv.slice(2);
const ort = runtime === 'node' ? createRequire(import.meta.url)('onnxruntime-node') : await import('onnxruntime-web');
const model = await loadModel(modelDir, { ort, executionProviders: [runtime === 'node' ? 'cpu' : 'wasm'] });
const results = [];
for (const item of JSON.parse(list)) {
  const data = new Uint8Array(readFileSync(item.path));
  const r = await classify(model, { data, width: item.width, height: item.height, channels: 3 });
  results.push({ class_ids: r.class_ids, scores: r.scores, label_names: r.label_names });
}
process.stdout.write(JSON.stringify(results));
// this program's peak memory, for the tests' bound (kB): VmHWM belongs to this process image, while getrusage's
// maxRSS survives exec and would report the parent's (pytest's) size at fork
let peakKb = null;
try {
  const m = readFileSync('/proc/self/status', 'utf8').match(/^VmHWM:\s+(\d+) kB/m);
  if (m) peakKb = Number(m[1]);
} catch { /* not Linux */ }
process.stderr.write(JSON.stringify({ max_rss_kb: peakKb ?? process.resourceUsage().maxRSS }));
