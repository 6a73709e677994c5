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
// the process's peak memory, for the tests' bound (kB)
process.stderr.write(JSON.stringify({ max_rss_kb: process.resourceUsage().maxRSS }));
