"""Run paddle2onnx in its own process: it can abort the whole process (SIGABRT) instead of raising.

    python -m imgcls_onnx.converter._p2o_worker MODEL_FILE PARAMS_FILE SAVE_FILE OPSET
"""
from __future__ import annotations

import os
import sys
import warnings


def main() -> int:
    model_file, params_file, save_file, opset = sys.argv[1:5]
    os.environ.setdefault("GLOG_minloglevel", "2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import paddle2onnx

    # optimize_tool=None: the default (polygraphy) pip-installs packages during the first conversion and
    # doubles peak memory; the onnxoptimizer option is broken in paddle2onnx 2.1.0 (docs/conversion.md).
    paddle2onnx.export(
        model_filename=model_file,
        params_filename=params_file,
        save_file=save_file,
        opset_version=int(opset),
        auto_upgrade_opset=True,
        enable_onnx_checker=True,
        optimize_tool=None,
    )
    return 0 if os.path.isfile(save_file) else 3


if __name__ == "__main__":
    sys.exit(main())
