// jpeg.js under Node with the pinned libjpeg-turbo WebAssembly: decode JPEG files as the page does.
//   node jpeg_decode.mjs OUT_DIR '{"max_pixels": n, "files": ["a.jpg", ...]}'
// writes OUT_DIR/<i>.rgb (RGB, EXIF orientation applied) and prints [{width, height} | {refused} | {error}, ...]
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { JpegDecodeError, JpegDecoder, JpegRefusal, decodeJpeg } from '../../imgcls_onnx/web/jpeg.js';

const [outDir, job] = process.argv.slice(2);
const { files, max_pixels: maxPixels = 0 } = JSON.parse(job);
const wasm = createRequire(import.meta.url).resolve('@cwasm/jpeg-turbo/jpeg-turbo.wasm');
const decoder = new JpegDecoder(await WebAssembly.compile(readFileSync(wasm)));
const out = [];
for (const [i, file] of files.entries()) {
  try {
    const image = await decodeJpeg(decoder, new Uint8Array(readFileSync(file)), { maxPixels });
    writeFileSync(`${outDir}/${i}.rgb`, image.data);
    out.push({ width: image.width, height: image.height });
  } catch (e) {
    if (e instanceof JpegRefusal) out.push({ refused: e.message });
    else if (e instanceof JpegDecodeError) out.push({ error: e.message });
    else throw e;
  }
}
process.stdout.write(JSON.stringify(out));
