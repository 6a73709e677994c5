"""Defaults that the library and the CLI both read: a signature's default and a click option's default name the
same constant here, so they cannot drift apart. (PaddleX-compatible entry points keep PaddleX's own defaults, e.g.
``create_model(batch_size=1)``; image size limits are ``images.ImageLimits``'s field defaults.)"""
from __future__ import annotations

#: images per model run: Classifier, predict / evaluate (CLI and library), Ray batch, the Paddle comparison
BATCH_SIZE = 8
