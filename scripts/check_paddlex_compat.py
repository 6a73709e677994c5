#!/usr/bin/env python3
"""Check that PaddleX 3.x's own predictor reads one of our bundles and gives the same results as imgcls-onnx.

PaddleX is a peer, not a dependency: install it in its own virtualenv and pass that interpreter:

    python3 -m venv /tmp/pxvenv
    /tmp/pxvenv/bin/pip install paddlex==3.7.2 paddlepaddle==3.3.1 onnxruntime opencv-contrib-python pypdfium2
    .venv/bin/python scripts/check_paddlex_compat.py --paddlex-python /tmp/pxvenv/bin/python --model DIR IMG...

PaddleX runs with engine="onnxruntime" and batch_size=1 (PaddleX 3.7.2 writes the whole batch's class_ids into every
result of a larger batch). The files written by both save_to_json are compared field by field, the classes as groups
of exactly equal scores: among equal scores PaddleX's order depends on the CPU (its argsort is not stable) and ours
puts the higher class id first (docs/usage.md).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PADDLEX_SIDE = r"""
import sys, json
from paddlex import create_model
model_dir, model_name, out = sys.argv[1], sys.argv[2], sys.argv[3]
model = create_model(model_name=model_name, model_dir=model_dir, engine="onnxruntime", device="cpu")
for img in sys.argv[4:]:
    for res in model.predict(img, batch_size=1):
        res.save_to_json(out)
"""


def tie_groups(res: dict) -> list:
    """[(score, {(class id, label)}), ...] highest first: the classes of equal scores as one unordered group."""
    ids = res["class_ids"][0] if res["class_ids"] and isinstance(res["class_ids"][0], list) else res["class_ids"]
    groups: list = []
    for class_id, score, label in zip(ids, res["scores"], res["label_names"]):
        if groups and groups[-1][0] == score:
            groups[-1][1].add((class_id, label))
        else:
            groups.append((score, {(class_id, label)}))
    return groups


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--paddlex-python", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("images", nargs="+")
    args = ap.parse_args()
    from imgcls_onnx import Classifier

    with tempfile.TemporaryDirectory() as tmp:
        px_out, our_out = Path(tmp) / "paddlex", Path(tmp) / "ours"
        with Classifier.from_dir(args.model, device="cpu") as clf:
            name = clf.bundle.name
            for res in clf.predict(args.images):
                res.save_to_json(our_out)
        proc = subprocess.run([args.paddlex_python, "-c", PADDLEX_SIDE, args.model, name, str(px_out), *args.images],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr[-3000:])
            print("PaddleX could not run the bundle")
            return 1
        same = 0
        for ours in sorted(our_out.glob("*.json")):
            mine = json.loads(ours.read_text())
            theirs = json.loads((px_out / ours.name).read_text())
            ok = mine["input_path"] == theirs["input_path"] and tie_groups(mine) == tie_groups(theirs)
            same += ok
            print(f"{ours.name}: {'identical' if ok else 'DIFFERENT'}  paddlex={theirs['label_names'][0]!r} "
                  f"{theirs['scores'][0]}  ours={mine['label_names'][0]!r} {mine['scores'][0]}")
        total = len(list(our_out.glob("*.json")))
        print(f"{same}/{total} results identical (input_path, class_ids, scores, label_names; equal scores as a group)")
        return 0 if same == total else 1


if __name__ == "__main__":
    sys.exit(main())
