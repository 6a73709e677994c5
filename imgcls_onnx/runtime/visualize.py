"""Draw the top-1 label on an image, offline (PaddleX downloads a font at this point and fails without network)."""
from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Fonts that cover CJK / wide Unicode, used when installed; else Pillow's bundled scalable font.
_SYSTEM_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "C:\\Windows\\Fonts\\msyh.ttc",
    "C:\\Windows\\Fonts\\arial.ttf",
)


@lru_cache(maxsize=32)
def _font(size: int):
    for path in _SYSTEM_FONTS:
        if os.path.exists(path):
            try:
                return ImageFont.truetype(path, size)
            except OSError:
                continue
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
    font = _font(min_size)
    for size in range(max_size, min_size - 1, -1):
        candidate = _font(size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=candidate)
        if right - left <= width:
            font = candidate
            break
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    tw, th = right - left, bottom - top
    draw.rectangle([(3, 3), (3 + tw + 6, 3 + th + 6 + top)], fill=(255, 0, 0))
    draw.text((6, 3), text, fill=(255, 255, 255), font=font)
    return image
