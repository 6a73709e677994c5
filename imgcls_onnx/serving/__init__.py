"""HTTP serving (the ``serve`` extra: fastapi, uvicorn) and the Triton export."""
