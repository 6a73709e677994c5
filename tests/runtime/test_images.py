"""The image loader: formats, colour handling, EXIF, limits and explained refusals."""
from __future__ import annotations

import io
import os

import cv2
import numpy as np
import pytest
from helpers import structured_image
from PIL import Image

from imgcls_onnx.runtime.errors import ImageDecodeError, ImageNotFoundError, ImageTooLargeError
from imgcls_onnx.runtime.images import ImageLimits, load_image

# every test here runs twice: with OpenCV decoding, and with Pillow (the decoder of an install without OpenCV)
pytestmark = pytest.mark.usefixtures("decoder")


def _encode(rgb, fmt="PNG", **kw):
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, fmt, **kw)
    return buf.getvalue()


def test_png_roundtrip_exact_from_path_and_bytes(tmp_path):
    rgb = structured_image(30, 40)
    data = _encode(rgb)
    p = tmp_path / "ünïcode dir" / "a b.png"
    p.parent.mkdir()
    p.write_bytes(data)
    assert np.array_equal(load_image(p), rgb)
    assert np.array_equal(load_image(data), rgb)


def test_bgr_array_and_pil_inputs():
    rgb = structured_image(20, 30)
    assert np.array_equal(load_image(np.ascontiguousarray(rgb[:, :, ::-1])), rgb)
    assert np.array_equal(load_image(Image.fromarray(rgb)), rgb)
    gray = rgb[:, :, 0].copy()
    assert load_image(gray).shape == (20, 30, 3)
    with pytest.raises(Exception, match="uint8"):
        load_image(rgb.astype(np.float32))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_applied_for_files_and_bytes(tmp_path, orientation):
    """An image stored transposed with a tag must come out upright, whatever the OpenCV version."""
    upright = structured_image(24, 40, seed=orientation)
    # store the pixels so that applying `orientation` restores `upright`
    inverse = {1: lambda a: a, 2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
               5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, 1), 7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
               8: lambda a: np.rot90(a, -1)}[orientation]
    stored = np.ascontiguousarray(inverse(upright))
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _encode(stored, "PNG", exif=exif.tobytes())
    p = tmp_path / f"o{orientation}.png"
    p.write_bytes(data)
    assert np.array_equal(load_image(data), upright)
    assert np.array_equal(load_image(p), upright)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_equals_cv2_imread_and_pillow(tmp_path, orientation):
    """The reference is PaddleX's ReadImage, cv2.imread with IMREAD_COLOR, which applies the tag itself; Pillow's
    exif_transpose agrees. A non-square JPEG tells every one of the eight transforms apart (7, the transverse, was
    once a plain rotation here)."""
    from PIL import ImageOps

    exif = Image.Exif()
    exif[0x0112] = orientation
    p = tmp_path / f"o{orientation}.jpg"
    Image.fromarray(structured_image(24, 40, seed=orientation)).save(p, quality=95, exif=exif.tobytes())
    ours = load_image(p)
    assert np.array_equal(ours, cv2.imread(str(p), cv2.IMREAD_COLOR)[:, :, ::-1])
    assert np.array_equal(ours, np.asarray(ImageOps.exif_transpose(Image.open(p)).convert("RGB")))


