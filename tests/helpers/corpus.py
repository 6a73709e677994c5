"""The bad-input corpus, generated (never downloaded): every case with its expected outcome written down."""
from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from helpers import structured_image


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    expected: str  # "ok" or the ImageLoadError subclass name
    hw: tuple[int, int] | None = None  # decoded (height, width) for "ok" cases
    note: str = ""


def _png(rgb_or_gray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb_or_gray).save(buf, "PNG")
    return buf.getvalue()


def _jpeg(rgb, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=92, **kw)
    return buf.getvalue()


def bomb_png(width: int = 50_000, height: int = 50_000) -> bytes:
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 4096)) + chunk(b"IEND", b"")


def build_corpus(root: Path) -> list[Case]:
    root.mkdir(parents=True, exist_ok=True)
    rgb = structured_image(120, 160, seed=11)
    cases: list[Case] = []

    def add(name, data, expected, hw=None, note=""):
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        cases.append(Case(name, p, expected, hw, note))

    good_jpeg = _jpeg(rgb)
    good_png = _png(rgb)
    add("good.jpg", good_jpeg, "ok", (120, 160))
    add("zero_bytes.jpg", b"", "ImageDecodeError", note="empty file")
    add("truncated.jpg", good_jpeg[: len(good_jpeg) // 2], "ImageDecodeError", note="no end-of-image marker")
    add("truncated.png", good_png[: len(good_png) // 2], "ImageDecodeError")
    add("random_bytes.jpg", np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "ImageDecodeError", note="not an image")
    add("notes.jpg", b"just some text, saved with the wrong extension\n" * 20, "ImageDecodeError", note="plain text")
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("a.txt", "hello")
    add("archive.jpg", zbuf.getvalue(), "ImageDecodeError", note="zip archive")
    add("unicode fotoğraf ü.jpg", good_jpeg, "ok", (120, 160), note="unicode and space in the name")
    add("gray.png", _png(rgb[:, :, 0]), "ok", (120, 160))
    add("rgba.png", _png(np.dstack([rgb, np.full(rgb.shape[:2], 100, np.uint8)])), "ok", (120, 160), note="alpha dropped")
    ok, buf16 = cv2.imencode(".png", rgb.astype(np.uint16) * 257)
    add("sixteen_bit.png", buf16.tobytes(), "ok", (120, 160), note="scaled to 8 bit")
    cmyk = io.BytesIO()
    Image.fromarray(rgb).convert("CMYK").save(cmyk, "JPEG", quality=95)
    add("cmyk.jpg", cmyk.getvalue(), "ok", (120, 160), note="CMYK JPEG converted")
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        upright_hw = (160, 120) if orientation >= 5 else (120, 160)
        add(f"exif_orientation_{orientation}.jpg", _jpeg(rgb, exif=exif.tobytes()), "ok", upright_hw,
            note="stored 160x120, shown rotated/flipped per the tag")
    add("one_pixel.png", _png(rgb[:1, :1]), "ok", (1, 1))
    add("wide_10000x10.png", _png(np.tile(rgb[:10, :1], (1, 10000, 1))), "ok", (10, 10000))
    frames = [Image.fromarray(structured_image(40, 50, seed=s)).convert("P") for s in range(3)]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    add("animated.gif", gif.getvalue(), "ok", (40, 50), note="first frame")
    tif = io.BytesIO()
    pages = [Image.fromarray(structured_image(30, 40, seed=s)) for s in range(3)]
    pages[0].save(tif, "TIFF", save_all=True, append_images=pages[1:])
    add("multipage.tiff", tif.getvalue(), "ok", (30, 40), note="first page")
    add("bomb_50000x50000.png", bomb_png(), "ImageTooLargeError", note="refused from the header")
    (root / "folder_named.jpg").mkdir(exist_ok=True)
    cases.append(Case("folder_named.jpg", root / "folder_named.jpg", "ImageNotFoundError",
                      note="a folder named like an image and holding none: reported, not skipped silently"))
    link = root / "broken_link.jpg"
    if not link.is_symlink():
        os.symlink(root / "does_not_exist.jpg", link)
    cases.append(Case("broken_link.jpg", link, "ImageNotFoundError", note="dangling symbolic link"))
    cases.append(Case("missing.jpg", root / "missing.jpg", "ImageNotFoundError", note="no such file"))
    return cases


def fuzz_seeds() -> list[bytes]:
    """Small valid images of every supported format: the starting points for mutation."""
    rgb = structured_image(24, 32, seed=5)
    seeds = []
    for fmt, kw in (("JPEG", {"quality": 80}), ("PNG", {}), ("GIF", {}), ("BMP", {}), ("WEBP", {"quality": 80}),
                    ("TIFF", {}), ("PPM", {})):
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, fmt, **kw)
        seeds.append(buf.getvalue())
    exif = Image.Exif()
    exif[0x0112] = 6
    seeds.append(_jpeg(rgb, exif=exif.tobytes()))
    return seeds


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """One to four random edits: byte flips, truncation, insertion, deletion, duplicated block, 0xFF runs."""
    buf = bytearray(data)
    for _ in range(int(rng.integers(1, 5))):
        if not buf:
            buf = bytearray(rng.integers(0, 256, 8, dtype=np.uint8).tobytes())
        op = int(rng.integers(0, 6))
        i = int(rng.integers(0, len(buf)))
        if op == 0:
            buf[i] ^= 1 << int(rng.integers(0, 8))
        elif op == 1:
            del buf[i:]
        elif op == 2:
            buf[i:i] = rng.integers(0, 256, int(rng.integers(1, 32)), dtype=np.uint8).tobytes()
        elif op == 3:
            del buf[i:i + int(rng.integers(1, 32))]
        elif op == 4:
            j = int(rng.integers(0, len(buf)))
            buf[i:i] = buf[j:j + int(rng.integers(1, 64))]
        else:
            buf[i:i + 4] = b"\xff\xff\xff\xff"
    return bytes(buf)
