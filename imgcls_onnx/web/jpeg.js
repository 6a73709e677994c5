// jpeg.js: JPEG decoding that gives the Python runtime's pixels in any browser (and under Node). No imports.
//
// The runtime decodes with OpenCV's libjpeg-turbo (cv2.imdecode, IMREAD_COLOR: ISLOW integer IDCT, fancy
// upsampling, CMYK converted with OpenCV's own formula) and applies the EXIF orientation itself. A browser's decoder
// may differ (Chromium's equals it except on CMYK, where it is one level off; other browsers were not measured), so
// the page decodes JPEGs with libjpeg-turbo 2.0.4 compiled to WebAssembly (npm @cwasm/jpeg-turbo 0.1.3: TurboJPEG's
// tjDecompress2 with no flags, i.e. ISLOW and fancy upsampling) and does the rest here. tests/web check the pixels
// against the runtime's on real and generated JPEGs (4:4:4, 4:2:2, 4:2:0, 4:4:0, 4:1:1, progressive, grayscale,
// CMYK, restart markers, every EXIF orientation).
//
//   import { JpegDecoder, decodeJpeg } from './jpeg.js';
//   const decoder = new JpegDecoder(await WebAssembly.compile(wasmBytes));   // or: await loadJpegDecoder(url, sri)
//   const image = await decodeJpeg(decoder, bytes, { maxPixels });   // { data: RGB, width, height, channels: 3 }

export const JPEG_WASM = { package: '@cwasm/jpeg-turbo', version: '0.1.3', file: 'jpeg-turbo.wasm',
  library: 'libjpeg-turbo 2.0.4' };

// TurboJPEG's pixel formats and JPEG colourspaces (turbojpeg.h)
const TJPF_RGB = 0;
const TJPF_CMYK = 11;
const TJCS_CMYK = 3;
const TJCS_YCCK = 4;
// a decoder whose memory grew past this after an image is dropped (WebAssembly memory never shrinks), so the page
// holds no more than one decoded image's worth once it is done with it
const KEEP_MEMORY_BYTES = 64 << 20;

/** The file is refused (over a limit): the caller must not try another decoder. */
export class JpegRefusal extends Error {}

/** libjpeg-turbo could not decode the file (corrupt, or a kind the WASM build lacks: arithmetic coding, 12-bit). */
export class JpegDecodeError extends Error {}

export function isJpeg(bytes) {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/** Whether an end-of-image marker occurs anywhere, the runtime's test for a truncated JPEG (it refuses one). */
export function hasEndOfImage(bytes) {
  for (let i = bytes.length - 2; i >= 0; i--) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return true;
  }
  return false;
}

/** The EXIF orientation (1..8) as the runtime reads it (Pillow's getexif on the first APP1 Exif segment, IFD0 tag
 * 0x0112); 1 when there is none or it cannot be read. */
export function exifOrientation(bytes) {
  let i = 2;
  while (i + 4 <= bytes.length) {
    if (bytes[i] !== 0xff) return 1;
    const marker = bytes[i + 1];
    if (marker === 0xff) { i += 1; continue; }  // fill byte
    if (marker === 0xd9 || marker === 0xda) return 1;  // end of image, start of scan: no Exif before the pixels
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { i += 2; continue; }  // no length
    const length = (bytes[i + 2] << 8) | bytes[i + 3];
    if (length < 2) return 1;
    const start = i + 4;
    const end = Math.min(bytes.length, i + 2 + length);
    if (marker === 0xe1 && end - start >= 6 && bytes[start] === 0x45 && bytes[start + 1] === 0x78 &&
        bytes[start + 2] === 0x69 && bytes[start + 3] === 0x66 && bytes[start + 4] === 0 && bytes[start + 5] === 0) {
      return tiffOrientation(bytes.subarray(start + 6, end));
    }
    i += 2 + length;
  }
  return 1;
}

