"""imgcls.js's ``topK`` (what the browser page and Node print) gives the hand-written orders of tests/tie_cases.py:
among equal scores the higher class id first, as the Python runtime on x86-64 and aarch64 (#30)."""
from __future__ import annotations

import json
import subprocess

from helpers import ROOT
from helpers.tie_cases import CASES
from helpers.webtools import need_node

SCRIPT = """
import { readFileSync } from 'node:fs';
const { topK } = await import(process.argv[1]);
const cases = JSON.parse(readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(cases.map(([scores, k]) => topK(Float32Array.from(scores), k).class_ids)));
"""


def test_imgcls_js_top_k_gives_the_written_order():
    node = need_node()
    module = (ROOT / "imgcls_onnx" / "web" / "imgcls.js").as_uri()
    cases = [[scores.tolist(), k] for _, scores, k, _ in CASES]
    proc = subprocess.run([node, "--input-type=module", "-e", SCRIPT, module], input=json.dumps(cases),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout)
    wrong = [(name, ids, expected) for (name, _, _, expected), ids in zip(CASES, got) if ids != expected]
    assert not wrong, wrong
