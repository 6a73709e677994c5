"""A dataset whose label.txt and lists were saved by a Windows tool (UTF-8 with a BOM, CRLF line ends) checks exactly
like the same dataset without them (docs/platforms.md)."""
from __future__ import annotations

import json

import pytest
from helpers import structured_image, write_jpeg

from imgcls_onnx.datasets.check import check_dataset

BOM = "\ufeff".encode("utf-8")
FILES = {
    "label.txt": "0 猫\n1 狗\n",
    "train.txt": "imgs/a.jpg 0\nimgs/b.jpg 1\nimgs/c.jpg 0\n",
    "val.txt": "imgs/d.jpg 1\n",
}


def _dataset(root, bom: bool, crlf: bool):
    for i, name in enumerate("abcd"):
        write_jpeg(root / "imgs" / f"{name}.jpg", structured_image(24, 24, seed=i))
    for name, text in FILES.items():
        data = text.replace("\n", "\r\n" if crlf else "\n").encode("utf-8")
        (root / name).write_bytes(BOM + data if bom else data)
    return root


def _check(root):
    got = check_dataset(root)
    return got, json.loads(json.dumps(got.result, ensure_ascii=False).replace(json.dumps(str(root))[1:-1], "ROOT"))


@pytest.mark.parametrize("crlf", [False, True])
def test_a_bom_dataset_checks_like_the_same_dataset_without(tmp_path, crlf):
    plain, plain_result = _check(_dataset(tmp_path / "plain", bom=False, crlf=False))
    bom, bom_result = _check(_dataset(tmp_path / "bom", bom=True, crlf=crlf))
    assert plain.check_pass and plain.problems == []
    assert bom.check_pass, bom.problems
    assert bom.dataset.labels == plain.dataset.labels == {0: "猫", 1: "狗"}
    assert bom.dataset.samples == plain.dataset.samples
    assert bom_result == plain_result
