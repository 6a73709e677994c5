"""End to end: a real Paddle inference folder whose Softmax saturates (the same one-hot row for every input) is
refused by `convert DIR` and by `convert NAME --source DIR` (the official route), with one error line saying why,
a non-zero exit and no bundle anywhere. Its parity comparison would match any conversion that ignored its input.

The folder is built here with paddle directly (a tiny conv net whose last bias is 1e4 for one class, ending in
softmax, saved with paddle.jit.save) and checked, in Paddle itself, to give the same one-hot row for random inputs."""
from __future__ import annotations

import subprocess
import sys

import pytest
from helpers import ROOT, require_convert_extra, run_cli
from helpers.cachecheck import tree

pytestmark = [pytest.mark.convert, pytest.mark.slow]

OFFICIAL_NAME = "PP-LCNet_x1_0_doc_ori"  # any zoo name: with --source DIR the folder's own inference.yml rules

YML = """Global:
  model_name: SaturatedNet
PreProcess:
  transform_ops:
  - ResizeImage:
      resize_short: 36
  - CropImage:
      size: 32
  - NormalizeImage:
      channel_num: 3
      mean: [0.485, 0.456, 0.406]
      order: ''
      scale: 0.00392156862745098
      std: [0.229, 0.224, 0.225]
  - ToCHWImage: null
PostProcess:
  Topk:
    topk: 1
    label_list: [a, b, c, d]
"""

BUILD = """
import sys, warnings; warnings.simplefilter('ignore')
import numpy as np, paddle
folder = sys.argv[1]
class Net(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv = paddle.nn.Conv2D(3, 8, 3, padding=1)
        self.fc = paddle.nn.Linear(8, 4)
    def forward(self, x):
        h = paddle.nn.functional.relu(self.conv(x)).mean(axis=[2, 3])
        return paddle.nn.functional.softmax(self.fc(h), axis=-1)
paddle.seed(0)
net = Net()
net.fc.bias.set_value(np.array([0.0, 0.0, 1e4, 0.0], np.float32))  # class 2 wins whatever the input
net.eval()
x = paddle.to_tensor(np.random.default_rng(0).normal(0, 3, (16, 3, 32, 32)).astype(np.float32))
p = net(x).numpy()
assert (p == p[0]).all() and p[0, 2] == 1.0 and (p[0, [0, 1, 3]] < 1e-20).all(), p  # one-hot, every input
paddle.jit.save(net, folder + '/inference', input_spec=[paddle.static.InputSpec([None, 3, 32, 32], 'float32', 'x')])
"""


def _tree(root):
    return [path for path, _kind in tree(root)]


@pytest.fixture(scope="module")
def saturated_folder(tmp_path_factory):
    require_convert_extra()
    folder = tmp_path_factory.mktemp("saturated") / "SaturatedNet"
    folder.mkdir()
    script = folder.parent / "build_saturated.py"  # a file: paddle.jit.save reads the forward's source
    script.write_text(BUILD, encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script), str(folder)], capture_output=True, text=True, timeout=600,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (folder / "inference.yml").write_text(YML, encoding="utf-8")
    assert {"inference.json", "inference.pdiparams", "inference.yml"} <= {p.name for p in folder.iterdir()}
    return folder


@pytest.mark.parametrize("where", ["cache", "out"])
@pytest.mark.parametrize("route", ["dir", "source"])
def test_saturated_softmax_is_refused_end_to_end(saturated_folder, tmp_path, monkeypatch, route, where):
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    monkeypatch.setenv("IMGCLS_ONNX_HOME", str(home))
    monkeypatch.setenv("TMPDIR", str(tmp))
    source_before = _tree(saturated_folder)
    args = [str(saturated_folder)] if route == "dir" else [OFFICIAL_NAME, "--source", str(saturated_folder)]
    out = tmp_path / "bundle"
    if where == "out":
        args += ["--out", str(out)]

    proc = run_cli("convert", *args)

    assert proc.returncode == 1, (proc.returncode, proc.stdout[-2000:], proc.stderr[-3000:])
    assert proc.stdout == "", "no report may be printed for a refused conversion"
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    error = errors[0]
    assert "parity cannot be proven" in error and "saturated (one-hot)" in error, error
    assert "do not depend on the input" in error and "1 distinct top-1 class(es) over 8 inputs" in error, error
    assert "--verify-images" in error, error  # and what to do about it
    # nothing written: not at --out, not in the cache (not even an empty folder), no temporary files
    assert not out.exists()
    assert _tree(home) == [], _tree(home)
    # onnxruntime 1.32 writes $TMPDIR/.ses (a timestamp and a uuid) when it is imported: not ours
    assert [p for p in _tree(tmp) if p != ".ses"] == [], _tree(tmp)
    assert _tree(saturated_folder) == source_before  # the source folder is read, never written
