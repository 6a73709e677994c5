#!/usr/bin/env python3
"""Regenerate the supported-models table in docs/models.md from imgcls_onnx/zoo_manifest.json (+ the zoo report)."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from imgcls_onnx.runtime.transforms import ResizeImage  # noqa: E402
from imgcls_onnx.store.catalogue import load_zoo  # noqa: E402


def main() -> None:
    report_path = ROOT / "reports" / "zoo_conversion.json"
    status = {}
    if report_path.exists():
        for r in json.loads(report_path.read_text())["models"]:
            status[r["name"]] = r
    lines = ["| model | family | input | resize (backend) | top-1 (PaddleX) | converted + parity (random init) |",
             "|---|---|---|---|---|---|"]
    for m in load_zoo().models:
        resize = next(op for op in m.preprocess.ops if isinstance(op, ResizeImage))
        side = f"short {resize.resize_short}" if resize.resize_short else f"size {resize.size_wh[0]}x{resize.size_wh[1]}"
        how = f"{side}, {resize.interpolation} ({resize.backend})"
        r = status.get(m.name)
        if r is None:
            conv = "not run"
        elif r["status"] == "pass":
            conv = f"pass, rel. err {r['relative_logit_error']:.1e}"
        else:
            conv = f"**{r['status']}**"
        top1 = f"{m.reference.top1:.2f}" if m.reference.top1 is not None else "-"
        lines.append(f"| {m.name} | {m.family} | {m.input_hw[0]}x{m.input_hw[1]} | {how} | {top1} | {conv} |")
    readme = ROOT / "docs" / "models.md"
    text = readme.read_text()
    new = re.sub(r"(<!-- models:start -->\n).*?(<!-- models:end -->)", lambda mo: mo.group(1) + "\n".join(lines) + "\n" + mo.group(2),
                 text, flags=re.S)
    readme.write_text(new)
    print(f"{len(lines) - 2} models written to the docs/models.md table")


if __name__ == "__main__":
    main()
