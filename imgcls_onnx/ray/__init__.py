"""Batch classification on a Ray cluster (the ``ray`` extra): a Ray Dataset of image files in, PaddleX results out.

Files are read with Ray Data's own binary reader (local paths, and any filesystem pyarrow supports, so ``s3://``
works where credentials exist), which ``run`` has Ray Data fuse into the model actors; decoding and preprocessing
run inside the actors with this package's exact pipeline (not Ray's image reader, which would change the pixels);
each actor of the pool loads the bundle once. A file that cannot be decoded becomes a row with an ``error`` field,
never a failed job. Results are written as Parquet shards (float64 scores stay exact) by the driver, to a local
folder or to any pyarrow filesystem (``s3://bucket/results/``). Actors are restarted and their batches retried when
a worker dies, so every input gives exactly one row.

From your own Ray program::

    import ray
    from imgcls_onnx.ray import classify_dataset

    ds = ray.data.read_binary_files("s3://bucket/images/", include_paths=True, num_cpus=4, num_gpus=1)
    # the read asks for what an actor does and a call takes a whole block: Ray Data reads inside the actors
    results = classify_dataset(ds, "PP-LCNet_x1_0.tar.gz", actors=8, threads_per_actor=4, num_gpus=1,
                               whole_blocks=True, path_prefix="s3://")  # Ray Data's paths lack the scheme
    results.write_parquet("s3://bucket/results/")

The modules: ``job`` (``RayJob``, the options passed whole from the driver to the actors), ``driver`` (``run``),
``plan`` (the actor pool, the blocks, the Dataset), ``actor`` (``BundlePredictor``), ``listing`` (the inputs),
``io`` (Parquet shards, resume), ``compat`` (importing Ray, Ray Data workarounds), ``gate`` (a test hook).
Nothing here is imported by ``import imgcls_onnx`` or by the runtime, and importing this package does not import
Ray (``compat.ray_module`` does, when a job needs it).
"""
from __future__ import annotations

from ..errors import StorageError
from .actor import BundlePredictor
from .compat import quiet_ray_data, ray_module
from .driver import run, run_job
from .io import done_inputs, read_results, read_results_file, row_schema, row_to_json
from .job import ROWS_PER_CALL, RayJob
from .plan import actor_plan, block_plan, classify, classify_dataset, reads_in_actors, results_dataset

__all__ = ["ROWS_PER_CALL", "BundlePredictor", "RayJob", "StorageError", "actor_plan", "block_plan", "classify",
           "classify_dataset", "done_inputs", "quiet_ray_data", "ray_module", "read_results", "read_results_file",
           "reads_in_actors", "results_dataset", "row_schema", "row_to_json", "run", "run_job"]