function tiffOrientation(t) {
  if (t.length < 8) return 1;
  const little = t[0] === 0x49 && t[1] === 0x49;
  if (!little && !(t[0] === 0x4d && t[1] === 0x4d)) return 1;
  const u16 = (o) => (little ? t[o] | (t[o + 1] << 8) : (t[o] << 8) | t[o + 1]);
  const u32 = (o) => (little ? (t[o] | (t[o + 1] << 8) | (t[o + 2] << 16)) + t[o + 3] * 2 ** 24
    : t[o] * 2 ** 24 + ((t[o + 1] << 16) | (t[o + 2] << 8) | t[o + 3]));
  if (u16(2) !== 42) return 1;
  const ifd = u32(4);
  if (ifd + 2 > t.length) return 1;
  const count = u16(ifd);
  for (let k = 0; k < count; k++) {
    const e = ifd + 2 + 12 * k;
    if (e + 12 > t.length) return 1;
    if (u16(e) !== 0x0112) continue;
    const type = u16(e + 2);
    const value = type === 3 ? u16(e + 8) : type === 4 ? u32(e + 8) : 1;
    return value >= 1 && value <= 8 ? value : 1;
  }
  return 1;
}

/** The runtime's apply_exif_orientation on an HWC uint8 image (2 mirror, 3 rotate 180, 4 flip, 5 transpose,
 * 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise): { data, width, height }. */
export function orient(data, width, height, channels, orientation) {
  if (!(orientation >= 2 && orientation <= 8)) return { data, width, height };
  // output (x, y) reads source (sx, sy) = (cx + ax * x + bx * y, cy + ay * x + by * y)
  const W = width - 1;
  const H = height - 1;
  const [cx, ax, bx, cy, ay, by] = {
    2: [W, -1, 0, 0, 0, 1], 3: [W, -1, 0, H, 0, -1], 4: [0, 1, 0, H, 0, -1], 5: [0, 0, 1, 0, 1, 0],
    6: [0, 0, 1, H, -1, 0], 7: [W, 0, -1, H, -1, 0], 8: [W, 0, -1, 0, 1, 0],
  }[orientation];
  const swap = orientation >= 5;
  const ow = swap ? height : width;
  const oh = swap ? width : height;
  const out = new Uint8Array(ow * oh * channels);
  const stepX = (ay * width + ax) * channels;
  const stepY = (by * width + bx) * channels;
  let row = (cy * width + cx) * channels;
  let o = 0;
  for (let y = 0; y < oh; y++, row += stepY) {
    for (let x = 0, s = row; x < ow; x++, s += stepX) {
      for (let c = 0; c < channels; c++) out[o++] = data[s + c];
    }
  }
  return { data: out, width: ow, height: oh };
}

/** OpenCV's CMYK (as libjpeg returns Adobe's inverted CMYK) to RGB: x = k - ((255 - x) * k >> 8). */
export function cmykToRGB(cmyk) {
  const rgb = new Uint8Array((cmyk.length / 4) * 3);
  for (let i = 0, j = 0; i < cmyk.length; i += 4, j += 3) {
    const k = cmyk[i + 3];
    rgb[j] = k - (((255 - cmyk[i]) * k) >> 8);
    rgb[j + 1] = k - (((255 - cmyk[i + 1]) * k) >> 8);
    rgb[j + 2] = k - (((255 - cmyk[i + 2]) * k) >> 8);
  }
  return rgb;
}

class LibjpegAbort extends Error {}

/** libjpeg-turbo's TurboJPEG decoder in a WebAssembly instance, made again after a failure (libjpeg's error exit
 * longjmps, which this build turns into a JavaScript exception through the C stack: the instance is not reused). */
export class JpegDecoder {
  constructor(module) {
    if (!(module instanceof WebAssembly.Module)) throw new TypeError('JpegDecoder takes a compiled WebAssembly.Module');
    this.module = module;
    this.exports = null;
  }

  async instance() {
    if (this.exports) return this.exports;
    let memory = null;
    const bad = 8;  // WASI EBADF: nothing here has files, an environment or a console
    const env = {
      setjmp: () => 0,
      longjmp: () => { throw new LibjpegAbort('libjpeg-turbo could not decode the data'); },
    };
    const wasi = {
      environ_sizes_get: (countPtr, sizePtr) => {
        const view = new DataView(memory.buffer);
        view.setUint32(countPtr, 0, true);
        view.setUint32(sizePtr, 0, true);
        return 0;
      },
      environ_get: () => 0,
      fd_write: () => bad,
      fd_close: () => bad,
      fd_seek: () => bad,
      proc_exit: (code) => { throw new LibjpegAbort(`libjpeg-turbo exited (${code})`); },
    };
    const instance = await WebAssembly.instantiate(this.module, { env, wasi_snapshot_preview1: wasi });
    memory = instance.exports.memory;
    this.exports = instance.exports;
    return this.exports;
  }

