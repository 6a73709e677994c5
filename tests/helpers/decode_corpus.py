"""Generated images of every kind the runtime decodes, to compare the Pillow decoder with OpenCV's pixel for pixel.

Deterministic (one seed), written with OpenCV's and Pillow's encoders in each mode/quality/subsampling/progressive
setting, plus hand-written files for what neither encoder writes (interlaced and low-bit-depth PNG, 16-bit / RLE /
top-down BMP, PPM with odd maxvals). Odd sizes (1x1, 17x33, ...) come first. ``build(max_side)`` returns
``[(name, kind, bytes)]``; ``kind`` groups the rows of the agreement table (scripts/decode_agreement.py).
"""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

FIXED_SIZES = ((1, 1), (17, 33), (33, 17), (2, 3), (8, 8), (9, 15), (16, 16))


def content(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """RGB uint8: gradients, a saturated block, a few edges and noise (chroma and high frequencies for JPEG)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a, b, c = rng.uniform(0.02, 0.5, 3)
    img = np.stack([127 + 127 * np.sin(xx * a + yy * b), 255 * xx / max(w - 1, 1), 127 + 127 * np.cos(yy * c)], -1)
    y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w))
    img[y0:y0 + max(1, h // 3), x0:x0 + max(1, w // 3)] = rng.choice([0, 255], 3)
    img += rng.normal(0, rng.uniform(0, 40), img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _pil(img, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _cmyk(px: np.ndarray) -> Image.Image:
    return Image.frombytes("CMYK", (px.shape[1], px.shape[0]), np.ascontiguousarray(px).tobytes())


_ADOBE_RGB = b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x00"  # APP14, transform 0: components are RGB


def _jpeg_segments(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """The marker segments between SOI and SOS as (marker, whole segment), and the rest from SOS on."""
    segments, i = [], 2
    while data[i + 1] != 0xDA:
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        segments.append((data[i + 1], data[i:i + 2 + length]))
        i += 2 + length
    return segments, data[i:]


def _jpeg_without(data: bytes, marker: int) -> bytes:
    segments, rest = _jpeg_segments(data)
    return data[:2] + b"".join(seg for m, seg in segments if m != marker) + rest


def _adobe_transform(data: bytes, transform: int) -> bytes:
    segments, rest = _jpeg_segments(data)
    out = []
    for m, seg in segments:
        if m == 0xEE and seg[4:9] == b"Adobe":
            seg = seg[:15] + bytes([transform]) + seg[16:]
        out.append(seg)
    return data[:2] + b"".join(out) + rest


# the little-endian IFD entry ExtraSamples (338), SHORT, count 1, value 2 (unassociated alpha) that Pillow writes
_EXTRASAMPLES_UNASSOCIATED = b"\x52\x01\x03\x00\x01\x00\x00\x00\x02\x00\x00\x00"


# --- hand-written formats ----------------------------------------------------------------------------------------

def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _pack_rows(px: np.ndarray, depth: int) -> list[bytes]:
    """px: (h, w*channels) of sample values -> one packed byte string per row (MSB first, 16-bit big-endian)."""
    if depth == 16:
        return [row.astype(">u2").tobytes() for row in px]
    if depth == 8:
        return [row.astype(np.uint8).tobytes() for row in px]
    per = 8 // depth
    rows = []
    for row in px.astype(np.uint8):
        pad = (-len(row)) % per
        r = np.concatenate([row, np.zeros(pad, np.uint8)]).reshape(-1, per)
        shifts = np.arange(per - 1, -1, -1) * depth
        rows.append((r << shifts).sum(1).astype(np.uint8).tobytes())
    return rows


_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def png_raw(px: np.ndarray, color_type: int, depth: int, interlace: bool = False, palette: np.ndarray | None = None,
            trns: bytes | None = None) -> bytes:
    """Any PNG colour type / bit depth / interlacing, filter 0. ``px``: (h, w, channels) sample values."""
    h, w = px.shape[:2]
    px = px.reshape(h, w, -1)
    raw = b""
    passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
    for x0, y0, dx, dy in passes:
        sub = px[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        raw += b"".join(b"\x00" + r for r in _pack_rows(sub.reshape(sub.shape[0], -1), depth))
    out = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, int(interlace)))
    if palette is not None:
        out += _chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    if trns is not None:
        out += _chunk(b"tRNS", trns)
    return out + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b"")


def bmp_raw(rgb: np.ndarray, kind: str, rng: np.random.Generator) -> bytes:
    """BMP variants: 16-bit 555 / 565 (bitfields), 24-bit top-down, 32-bit BI_RGB, 4-bit palette, RLE8, RLE4."""
    h, w = rgb.shape[:2]
    masks, palette, compression, top_down = b"", b"", 0, False
    if kind in ("rgb555", "rgb565"):
        bpp = 16
        r, g, b = (rgb[..., i].astype(np.uint16) for i in range(3))
        if kind == "rgb555":
            v = ((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3)
        else:
            v = ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3)
            compression, masks = 3, struct.pack("<III", 0xF800, 0x07E0, 0x001F)
        rows = [row.astype("<u2").tobytes() for row in v]
    elif kind in ("top_down24", "bgr32"):
        bpp = 24 if kind == "top_down24" else 32
        top_down = kind == "top_down24"
        bgr = rgb[..., ::-1]
        if bpp == 32:
            bgr = np.dstack([bgr, rng.integers(0, 256, (h, w), dtype=np.uint8)])
        rows = [row.tobytes() for row in bgr]
    else:  # palette kinds
        colors = 16 if kind in ("pal4", "rle4") else 256
        pal = rng.integers(0, 256, (colors, 3), dtype=np.uint8)
        idx = rng.integers(0, colors, (h, w), dtype=np.uint8)
        idx[:, : w // 2] = idx[:, :1]  # runs for RLE
        palette = np.hstack([pal[:, ::-1], np.zeros((colors, 1), np.uint8)]).tobytes()
        bpp = 4 if kind in ("pal4", "rle4") else 8
        if kind == "pal4":
            rows = _pack_rows(idx, 4)
        else:
            compression = 1 if kind == "rle8" else 2
            rows = [_rle_row(row, bpp) for row in idx]
    if compression in (1, 2):
        pixels = b"".join(rows[::-1]) + b"\x00\x01"
    else:
        stride = (len(rows[0]) + 3) // 4 * 4
        ordered = rows if top_down else rows[::-1]
        pixels = b"".join(r.ljust(stride, b"\x00") for r in ordered)
    n_colors = len(palette) // 4
    offset = 14 + 40 + len(masks) + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, w, -h if top_down else h, 1, bpp, compression, len(pixels), 2835, 2835,
                       n_colors, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + masks + palette + pixels


def _rle_row(row: np.ndarray, bpp: int) -> bytes:
    """Encoded-mode runs only (count, value), then end of line."""
    out = bytearray()
    i = 0
    while i < len(row):
        j = i
        while j < len(row) and row[j] == row[i] and j - i < 254:
            j += 1
        value = int(row[i]) if bpp == 8 else (int(row[i]) << 4) | int(row[i])
        out += bytes((j - i, value))
        i = j
    return bytes(out) + b"\x00\x00"


def pnm_raw(px: np.ndarray, magic: str, maxval: int) -> bytes:
    h, w = px.shape[:2]
    head = f"{magic}\n# generated\n{w} {h}\n" + ("" if magic in ("P1", "P4") else f"{maxval}\n")
    if magic in ("P2", "P3"):
        body = "\n".join(" ".join(str(int(v)) for v in row.ravel()) for row in px).encode() + b"\n"
    elif magic == "P1":
        body = "\n".join(" ".join(str(int(v)) for v in row) for row in px).encode() + b"\n"
    elif magic == "P4":
        body = b"".join(_pack_rows(px, 1))
    else:
        body = px.astype(">u2" if maxval > 255 else np.uint8).tobytes()
    return head.encode() + body


# --- the corpus --------------------------------------------------------------------------------------------------

def build(max_side: int = 48, seed: int = 0) -> list[tuple[str, str, bytes]]:
    import cv2

    rng = np.random.default_rng(seed)
    items: list[tuple[str, str, bytes]] = []
    sizes = iter(list(FIXED_SIZES) * 2)

    def size() -> tuple[int, int]:
        s = next(sizes, None)
        return s if s is not None else (int(rng.integers(1, max_side + 1)), int(rng.integers(1, max_side + 1)))

    def add(kind: str, desc: str, data: bytes) -> None:
        items.append((f"{len(items):03d}_{kind}_{desc}", kind, data))

    def cv_enc(ext: str, arr: np.ndarray, params=()) -> bytes:
        ok, buf = cv2.imencode(ext, arr, list(params))
        assert ok, (ext, arr.shape, params)
        return buf.tobytes()

    # JPEG written by OpenCV: every sampling factor, progressive, restart intervals, optimised tables, gray
    sampling = {"411": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_411, "420": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
                "422": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422, "440": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_440,
                "444": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444}
    for sname, sval in sampling.items():
        for progressive in (0, 1):
            for rst in (0, 1, 3):
                h, w = size()
                q = int(rng.integers(20, 101))
                params = [cv2.IMWRITE_JPEG_QUALITY, q, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, sval,
                          cv2.IMWRITE_JPEG_PROGRESSIVE, progressive, cv2.IMWRITE_JPEG_RST_INTERVAL, rst,
                          cv2.IMWRITE_JPEG_OPTIMIZE, int(rng.integers(0, 2))]
                kind = "jpeg_progressive" if progressive else "jpeg_baseline"
                add(kind, f"cv2_{sname}_q{q}_rst{rst}_{w}x{h}", cv_enc(".jpg", content(rng, h, w)[..., ::-1], params))
    for progressive in (0, 1):
        for _ in range(3):
            h, w = size()
            q = int(rng.integers(20, 101))
            add("jpeg_gray", f"cv2_p{progressive}_q{q}_{w}x{h}",
                cv_enc(".jpg", content(rng, h, w)[..., 1], [cv2.IMWRITE_JPEG_QUALITY, q,
                                                            cv2.IMWRITE_JPEG_PROGRESSIVE, progressive]))

    # JPEG written by Pillow: subsampling 4:4:4 / 4:2:2 / 4:2:0, progressive, optimize, gray, CMYK (Adobe, inverted)
    for sub in (0, 1, 2):
        for progressive in (False, True):
            for _ in range(2):
                h, w = size()
                q = int(rng.integers(20, 101))
                kind = "jpeg_progressive" if progressive else "jpeg_baseline"
                add(kind, f"pil_sub{sub}_q{q}_{w}x{h}", _pil(Image.fromarray(content(rng, h, w)), "JPEG", quality=q,
                                                            subsampling=sub, progressive=progressive,
                                                            optimize=bool(rng.integers(0, 2))))
    for progressive in (False, True):
        for _ in range(2):
            h, w = size()
            add("jpeg_gray", f"pil_p{int(progressive)}_{w}x{h}",
                _pil(Image.fromarray(content(rng, h, w)).convert("L"), "JPEG", quality=int(rng.integers(20, 101)),
                     progressive=progressive))
    for progressive in (False, True):
        for _ in range(4):
            h, w = size()
            cmyk = _cmyk(np.dstack([content(rng, h, w), content(rng, h, w)[..., :1]]))
            add("jpeg_cmyk", f"pil_adobe_p{int(progressive)}_{w}x{h}",
                _pil(cmyk, "JPEG", quality=int(rng.integers(20, 101)), progressive=progressive))
    # Adobe APP14 variants made from those by editing markers (libjpeg's colour transforms, not the encoder's):
    # CMYK without the Adobe marker, YCCK (transform 2), RGB stored as RGB (Adobe transform 0, no JFIF)
    for i in range(4):
        h, w = size()
        cmyk = _pil(_cmyk(np.dstack([content(rng, h, w), content(rng, h, w)[..., :1]])), "JPEG",
                    quality=int(rng.integers(20, 101)), progressive=bool(i % 2))
        add("jpeg_cmyk", f"no_adobe_{w}x{h}", _jpeg_without(cmyk, 0xEE))
        add("jpeg_ycck", f"ycck_{w}x{h}", _adobe_transform(cmyk, 2))
        h, w = size()
        rgb = _pil(Image.fromarray(content(rng, h, w)), "JPEG", quality=int(rng.integers(20, 101)),
                   subsampling=i % 3)
        add("jpeg_adobe_rgb", f"rgb_{w}x{h}", _jpeg_without(rgb, 0xE0)[:2] + _ADOBE_RGB + _jpeg_without(rgb, 0xE0)[2:])
    # EXIF orientation (the decoders ignore it; the runtime applies it itself)
    for orientation in range(1, 9):
        h, w = size()
        exif = Image.Exif()
        exif[0x0112] = orientation
        add("jpeg_exif", f"o{orientation}_{w}x{h}", _pil(Image.fromarray(content(rng, h, w)), "JPEG", quality=90,
                                                          exif=exif.tobytes()))

    # PNG written by OpenCV: 8/16-bit, colour / alpha / gray
    for shape, depth in (("bgr", 8), ("bgra", 8), ("gray", 8), ("bgr", 16), ("bgra", 16), ("gray", 16)):
        for _ in range(2):
            h, w = size()
            rgb = content(rng, h, w)
            arr = {"bgr": rgb[..., ::-1], "bgra": np.dstack([rgb[..., ::-1], content(rng, h, w)[..., :1]]),
                   "gray": rgb[..., 1]}[shape]
            arr = np.ascontiguousarray(arr)
            if depth == 16:
                arr = arr.astype(np.uint16) * 257 + rng.integers(0, 257, arr.shape).astype(np.uint16)
            add(f"png{'_16bit' if depth == 16 else ''}", f"cv2_{shape}{depth}_{w}x{h}",
                cv_enc(".png", arr, [cv2.IMWRITE_PNG_COMPRESSION, int(rng.integers(0, 10))]))
    # PNG written by Pillow: every mode it writes
    for mode in ("RGB", "RGBA", "L", "LA", "P", "P_trns", "1", "I;16", "L_trns", "RGB_trns"):
        for _ in range(2):
            h, w = size()
            im = Image.fromarray(content(rng, h, w))
            kw = {}
            if mode == "RGBA":
                im = Image.fromarray(np.dstack([np.asarray(im), content(rng, h, w)[..., :1]]))
            elif mode == "LA":
                im = Image.fromarray(np.dstack([np.asarray(im.convert("L")), content(rng, h, w)[..., :1]]))
            elif mode.startswith("P"):
                im = im.quantize(int(rng.integers(2, 257)))
                if mode == "P_trns":
                    kw["transparency"] = 0
            elif mode == "1":
                im = im.convert("1")
            elif mode == "I;16":
                im = Image.fromarray(content(rng, h, w)[..., 0].astype(np.uint16) * 251 + 7)
            elif mode == "L_trns":
                im, kw = im.convert("L"), {"transparency": int(np.asarray(im.convert("L"))[0, 0])}
            elif mode == "RGB_trns":
                kw["transparency"] = tuple(int(v) for v in np.asarray(im)[0, 0])
            kind = "png_16bit" if mode == "I;16" else ("png_palette" if mode.startswith("P") else
                                                        ("png_gray" if mode in ("L", "1", "L_trns") else "png"))
            add(kind, f"pil_{mode.replace(';', '')}_{w}x{h}", _pil(im, "PNG", **kw))
    # PNG by hand: every colour type x bit depth, interlaced or not, tRNS
    combos = [(0, d) for d in (1, 2, 4, 8, 16)] + [(2, 8), (2, 16), (3, 1), (3, 2), (3, 4), (3, 8), (4, 8), (4, 16),
                                                   (6, 8), (6, 16)]
    for color_type, depth in combos:
        for interlace in (False, True):
            h, w = size()
            channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
            top = (1 << depth) - 1
            px = rng.integers(0, top + 1, (h, w, channels))
            if depth >= 8:  # smooth parts too, not only noise
                px[: h // 2] = (np.resize(content(rng, h, w), (h, w, channels))[: h // 2].astype(np.int64) * top // 255)
            palette = trns = None
            if color_type == 3:
                palette = rng.integers(0, 256, (1 << depth, 3))
                trns = bytes(rng.integers(0, 256, min(1 << depth, 5)).astype(np.uint8))
            elif color_type in (0, 2) and rng.integers(0, 2):
                trns = b"".join(struct.pack(">H", int(v)) for v in rng.integers(0, top + 1, channels))
            kind = {0: "png_gray", 2: "png", 3: "png_palette", 4: "png_gray_alpha", 6: "png"}[color_type]
            if depth == 16:
                kind = "png_16bit"
            if interlace:
                kind = "png_interlaced"
            add(kind, f"raw_ct{color_type}_d{depth}_i{int(interlace)}_{w}x{h}",
                png_raw(px, color_type, depth, interlace, palette, trns))

    # BMP: OpenCV's 24-bit / 8-bit gray, Pillow's modes, hand-written 16-bit, 32-bit, top-down, 4-bit, RLE
    for _ in range(2):
        h, w = size()
        add("bmp", f"cv2_bgr_{w}x{h}", cv_enc(".bmp", content(rng, h, w)[..., ::-1]))
        h, w = size()
        add("bmp", f"cv2_gray_{w}x{h}", cv_enc(".bmp", content(rng, h, w)[..., 0]))
    for mode in ("RGB", "RGBA", "L", "P", "1"):
        h, w = size()
        im = Image.fromarray(content(rng, h, w))
        im = {"RGBA": lambda i: i.convert("RGBA"), "L": lambda i: i.convert("L"), "P": lambda i: i.quantize(77),
              "1": lambda i: i.convert("1")}.get(mode, lambda i: i)(im)
        add("bmp", f"pil_{mode}_{w}x{h}", _pil(im, "BMP"))
    for kind in ("rgb555", "rgb565", "top_down24", "bgr32", "pal4", "rle8", "rle4"):
        h, w = size()
        add("bmp_raw", f"{kind}_{w}x{h}", bmp_raw(content(rng, h, w), kind, rng))

    # WebP: lossy and lossless, with and without alpha, both encoders
    for _ in range(3):
        h, w = size()
        q = int(rng.integers(1, 101))
        add("webp_lossy", f"cv2_q{q}_{w}x{h}", cv_enc(".webp", content(rng, h, w)[..., ::-1], [cv2.IMWRITE_WEBP_QUALITY, q]))
        h, w = size()
        add("webp_lossless", f"cv2_{w}x{h}", cv_enc(".webp", content(rng, h, w)[..., ::-1],
                                                    [cv2.IMWRITE_WEBP_LOSSLESS_MODE, cv2.IMWRITE_WEBP_LOSSLESS_ON]))
        h, w = size()
        bgra = np.dstack([content(rng, h, w)[..., ::-1], content(rng, h, w)[..., :1]])
        add("webp_lossy", f"cv2_bgra_q{q}_{w}x{h}", cv_enc(".webp", bgra, [cv2.IMWRITE_WEBP_QUALITY, q]))
    for alpha in (False, True):
        for lossless in (False, True):
            for _ in range(2):
                h, w = size()
                im = Image.fromarray(content(rng, h, w))
                if alpha:
                    im = Image.fromarray(np.dstack([np.asarray(im), content(rng, h, w)[..., :1]]))
                q = int(rng.integers(1, 101))
                add("webp_lossless" if lossless else "webp_lossy", f"pil_a{int(alpha)}_q{q}_{w}x{h}",
                    _pil(im, "WEBP", lossless=lossless, quality=q, method=int(rng.integers(0, 7))))

    # TIFF: OpenCV's (LZW), Pillow's in every mode and compression
    for shape in ("bgr", "bgra", "gray", "bgr16", "bgra16", "gray16"):
        h, w = size()
        rgb = content(rng, h, w)
        arr = {"bgr": rgb[..., ::-1], "bgra": np.dstack([rgb[..., ::-1], rgb[..., :1]]), "gray": rgb[..., 0],
               "bgr16": rgb[..., ::-1].astype(np.uint16) * 257 + rng.integers(0, 257, (h, w, 3)).astype(np.uint16),
               "bgra16": np.dstack([rgb[..., ::-1], rgb[..., :1]]).astype(np.uint16) * 257 + 100,
               "gray16": rgb[..., 0].astype(np.uint16) * 257 + rng.integers(0, 257, (h, w)).astype(np.uint16)}[shape]
        kind = "tiff_16bit_colour" if shape in ("bgr16", "bgra16") else "tiff"
        add(kind, f"cv2_{shape}_{w}x{h}", cv_enc(".tiff", np.ascontiguousarray(arr)))
    for mode in ("RGB", "RGBA", "L", "LA", "1", "P", "CMYK", "I;16"):
        for compression in ("raw", "tiff_lzw", "tiff_adobe_deflate", "packbits"):
            h, w = size()
            im = Image.fromarray(content(rng, h, w))
            if mode == "I;16":
                im = Image.fromarray(content(rng, h, w)[..., 0].astype(np.uint16) * 257)
            elif mode == "LA":
                im = Image.fromarray(np.dstack([np.asarray(im.convert("L")), content(rng, h, w)[..., :1]]))
            elif mode == "P":
                im = im.quantize(int(rng.integers(2, 257)))
            elif mode == "CMYK":
                im = _cmyk(np.dstack([content(rng, h, w), content(rng, h, w)[..., :1]]))
            elif mode != "RGB":
                im = im.convert(mode)
            kind = "tiff_cmyk" if mode == "CMYK" else "tiff"
            add(kind, f"pil_{mode.replace(';', '')}_{compression}_{w}x{h}", _pil(im, "TIFF", compression=compression))
    for compression in ("raw", "tiff_lzw"):  # RGBA with unassociated alpha (Pillow's), and associated (patched)
        h, w = size()
        im = Image.fromarray(np.dstack([content(rng, h, w), content(rng, h, w)[..., :1]]))
        unassociated = _pil(im, "TIFF", compression=compression)
        assert unassociated.count(_EXTRASAMPLES_UNASSOCIATED) == 1
        add("tiff_alpha", f"pil_RGBA_unassociated_{compression}_{w}x{h}", unassociated)
        add("tiff_alpha", f"pil_RGBA_associated_{compression}_{w}x{h}",
            unassociated.replace(_EXTRASAMPLES_UNASSOCIATED, _EXTRASAMPLES_UNASSOCIATED[:8] + b"\x01\x00\x00\x00"))
    for _ in range(2):
        h, w = size()
        add("tiff", f"pil_jpeg_{w}x{h}", _pil(Image.fromarray(content(rng, h, w)), "TIFF", compression="jpeg"))

    # PPM / PGM / PBM: binary and ASCII, 8- and 16-bit, a maxval that is neither
    for magic, maxval, channels in (("P6", 255, 3), ("P5", 255, 1), ("P6", 65535, 3), ("P5", 65535, 1),
                                    ("P5", 1000, 1), ("P6", 100, 3), ("P3", 255, 3), ("P2", 255, 1),
                                    ("P2", 100, 1), ("P3", 1000, 3), ("P2", 65535, 1), ("P6", 4095, 3),
                                    ("P4", 1, 1), ("P1", 1, 1)):
        h, w = size()
        if maxval == 1:
            px = rng.integers(0, 2, (h, w))
        else:
            px = rng.integers(0, maxval + 1, (h, w, channels))
            px = px[..., 0] if channels == 1 else px
        add("pnm", f"{magic}_max{maxval}_{w}x{h}", pnm_raw(px, magic, maxval))

    # JPEG 2000 and AVIF (OpenCV and Pillow both read them with openjpeg / libavif)
    for fmt, kind in (("JPEG2000", "jpeg2000"), ("AVIF", "avif")):
        for alpha in (False, True):
            h, w = size()
            arr = content(rng, h, w)
            if alpha:
                arr = np.dstack([arr, content(rng, h, w)[..., :1]])
            add(kind, f"a{int(alpha)}_{w}x{h}", _pil(Image.fromarray(arr), fmt, **({"quality": 60} if fmt == "AVIF" else {})))

    # multi-frame (Pillow's first frame / page on both paths) and GIF
    frames = [Image.fromarray(content(rng, 20, 30)) for _ in range(3)]
    add("multiframe", "gif", _pil(frames[0].quantize(64), "GIF", save_all=True,
                                  append_images=[f.quantize(64) for f in frames[1:]]))
    add("multiframe", "tiff", _pil(frames[0], "TIFF", save_all=True, append_images=frames[1:]))
    add("multiframe", "webp", _pil(frames[0], "WEBP", save_all=True, append_images=frames[1:], quality=80))
    add("gif", "still", _pil(frames[1].quantize(17), "GIF"))
    return items
