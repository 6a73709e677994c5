"""One order for exact ties on x86-64, aarch64 and in the browser (#30): among equal scores the higher class id first.
numpy's default argsort orders ties one way on x86-64 (x86-simd-sort) and another on aarch64 (introsort), so the
runtime must not depend on it. Expected orders are written out by hand (tests/tie_cases.py):

- ``top_k`` on aarch64 (scripts/arm64) on the tie vectors: ties of 2 to 5 at the top, at the k-th place, all equal,
  1000 classes, k larger than the class count;
- ``predict --topk 5`` on a float model whose logits tie (integer logits chosen by the colour of a plain image), as a
  user runs it, on x86-64 and on aarch64, and the export-web page in headless Chromium on the same images.
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from arm_harness import env, setup_harness
from helpers.tie_cases import CASES, MODEL_EXPECTED, tie_bundle, tie_images

pytestmark = pytest.mark.slow

TOP_K = """
import platform, sys
import numpy as np
from imgcls_onnx.runtime.postprocess import top_k
with np.load(sys.argv[1]) as f:
    cases = [(f[f"scores_{i}"], int(f[f"k_{i}"])) for i in range(int(f["n"]))]
np.savez(sys.argv[2], machine=np.array(platform.machine()),
         **{f"ids_{i}": top_k(scores[None, :], k)[0][0] for i, (scores, k) in enumerate(cases)})
"""


def test_top_k_gives_the_written_order_on_aarch64(tmp_path):
    harness = setup_harness()
    inputs = {"n": np.array(len(CASES))}
    for i, (_, scores, k, _) in enumerate(CASES):
        inputs[f"scores_{i}"], inputs[f"k_{i}"] = scores, np.array(k)
    np.savez(tmp_path / "in.npz", **inputs)
    proc = subprocess.run([str(harness), "run", "-c", TOP_K, str(tmp_path / "in.npz"), str(tmp_path / "out.npz")],
                          capture_output=True, text=True, timeout=600, env=env())
    assert proc.returncode == 0, f"the aarch64 run failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}"
    with np.load(tmp_path / "out.npz") as out:
        assert str(out["machine"]) == "aarch64"
        got = [out[f"ids_{i}"].tolist() for i in range(len(CASES))]
    wrong = [(name, ids, expected) for (name, _, _, expected), ids in zip(CASES, got) if ids != expected]
    assert not wrong, f"top_k on aarch64: {wrong}"


def _predict(cmd_prefix: list[str], bundle, images, cli_env) -> list[list[int]]:
    args = ["-m", "imgcls_onnx.cli", "predict", "--model", str(bundle), "--device", "cpu", "--threads", "1",
            "--topk", "5", *map(str, images)]
    proc = subprocess.run([*cmd_prefix, *args], capture_output=True, text=True, timeout=600, env=cli_env)
    assert proc.returncode == 0, f"{cmd_prefix[0]}: rc {proc.returncode}\n{proc.stderr[-3000:]}"
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["input_path"] for line in lines] == [str(p) for p in images]
    return [line["class_ids"] for line in lines]


def test_predict_topk_5_on_tied_logits_is_the_same_on_x86_64_aarch64_and_the_page(tmp_path):
    """The acceptance line of #30: the same class ids, descending class id among equal scores, everywhere."""
    from helpers.webtools import NODE_MODULES, browser, need_chromium, need_npm_packages, serving

    from imgcls_onnx.web_export import export_web

    harness = setup_harness()
    need_npm_packages("onnxruntime-web", "@cwasm/jpeg-turbo")
    need_chromium()
    bundle = tie_bundle(tmp_path / "ties")
    images = tie_images(tmp_path / "images")
    names, paths = list(images), list(images.values())
    expected = [MODEL_EXPECTED[n] for n in names]

    cli_env = env(IMGCLS_ONNX_HOME=str(tmp_path / "home"),
                  IMGCLS_ONNX_MODEL_SOURCE="http://127.0.0.1:9/no-network-in-tests")
    cli_env.pop("IMGCLS_ONNX_RESIZE", None)
    got = {"x86-64": _predict([sys.executable], bundle, paths, cli_env),
           "aarch64": _predict([str(harness), "run"], bundle, paths, cli_env)}

    site = tmp_path / "site"
    export_web(bundle, site, ort=str(NODE_MODULES / "onnxruntime-web"),
               jpeg=str(NODE_MODULES / "@cwasm" / "jpeg-turbo"))
    with serving(site) as url:
        out = browser({"url": url + "?threads=1", "steps": [{"upload": [str(p) for p in paths]}]})
    rows = {r["name"]: r for r in out["results"]}
    assert all(rows[p.name]["error"] is None for p in paths), out["results"]
    got["browser"] = [rows[p.name]["result"]["class_ids"] for p in paths]

    wrong = {where: {n: ids for n, ids, want in zip(names, found, expected) if ids != want}
             for where, found in got.items()}
    assert not any(wrong.values()), f"expected {dict(zip(names, expected))}; differ: {wrong}"