def test_rgba_png_drops_alpha_like_imread_color():
    rgba = np.dstack([structured_image(10, 12), np.full((10, 12), 7, np.uint8)])
    got = load_image(_encode(rgba))
    expected = cv2.cvtColor(cv2.imdecode(np.frombuffer(_encode(rgba), np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert np.array_equal(got, expected) and np.array_equal(got, rgba[:, :, :3])


def test_gray_and_16bit():
    g = structured_image(10, 12)[:, :, 0]
    assert np.array_equal(load_image(_encode(g)), np.dstack([g, g, g]))
    g16 = (g.astype(np.uint16) * 257)
    ok, buf = cv2.imencode(".png", g16)
    got = load_image(buf.tobytes())
    assert got.dtype == np.uint8 and np.array_equal(got[:, :, 0], g)


def test_gif_first_frame():
    frames = [Image.fromarray(structured_image(16, 16, seed=s)).convert("P") for s in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    first = np.asarray(frames[0].convert("RGB"))
    assert np.array_equal(load_image(buf.getvalue()), first)


def test_avif_with_alpha_keeps_its_colours():
    """OpenCV 5.1 hands out BGR for AVIF with alpha under IMREAD_COLOR_RGB: AVIF is decoded with Pillow."""
    from PIL import features

    if not features.check("avif"):
        pytest.skip("not applicable: this Pillow has no AVIF codec")
    rgba = np.dstack([structured_image(20, 30), np.full((20, 30), 200, np.uint8)])
    data = _encode(rgba, "AVIF", quality=90)
    got = load_image(data)
    assert np.array_equal(got, np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    assert np.abs(got.astype(int) - rgba[:, :, :3]).mean() < 4


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"PK\x03\x04" + b"\x00" * 40, "zip"),
        (b"hello, this is a text file\n", "plain text"),
        (bytes(range(256)) * 4, "unrecognised"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "a damaged PNG file"),
    ],
)
def test_not_images_are_explained(data, message):
    with pytest.raises(ImageDecodeError, match=message):
        load_image(data)


def test_truncated_jpeg_and_png():
    jpg = cv2.imencode(".jpg", structured_image(64, 64))[1].tobytes()
    with pytest.raises(ImageDecodeError, match="truncated|cannot decode|corrupt"):
        load_image(jpg[: len(jpg) // 2])
    png = _encode(structured_image(64, 64))
    with pytest.raises(ImageDecodeError):
        load_image(png[: len(png) // 2])


def test_paths_that_are_not_files(tmp_path):
    with pytest.raises(ImageNotFoundError, match="no such file"):
        load_image(tmp_path / "missing.jpg")
    (tmp_path / "x.jpg").mkdir()
    with pytest.raises(ImageNotFoundError, match="is a directory"):
        load_image(tmp_path / "x.jpg")
    os.symlink(tmp_path / "gone.jpg", tmp_path / "link.jpg")
    with pytest.raises(ImageNotFoundError, match="broken symbolic link"):
        load_image(tmp_path / "link.jpg")


def test_pixel_bomb_refused_from_header():
    """A 50,000 x 50,000 PNG header: refused before any pixel buffer is allocated."""
    import struct
    import zlib

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b"")
    assert len(data) < 2000
    with pytest.raises(ImageTooLargeError, match="refused"):
        load_image(data)
    with pytest.raises(ImageTooLargeError, match="exceed the limit of 100"):
        load_image(_encode(structured_image(20, 20)), limits=ImageLimits(max_pixels=100))


def test_byte_limit(tmp_path):
    p = tmp_path / "a.png"
    p.write_bytes(_encode(structured_image(20, 20)))
    with pytest.raises(ImageTooLargeError, match="bytes exceed"):
        load_image(p, limits=ImageLimits(max_bytes=10))


def test_jpeg_reduction_never_goes_below_min_side():
    from imgcls_onnx.runtime.images import jpeg_reduction

    assert jpeg_reduction(1600, 1200, 256) == 4  # 1200/4 = 300 >= 256, 1200/8 = 150 < 256
    assert jpeg_reduction(1200, 1600, 256) == 4  # the short side decides, whatever the orientation
    assert jpeg_reduction(512, 700, 256) == 2
    assert jpeg_reduction(511, 700, 256) == 2  # libjpeg rounds scaled sides up: ceil(511 / 2) = 256
    assert jpeg_reduction(510, 700, 256) == 1  # ceil(510 / 2) = 255 < 256
    assert jpeg_reduction(500, 400, 256) == 1
    assert jpeg_reduction(4000, 3000, 224) == 8
    assert jpeg_reduction(4000, 3000, None) == 1


def test_fast_decode_reduces_large_jpegs_only(tmp_path):
    from helpers import write_jpeg

    big = structured_image(1100, 1500, seed=2)
    jpg = write_jpeg(tmp_path / "big.jpg", big)
    png = tmp_path / "big.png"
    cv2.imwrite(str(png), big[:, :, ::-1])
    exact = load_image(jpg)
    assert exact.shape == (1100, 1500, 3)
    reduced = load_image(jpg, min_side=256)
    assert reduced.shape == (275, 375, 3)  # 1/4 scale: ceil(1100/4), ceil(1500/4)
    assert load_image(jpg.read_bytes(), min_side=256).shape == (275, 375, 3)
    # a scaled IDCT is close to an area average of the exact decode, not equal to it
    area = cv2.resize(exact, (375, 275), interpolation=cv2.INTER_AREA).astype(np.int16)
    assert float(np.abs(area - reduced).mean()) < 3.0
    assert not np.array_equal(area, reduced)
    assert load_image(png, min_side=256).shape == (1100, 1500, 3)  # PNG has no scaled decode
    assert load_image(jpg, min_side=600).shape == (1100, 1500, 3)  # 1100/2 = 550 < 600: full size


def test_fast_decode_keeps_exif_orientation(tmp_path):
    img = Image.fromarray(structured_image(600, 1000, seed=5))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 clockwise to display
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=exif.tobytes(), quality=92)
    assert load_image(path).shape == (1000, 600, 3)
    assert load_image(path, min_side=256).shape == (500, 300, 3)
