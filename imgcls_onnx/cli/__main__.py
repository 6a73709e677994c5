"""``python -m imgcls_onnx.cli``: the same as the ``imgcls-onnx`` console script."""
from . import main

main()
