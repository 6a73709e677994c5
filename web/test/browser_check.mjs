// Drive an export-web page in headless Chromium (Debian's /usr/bin/chromium, via playwright-core) and print what it
// shows as JSON. Used by tests/web/test_browser.py and scripts/bench_web.
//   node browser_check.mjs '{"url": ..., "upload": [paths], "drop": [paths], "screenshot": path,
//                           "time": {"urls": [...], "repeats": n}}'
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
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
  if (job.screenshot) await page.screenshot({ path: job.screenshot, fullPage: true });
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out));
