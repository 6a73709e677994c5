"""Batch classification on a Ray cluster (the ``ray`` extra): a Ray Dataset of image files in, PaddleX results out.

Files are read with Ray Data's own binary reader (local paths, and any filesystem pyarrow supports, so ``s3://``
works where credentials exist), which ``run`` has Ray Data fuse into the model actors; decoding and preprocessing
run inside the actors with this package's exact pipeline (not Ray's image reader, which would change the pixels);
each actor of the pool loads the bundle once. A file that cannot be decoded becomes a row with an ``error`` field,
never a failed job. Results are written as Parquet shards (float64 scores stay exact) by the driver. Actors are
restarted and their batches retried when a worker dies, so every input gives exactly one row.

From your own Ray program::

    import ray
    from imgcls_onnx.ray_batch import classify_dataset

    ds = ray.data.read_binary_files("s3://bucket/images/", include_paths=True, num_cpus=4, num_gpus=1)
    # the read asks for what an actor does and a call takes a whole block: Ray Data reads inside the actors
    results = classify_dataset(ds, "PP-LCNet_x1_0.tar.gz", actors=8, threads_per_actor=4, num_gpus=1,
                               whole_blocks=True)
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


def _schema():
    import pyarrow as pa

    return pa.schema([("input_path", pa.string()), ("class_ids", pa.list_(pa.int64())),
                      ("scores", pa.list_(pa.float64())), ("label_names", pa.list_(pa.string())),
                      ("error", pa.string())])


def _write_shard(out_dir: Path, table, prefix: str = "part") -> None:
    """One Parquet shard, written atomically (a temporary name, then renamed: a crash leaves no half shard) and named
    by its input paths (a block written again after a retry replaces its shard instead of adding rows)."""
    import hashlib
    import os

    import pyarrow.parquet as pq

    table = table.select(list(RESULT_COLUMNS)).cast(_schema())  # an all-null error column comes as type null
    name = hashlib.sha256("\n".join(table.column("input_path").to_pylist()).encode()).hexdigest()[:16]
    tmp = out_dir / f".{prefix}-{name}.parquet.tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, out_dir / f"{prefix}-{name}.parquet")


def _write_rows(out_dir: Path, rows: list[dict]) -> None:
    """Rows made without Ray (inputs that name no file) as one more Parquet shard."""
    import pyarrow as pa

    out_dir.mkdir(parents=True, exist_ok=True)
    _write_shard(out_dir, pa.table({c: [r[c] for r in rows] for c in RESULT_COLUMNS}, schema=_schema()),
                 prefix="unreadable")


def classify_dataset(dataset, model: str, *, actors: int = 1, threads_per_actor: int = 1, num_gpus: float = 0,
                     batch_size: int = 8, rows_per_call: int | None = None, topk: int | None = None,
                     throttle_s: float = 0.0, whole_blocks: bool = False):
    """A Ray Dataset of ``{"path", "bytes"}`` rows (``read_binary_files(..., include_paths=True)``) -> result rows
    (``input_path``, ``class_ids``, ``scores``, ``label_names``, ``error``). ``model``: a bundle folder or archive
    that every node can read (an archive URL works too). ``batch_size``: images per model run; ``rows_per_call``:
    rows handed to an actor per call (default ``max(batch_size, ROWS_PER_CALL)``); ``whole_blocks``: one call per
    block of the dataset instead, which lets Ray Data run the reading inside the actors (see ``run``)."""
    import inspect

    from .runtime.zoo import resolve_model

    bundle = str(resolve_model(model))
    device = "gpu" if num_gpus else "cpu"
    ray = _ray()
    pool: dict[str, Any] = {"size": actors}
    if "max_concurrent_calls_per_actor" in inspect.signature(ray.data.ActorPoolStrategy).parameters:
        # two calls per actor: while one runs the model, the next one's block is fetched (or, read inside the
        # actor, its files read); the model part (__call__) still runs one at a time
        pool["max_concurrent_calls_per_actor"] = 2
    return dataset.map_batches(
        BundlePredictor, batch_size=None if whole_blocks else rows_per_call or max(batch_size, ROWS_PER_CALL),
        compute=ray.data.ActorPoolStrategy(**pool), num_cpus=threads_per_actor,
        num_gpus=num_gpus or None, fn_constructor_kwargs={"bundle_dir": bundle, "device": device,
                                                          "threads": threads_per_actor, "topk": topk,
                                                          "batch_size": batch_size, "throttle_s": throttle_s})
    # Ray Data restarts a dead actor and retries its batches (max_restarts=-1, max_task_retries=-1 are its defaults
    # for actor pools): tests/ray kills one mid-run and checks that every input still has exactly one row


def reads_in_actors(results) -> bool:
    """Whether Ray Data fused the file reading into the model actors (its physical plan has one operator named
    ``ReadBinary->MapBatches(...)``). False where the plan cannot be inspected."""
    try:
        from ray.data._internal.logical.optimizers import get_execution_plan

        plan = get_execution_plan(results._logical_plan)
        dag = (plan[0] if isinstance(plan, tuple) else plan).dag
        return dag.name.startswith("ReadBinary->MapBatches(")
    except Exception:
        return False


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
    blocks = max(1, min(int(n_files), max(2 * int(actors), -(-int(n_files) // max(1, int(rows_per_call))))))
    return blocks, max(1, -(-int(n_files) // blocks))


def plan(paths: Sequence[str], model: str, *, actors: int, threads_per_actor: int, batch_size: int = 8,
         topk: int | None = None, rows_per_call: int | None = None, throttle_s: float = 0.0):
    """The Ray Dataset of result rows that ``run`` executes for ``paths`` (files to read)."""
    ray = _ray()
    blocks, per_call = block_plan(len(paths), actors, rows_per_call or max(batch_size, ROWS_PER_CALL))
    _remember_failed_http_import()
    # the files are read inside the model actors: Ray Data fuses its reader into the actor operator when the
    # reading asks for the actor's resources and a call takes a whole block. No reader processes beside the
    # actors, no bytes through the object store, and with two calls per actor the next block's files are read
    # while the model runs (2 cores: 0.75x -> 0.87x of `predict` per image; reports/ray.md)
    common = {"actors": actors, "threads_per_actor": threads_per_actor, "batch_size": batch_size, "topk": topk,
              "throttle_s": throttle_s}
    ds = ray.data.read_binary_files(paths, include_paths=True, num_cpus=threads_per_actor, override_num_blocks=blocks)
    results = classify_dataset(ds, model, whole_blocks=True, **common)
    if not reads_in_actors(results):
        # a Ray Data that does not fuse them: separate readers reserving no CPU, so that the actors can have
        # every core (a reading task holding a CPU next to one actor per core would wait forever), one per 8
        # actors (unbounded zero-CPU readers each start a worker process and starved the actors on 2 cores)
        ds = ray.data.read_binary_files(paths, include_paths=True, num_cpus=0, concurrency=max(1, actors // 8),
                                        override_num_blocks=blocks)
        results = classify_dataset(ds, model, rows_per_call=per_call, **common)
    return results


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
        node_cpus = [int(n.get("Resources", {}).get("CPU", 0)) for n in ray.nodes() if n.get("Alive")]
        n_actors, threads = actor_plan(cpus, node_cpus, actors, threads_per_actor)
        results = plan(paths, model, actors=n_actors, threads_per_actor=threads, batch_size=batch_size, topk=topk,
                       rows_per_call=rows_per_call, throttle_s=throttle_s)
        if out_dir is None:
            order = {str(i.input_path): n for n, i in enumerate(iter_inputs(list(inputs)))}
            return sorted(results.take_all() + missing, key=lambda r: order.get(r["input_path"], 0))
        out_dir.mkdir(parents=True, exist_ok=True)
        # the driver writes the shards as the blocks come (a few hundred short rows each, float64 scores exact):
        # Ray Data's writer would start one more worker process per job for it
        for table in results.iter_batches(batch_size=None, batch_format="pyarrow"):
            _write_shard(out_dir, table)
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


__all__ = ["BundlePredictor", "classify_dataset", "done_inputs", "read_results", "read_results_file", "row_to_json", "run", "actor_plan", "block_plan", "reads_in_actors", "plan"]
