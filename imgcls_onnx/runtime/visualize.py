"""Draw the top-1 label on an image, offline (PaddleX downloads a font at this point and fails without network)."""
from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .errors import warn

ENV_FONT = "IMGCLS_ONNX_FONT"
# Fonts tried in order (after $IMGCLS_ONNX_FONT); the first that has a glyph for every character of the label wins,
# so Chinese labels (PaddleX's own orientation models label 倒置180度-style names) are drawn, not boxes.
_SYSTEM_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "C:\\Windows\\Fonts\\msyh.ttc",
    "C:\\Windows\\Fonts\\arial.ttf",
)
_WARNED: set = set()


def font_paths() -> list[str]:
    env = os.environ.get(ENV_FONT)
    return ([env] if env else []) + [p for p in _SYSTEM_FONTS if os.path.exists(p)]


@lru_cache(maxsize=64)
def _load(path: str, size: int):
    try:
        return ImageFont.truetype(path, size)
    except OSError:
        return None


def covers(font, text: str) -> bool:
    """Whether the font has a glyph for every visible character (a missing one renders as the .notdef box)."""
    try:
        notdef = bytes(font.getmask("\U0010fffd"))
        return all(ch.isspace() or bytes(font.getmask(ch)) != notdef for ch in set(text))
    except Exception:
        return False


@lru_cache(maxsize=256)
def _font_path_for(text: str) -> str | None:
    paths = font_paths()
    for path in paths:
        font = _load(path, 24)
        if font is not None and covers(font, text):
            return path
    if any(ord(ch) > 0x2E7F for ch in text) and text not in _WARNED:
        _WARNED.add(text)
        warn(f"no installed font has every character of {text!r}; it is drawn with boxes. Install one (Debian: "
             f"apt-get install fonts-noto-cjk) or set {ENV_FONT}=/path/to/font")
    return paths[0] if paths else None


def _font(size: int, text: str = ""):
    path = _font_path_for(text)
    font = _load(path, size) if path else None
    if font is not None:
        return font
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: bitmap font only
        return ImageFont.load_default()


def draw_top1(image_rgb: np.ndarray, text: str) -> Image.Image:
    """Box in the top-left corner with the text, sized like PaddleX's (2-5 % of the image width)."""
    image = Image.fromarray(np.ascontiguousarray(image_rgb))
    draw = ImageDraw.Draw(image)
    width = image.size[0]
    max_size = max(int(width * 0.05), 8)
    min_size = max(int(width * 0.02), 6)
    font = _font(min_size, text)
    for size in range(max_size, min_size - 1, -1):
        candidate = _font(size, text)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=candidate)
        if right - left <= width:
            font = candidate
            break
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    tw, th = right - left, bottom - top
    draw.rectangle([(3, 3), (3 + tw + 6, 3 + th + 6 + top)], fill=(255, 0, 0))
    draw.text((6, 3), text, fill=(255, 255, 255), font=font)
    return image