  /** Decode JPEG bytes: { data: RGB (CMYK converted as OpenCV does), width, height }, orientation not applied.
   * Over `maxPixels` (read from the header, before decoding) throws JpegRefusal; a failure throws JpegDecodeError. */
  async decode(bytes, { maxPixels = 0 } = {}) {
    const x = await this.instance();
    let input = 0;
    let meta = 0;
    let output = 0;
    let handle = 0;
    let failed = false;
    try {
      input = x.malloc(bytes.length);
      meta = x.malloc(16);
      if (!input || !meta) throw new JpegDecodeError('out of WebAssembly memory');
      new Uint8Array(x.memory.buffer, input, bytes.length).set(bytes);
      handle = x.tjInitDecompress();
      if (!handle) throw new JpegDecodeError('cannot start the decoder');
      if (x.tjDecompressHeader3(handle, input, bytes.length, meta, meta + 4, meta + 8, meta + 12) !== 0) {
        throw new JpegDecodeError('cannot read the JPEG header');
      }
      const [width, height, , colorspace] = new Int32Array(x.memory.buffer, meta, 4);
      if (maxPixels && width * height > maxPixels) {
        throw new JpegRefusal(`${width}x${height} pixels is over the limit of ${maxPixels}`);
      }
      const cmyk = colorspace === TJCS_CMYK || colorspace === TJCS_YCCK;
      const channels = cmyk ? 4 : 3;
      const size = width * height * channels;
      output = x.malloc(size);
      if (!output) throw new JpegDecodeError(`out of WebAssembly memory for ${width}x${height} pixels`);
      // -1 without an exception is a warning (libjpeg decoded through corrupt data, as OpenCV does): the pixels stand
      x.tjDecompress2(handle, input, bytes.length, output, width, width * channels, height,
        cmyk ? TJPF_CMYK : TJPF_RGB, 0);
      const pixels = new Uint8Array(x.memory.buffer, output, size);
      return { data: cmyk ? cmykToRGB(pixels) : pixels.slice(), width, height };
    } catch (e) {
      if (e instanceof JpegRefusal || e instanceof JpegDecodeError) throw e;
      failed = true;
      throw new JpegDecodeError(e instanceof LibjpegAbort ? e.message : `libjpeg-turbo failed (${e})`);
    } finally {
      if (failed || x.memory.buffer.byteLength > KEEP_MEMORY_BYTES) {
        this.exports = null;  // a fresh instance next time
      } else {
        if (handle) x.tjDestroy(handle);
        for (const p of [input, meta, output]) if (p) x.free(p);
      }
    }
  }
}

/** Fetch, check and compile the decoder's .wasm. `integrity` ("sha384-<base64>", as in the page's meta tag) is
 * checked when the browser can hash (secure contexts); a file from another origin that cannot be checked is refused. */
export async function loadJpegDecoder(url, integrity = '') {
  const response = await fetch(url, { credentials: 'same-origin' });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const bytes = await response.arrayBuffer();
  if (integrity) {
    const subtle = globalThis.crypto?.subtle;
    const sameOrigin = globalThis.location === undefined || new URL(url, location.href).origin === location.origin;
    if (subtle) {
      const digest = new Uint8Array(await subtle.digest('SHA-384', bytes));
      const got = `sha384-${btoa(String.fromCharCode(...digest))}`;
      if (got !== integrity) throw new Error(`${url}: integrity ${got} is not the pinned ${integrity}`);
    } else if (!sameOrigin) {
      throw new Error(`${url}: cannot check its integrity outside a secure context`);
    }
  }
  return new JpegDecoder(await WebAssembly.compile(bytes));
}

/** Decode a JPEG as the runtime does: refuse one without an end-of-image marker, then libjpeg-turbo, then the EXIF
 * orientation. { data: RGB, width, height, channels: 3 }. */
export async function decodeJpeg(decoder, bytes, { maxPixels = 0 } = {}) {
  if (!hasEndOfImage(bytes)) throw new JpegRefusal('truncated JPEG (no end-of-image marker)');
  const { data, width, height } = await decoder.decode(bytes, { maxPixels });
  const turned = orient(data, width, height, 3, exifOrientation(bytes));
  return { ...turned, channels: 3 };
}
