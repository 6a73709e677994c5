"""The converter (the ``convert`` extra: paddlepaddle, paddle2onnx, onnx, paddleclas).

Turns zoo architectures, ``.pdparams`` weights, PaddleX inference folders (``inference.json`` or legacy
``inference.pdmodel``) and foreign ONNX files into verified bundles. Importing this package is cheap; the heavy
imports happen inside the functions that need them.
"""
