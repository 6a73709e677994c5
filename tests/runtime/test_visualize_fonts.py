"""Labels in any script are drawn with a font that has their glyphs (PaddleX's own orientation models use Chinese
label names); when no installed font covers a label, one warning says what to install."""
from __future__ import annotations

import os

import numpy as np
import pytest

from imgcls_onnx.runtime import visualize
from imgcls_onnx.runtime.errors import ImgclsWarning

CJK_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"  # installed by ./scripts/test
DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
LABEL = "倒置180度"

if not os.path.exists(CJK_FONT):  # a Debian package: under ./scripts/test (which installs it) this skip is a failure
    pytest.skip(f"{CJK_FONT} is absent: apt-get install fonts-wqy-microhei (./scripts/test installs it; "
                "./scripts/test --fast does not)", allow_module_level=True)


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    monkeypatch.delenv(visualize.ENV_FONT, raising=False)
    visualize._font_path_for.cache_clear()
    visualize._WARNED.clear()
    yield
    visualize._font_path_for.cache_clear()


def test_a_covering_font_is_chosen_for_chinese_labels():
    path = visualize._font_path_for(LABEL)
    assert path is not None and visualize.covers(visualize._load(path, 24), LABEL)
    # the independent check: the default Latin font really lacks these glyphs, so choosing matters
    assert not visualize.covers(visualize._load(DEJAVU, 24), LABEL)
    assert visualize._font_path_for("180 degrees") == DEJAVU  # Latin labels keep the first font


def test_drawn_label_differs_from_tofu(monkeypatch):
    image = np.full((200, 400, 3), 255, np.uint8)
    good = np.asarray(visualize.draw_top1(image, LABEL))
    monkeypatch.setattr(visualize, "font_paths", lambda: [DEJAVU])
    visualize._font_path_for.cache_clear()
    with pytest.warns(ImgclsWarning, match="drawn with boxes"):
        tofu = np.asarray(visualize.draw_top1(image, LABEL))
    assert not np.array_equal(good[:40], tofu[:40])


def test_font_option_and_the_warning_when_nothing_covers(monkeypatch):
    monkeypatch.setenv(visualize.ENV_FONT, CJK_FONT)
    assert visualize.font_paths()[0] == CJK_FONT
    monkeypatch.delenv(visualize.ENV_FONT)
    monkeypatch.setattr(visualize, "font_paths", lambda: [DEJAVU])
    visualize._font_path_for.cache_clear()
    with pytest.warns(ImgclsWarning) as said:
        visualize.draw_top1(np.zeros((100, 200, 3), np.uint8), LABEL)
        visualize.draw_top1(np.zeros((100, 200, 3), np.uint8), LABEL)
    assert len(said) == 1
    err = str(said[0].message)
    assert "no installed font has every character" in err and "fonts-noto-cjk" in err
