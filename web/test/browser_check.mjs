// Drive an export-web page in headless Chromium (Debian's /usr/bin/chromium, via playwright-core) and print what it
// shows as JSON. Used by tests/web/test_browser.py and scripts/bench_web.
//   node browser_check.mjs '{"url": ..., "upload": [paths], "drop": [paths], "screenshot": path,
//                           "time": {"urls": [...], "repeats": n},
//                           "pixels": [{"files": [paths], "wasm": bool, "out": dir}, ...],
//                           "tensors": [{"files": [paths], "out": dir}, ...]}'
// pixels: the page's decode() of each file (wasm: false sends JPEGs to the browser's decoder), written as
// OUT/<i>.rgb (RGB); tensors: the model input the page computes, OUT/<i>.f32. out.pixels / out.tensors hold, per
// request, {width, height | dims, decoder} or {error} per file.
import { chromium } from 'playwright-core';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';

const job = JSON.parse(process.argv[2]);
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const out = { console: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') out.console.push(m.text()); });
  page.on('pageerror', (e) => out.console.push(`pageerror: ${e.message}`));
  await page.goto(job.url);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 60000 });
  out.ready = await page.evaluate(() => document.body.dataset.ready);
  out.status = await page.textContent('#status');
  out.backend = await page.evaluate(() => document.body.dataset.backend || null);
  out.jpeg = await page.evaluate(() => document.body.dataset.jpeg || null);
  out.crossOriginIsolated = await page.evaluate(() => globalThis.crossOriginIsolated === true);
  if (out.ready !== 'true' && !job.expect_load_error) {
    throw new Error(`the page did not load the model: ${out.status} ${out.console.join(' | ')}`);
  }
  let expected = 0;
  const waitFor = async (n) => page.waitForFunction((k) => Number(document.body.dataset.done || 0) >= k, n,
    { timeout: 120000 });
  for (const step of job.steps || []) {
    if (step.upload) {
      await page.setInputFiles('#files', step.upload);
      expected += step.upload.length;
    } else if (step.drop) {
      // a real drop event with File objects built in the page from the given bytes
      const files = step.drop.map((p) => ({ name: basename(p), type: p.endsWith('.txt') ? 'text/plain' : '',
        b64: readFileSync(p).toString('base64') }));
      const transfer = await page.evaluateHandle((fs) => {
        const dt = new DataTransfer();
        for (const f of fs) {
          const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
          dt.items.add(new File([bytes], f.name, { type: f.type }));
        }
        return dt;
      }, files);
      await page.dispatchEvent('#drop', 'drop', { dataTransfer: transfer });
      expected += step.drop.length;
    }
    await waitFor(expected);
  }
  out.results = await page.$$eval('#results article', (nodes) => nodes.map((n) => ({
    name: n.dataset.name,
    error: n.dataset.error ?? null,
    result: n.dataset.result ? JSON.parse(n.dataset.result) : null,
    text: n.innerText,
  })));
  if (job.time) {
    // ms per image through the page's own path (decode + preprocess + model), after one warm-up
    out.timings = await page.evaluate(async ({ urls, repeats }) => {
      const rows = [];
      await globalThis.imgcls.classifyUrl(urls[0]);
      for (let r = 0; r < repeats; r++) {
        for (const u of urls) rows.push((await globalThis.imgcls.classifyUrl(u)).timings_ms);
      }
      return rows;
    }, job.time);
  }
  // the page's own decode / preprocess on one file: bytes in and out as base64 (one file at a time keeps it small)
  const inPage = async (file, what) => page.evaluate(async ({ b64, name, what: w }) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const toB64 = (u8) => {
      let s = '';
      for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000));
      return btoa(s);
    };
    try {
      if (w.tensor) {
        const t = await globalThis.imgcls.inputTensor(new Blob([bytes]), name);
        return { dims: t.dims, type: t.type, decoder: t.decoder,
          b64: toB64(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)) };
      }
      const { image, decoder } = await globalThis.imgcls.decode(new Blob([bytes]), name, { wasm: w.wasm });
      const n = image.width * image.height;
      let rgb = image.data;
      if (rgb.length === n * 4) {
        rgb = new Uint8Array(n * 3);
        for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) rgb[3 * i + c] = image.data[4 * i + c];
      }
      return { width: image.width, height: image.height, decoder, b64: toB64(rgb) };
    } catch (e) {
      return { error: e.message };
    }
  }, { b64: readFileSync(file).toString('base64'), name: basename(file), what });
  for (const [key, ext] of [['pixels', 'rgb'], ['tensors', 'f32']]) {
    if (!job[key]) continue;
    out[key] = [];
    for (const request of job[key]) {
      const rows = [];
      for (const [i, file] of request.files.entries()) {
        const r = await inPage(file, { tensor: key === 'tensors', wasm: request.wasm ?? true });
        if (r.b64 !== undefined) writeFileSync(`${request.out}/${i}.${ext}`, Buffer.from(r.b64, 'base64'));
        delete r.b64;
        rows.push(r);
      }
      out[key].push(rows);
    }
  }
  if (job.screenshot) await page.screenshot({ path: job.screenshot, fullPage: true });
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out));
