"""Batch classification on a Ray cluster (the ``ray`` extra): a Ray Dataset of image files in, PaddleX results out.

Files are read with Ray Data's own binary reader (local paths, and any filesystem pyarrow supports, so ``s3://``
works where credentials exist); decoding and preprocessing run inside the workers with this package's exact
pipeline (not Ray's image reader, which would change the pixels); each actor of the pool loads the bundle once.
A file that cannot be decoded becomes a row with an ``error`` field, never a failed job. Results are written as
Parquet shards (float64 scores stay exact). Actors are restarted and
their batches retried when a worker dies, so every input gives exactly one row.

From your own Ray program::

    import ray
    from imgcls_onnx.ray_batch import classify_dataset

    ds = ray.data.read_binary_files("s3://bucket/images/", include_paths=True)
    results = classify_dataset(ds, "PP-LCNet_x1_0.tar.gz", actors=8, num_gpus=1)
    results.write_parquet("s3://bucket/results/")

Nothing here is imported by ``import imgcls_onnx`` or by the runtime.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

RESULT_COLUMNS = ("input_path", "class_ids", "scores", "label_names", "error")
ROWS_PER_CALL = 256  # rows handed to an actor per call by default: Ray Data's per-call cost is paid per call


def _ray():
    try:
        import ray
    except ImportError as e:
        from .runtime.errors import MissingExtraError

        raise MissingExtraError("ray", "ray", "--engine ray") from e
    return ray


class BundlePredictor:
    """The actor of the pool: one Classifier per actor, whole batches of (path, bytes) rows in, result rows out."""

    def __init__(self, bundle_dir: str, device: str = "cpu", threads: int = 1, topk: int | None = None,
                 batch_size: int = 8, throttle_s: float = 0.0):
        """``throttle_s``: sleep this long per batch (to watch or test fault tolerance on a tiny job)."""
        from .runtime.classifier import Classifier

        self.throttle_s = float(throttle_s)
        # threads > 1: the Classifier's own pipeline (a decode pool beside parallel model batches), as in `predict`
        self.clf = Classifier.from_dir(bundle_dir, device=device, threads=threads,
                                       parallel_batches=None if threads > 1 else 1, batch_size=batch_size, topk=topk)
        self.batch_size = batch_size

    def __call__(self, batch: dict) -> dict:
        if self.throttle_s:
            import time

            time.sleep(self.throttle_s)
        paths = [str(p) for p in batch["path"]]
        data = [bytes(b) for b in batch["bytes"]]
        out: dict[str, list] = {c: [] for c in RESULT_COLUMNS}
        for path, res in zip(paths, self.clf.predict(data, batch_size=self.batch_size)):
            out["input_path"].append(path)
            if res.ok:
                out["class_ids"].append([int(i) for i in res.class_ids])
                out["scores"].append([float(s) for s in res.scores])
                out["label_names"].append([str(n) for n in res.label_names])
                out["error"].append(None)
            else:
                row = _error_row(path, getattr(res.error, "reason", str(res.error)))
                for column in RESULT_COLUMNS[1:]:
                    out[column].append(row[column])
        return out


def _remember_failed_http_import() -> None:
    """Ray Data asks, for every path it resolves, whether the filesystem is fsspec's HTTP one, by importing
    ``fsspec.implementations.http``. With fsspec installed and aiohttp not (``ray[data]`` brings the first, not the
    second) that import fails, and Python runs the module again on each attempt: 0.5 ms per path in the driver,
    1.1 s of a 2000-image job on 2 cores, hours for 50 million paths. Record the failure once, as Python records a
    missing module: later imports raise ModuleNotFoundError at once, which Ray catches as before."""
    import importlib
    import sys

    name = "fsspec.implementations.http"
    if name in sys.modules:
        return
    try:
        importlib.import_module(name)
    except ImportError:
        sys.modules[name] = None  # type: ignore[assignment]


def quiet_ray_data() -> None:
    """For the CLI: Ray Data's INFO log lines off (execution plans, and without a terminal a progress report every
    few seconds, where a terminal gets progress bars). Errors and warnings stay."""
    import logging

    import ray.data  # noqa: F401  (configures its loggers on import; the level is set after)

    logging.getLogger("ray.data").setLevel(logging.WARNING)


def _error_row(path: str, reason: str) -> dict:
    return {"input_path": path, "class_ids": [], "scores": [], "label_names": [],
            "error": f"cannot load {path}: {reason}"}


def _write_rows(out_dir: Path, rows: list[dict]) -> None:
    """Rows made without Ray (inputs that name no file) as one more Parquet shard, written atomically."""
    import hashlib
    import os

    import pyarrow as pa
    import pyarrow.parquet as pq

    out_dir.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256("\n".join(r["input_path"] for r in rows).encode()).hexdigest()[:16]
    table = pa.table({c: [r[c] for r in rows] for c in RESULT_COLUMNS},
                     schema=pa.schema([("input_path", pa.string()), ("class_ids", pa.list_(pa.int64())),
                                       ("scores", pa.list_(pa.float64())), ("label_names", pa.list_(pa.string())),
                                       ("error", pa.string())]))
    tmp = out_dir / f".unreadable-{name}.parquet.tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, out_dir / f"unreadable-{name}.parquet")


def classify_dataset(dataset, model: str, *, actors: int = 1, threads_per_actor: int = 1, num_gpus: float = 0,
                     batch_size: int = 8, rows_per_call: int | None = None, topk: int | None = None,
                     throttle_s: float = 0.0):
    """A Ray Dataset of ``{"path", "bytes"}`` rows (``read_binary_files(..., include_paths=True)``) -> result rows
    (``input_path``, ``class_ids``, ``scores``, ``label_names``, ``error``). ``model``: a bundle folder or archive
    that every node can read (an archive URL works too). ``batch_size``: images per model run; ``rows_per_call``:
    rows handed to an actor per call (default ``max(batch_size, ROWS_PER_CALL)``)."""
    from .runtime.zoo import resolve_model

    bundle = str(resolve_model(model))
    device = "gpu" if num_gpus else "cpu"
    ray = _ray()
    return dataset.map_batches(
        BundlePredictor, batch_size=rows_per_call or max(batch_size, ROWS_PER_CALL), compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=threads_per_actor,
        num_gpus=num_gpus or None, fn_constructor_kwargs={"bundle_dir": bundle, "device": device,
                                                          "threads": threads_per_actor, "topk": topk,
                                                          "batch_size": batch_size, "throttle_s": throttle_s})
    # Ray Data restarts a dead actor and retries its batches (max_restarts=-1, max_task_retries=-1 are its defaults
    # for actor pools): tests/ray kills one mid-run and checks that every input still has exactly one row


def done_inputs(out_dir: Path) -> set[str]:
    """Input paths that already have a row in ``out_dir`` (Parquet shards), for --resume. A shard that cannot be
    read (cut by a crash) is removed, so its rows are redone and never counted twice."""
    import pyarrow.parquet as pq

    done: set[str] = set()
    if not out_dir.is_dir():
        return done
    for shard in sorted(out_dir.glob("*.parquet")):
        try:
            done.update(pq.read_table(shard, columns=["input_path"]).column("input_path").to_pylist())
        except Exception:
            shard.unlink()
    return done


def read_results_file(shard: "str | Path") -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(shard).to_pylist()


def read_results(out_dir: "str | Path") -> list[dict]:
    """Every row written under ``out_dir``."""
    rows: list[dict] = []
    for shard in sorted(Path(out_dir).glob("*.parquet")):
        rows.extend(read_results_file(shard))
    return rows


def actor_plan(cluster_cpus: int, node_cpus: Sequence[int], actors: int | None = None,
               threads_per_actor: int | None = None) -> tuple[int, int]:
    """(actors, threads per actor). Default: actors of up to 4 threads, never more than the smallest node has, as
    many as the cluster's CPUs hold. Inside an actor of several threads the Classifier overlaps decoding with the
    model as `predict` does; one-thread actors cannot (2 cores: 1 actor x 2 threads ran at 0.66x of `predict`,
    2 x 1 thread at 0.53x; reports/ray.md). Given actors and no threads: the CPUs shared among them."""
    cpus = max(1, int(cluster_cpus))
    per_node = min([c for c in node_cpus if c > 0] or [cpus])
    if threads_per_actor:
        threads = int(threads_per_actor)
    elif actors:
        threads = max(1, min(per_node, 4, cpus // int(actors)))
    else:
        threads = max(1, min(per_node, 4))
    return (int(actors) if actors else max(1, cpus // threads)), threads


def block_plan(n_files: int, actors: int, rows_per_call: int) -> tuple[int, int]:
    """(blocks to read, rows per actor call) for ``n_files`` files: at least two blocks per actor, at most
    ``rows_per_call`` rows in each, and a call is exactly one block, so no block leaves a short remainder call
    (2000 files in 7 blocks of 286 with calls of 256 made 7 calls of 256 and 7 of 30: the actor's pipeline fills
    and drains on each)."""
    blocks = max(1, 2 * int(actors), -(-int(n_files) // max(1, int(rows_per_call))))
    return blocks, max(1, -(-int(n_files) // blocks))


def run(inputs: Sequence[str], model: str, *, save_path: str | None = None, address: str | None = None,
        actors: int | None = None, batch_size: int = 8, topk: int | None = None, resume: bool = False,
        num_cpus: int | None = None, throttle_s: float = 0.0, threads_per_actor: int | None = None,
        rows_per_call: int | None = None) -> Iterable[dict]:
    """What ``imgcls-onnx predict --engine ray`` does. Returns the result rows in input order when ``save_path`` is
    None (printed as JSON lines by the CLI); else writes Parquet shards there and returns []. An input that names no
    readable file (a missing path, an empty folder, a pattern matching nothing) is an error row, not a failed job."""
    ray = _ray()
    from .runtime.inputs import iter_inputs

    paths, missing = [], []
    for item in iter_inputs(list(inputs)):
        if item.input_path is None:
            continue
        local = "://" not in item.input_path  # s3://, gs://, ... are read by Ray Data's filesystems
        if item.error is not None or (local and not Path(item.input_path).is_file()):
            reason = item.error.reason if item.error is not None else "no such file"
            missing.append(_error_row(item.input_path, reason))
        else:
            paths.append(item.input_path)
    out_dir = Path(save_path) if save_path else None
    if resume and out_dir is not None:
        done = done_inputs(out_dir)
        paths = [p for p in paths if p not in done]
        missing = [r for r in missing if r["input_path"] not in done]
    if out_dir is not None and missing:
        _write_rows(out_dir, missing)
    if not paths:
        return [] if out_dir is not None else missing
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, num_cpus=num_cpus if address is None else None, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        # reading files is light: it reserves no CPU, so that the model actors can have every core (a reading task
        # holding a CPU next to one actor per core would wait forever); and few readers at once, one per 8 actors:
        # unbounded zero-CPU readers each start a worker process, and on a small node those starts starve the
        # actors (measured on 2 cores: 23 -> 140 images/s)
        node_cpus = [int(n.get("Resources", {}).get("CPU", 0)) for n in ray.nodes() if n.get("Alive")]
        n_actors, threads = actor_plan(cpus, node_cpus, actors, threads_per_actor)
        blocks, per_call = block_plan(len(paths), n_actors, rows_per_call or max(batch_size, ROWS_PER_CALL))
        _remember_failed_http_import()
        ds = ray.data.read_binary_files(paths, include_paths=True, num_cpus=0, concurrency=max(1, n_actors // 8),
                                        override_num_blocks=blocks)
        results = classify_dataset(ds, model, actors=n_actors, threads_per_actor=threads, batch_size=batch_size,
                                   rows_per_call=per_call, topk=topk, throttle_s=throttle_s)
        if out_dir is None:
            order = {str(i.input_path): n for n, i in enumerate(iter_inputs(list(inputs)))}
            return sorted(results.take_all() + missing, key=lambda r: order.get(r["input_path"], 0))
        out_dir.mkdir(parents=True, exist_ok=True)
        # float64 scores exactly (JSON writers round them); writing reserves no CPU either, else it waits for the
        # actors (one per core) to finish and the finished rows pile up behind it
        results.write_parquet(str(out_dir), ray_remote_args={"num_cpus": 0})
        return []
    finally:
        if started_here:
            ray.shutdown()


def row_to_json(row: dict[str, Any]) -> dict[str, Any]:
    """A result row as the plain engine prints it (``res`` fields; ``error`` instead of them on failure)."""
    res: dict[str, Any] = {"input_path": row["input_path"], "page_index": None}
    if row.get("error"):
        res["error"] = {"type": "ImageLoadError", "message": row["error"]}
    else:
        res.update(class_ids=list(row["class_ids"]), scores=list(row["scores"]), label_names=list(row["label_names"]))
    return res


__all__ = ["BundlePredictor", "classify_dataset", "done_inputs", "read_results", "read_results_file", "row_to_json", "run", "actor_plan", "block_plan"]
