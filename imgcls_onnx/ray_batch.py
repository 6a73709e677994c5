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
    from imgcls_onnx.ray_batch import classify_dataset

    ds = ray.data.read_binary_files("s3://bucket/images/", include_paths=True, num_cpus=4, num_gpus=1)
    # the read asks for what an actor does and a call takes a whole block: Ray Data reads inside the actors
    results = classify_dataset(ds, "PP-LCNet_x1_0.tar.gz", actors=8, threads_per_actor=4, num_gpus=1,
                               whole_blocks=True, path_prefix="s3://")  # Ray Data's paths lack the scheme
    results.write_parquet("s3://bucket/results/")

Nothing here is imported by ``import imgcls_onnx`` or by the runtime.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Sequence

from .errors import StorageError
from .hub import obtain_model
from .runtime.defaults import BATCH_SIZE
from .runtime.errors import ImageLoadError
from .runtime.fsutil import atomic_open
from .runtime.net import is_url
from .runtime.results import ROW_COLUMNS, Prediction

RESULT_COLUMNS = ROW_COLUMNS
ROWS_PER_CALL = 256  # rows handed to an actor per call by default: Ray Data's per-call cost is paid per call


def _ray():
    try:
        import ray
    except ImportError as e:
        from .runtime.errors import MissingExtraError

        raise MissingExtraError("ray", "ray", "--engine ray") from e
    return ray


#: test hook: a folder made by :func:`make_gate`; the driver passes it to the actors (see :class:`Gate`)
GATE_ENV = "IMGCLS_ONNX_RAY_TEST_GATE"


def make_gate(folder: "str | os.PathLike[str]", hold: str) -> str:
    """Make a :class:`Gate` folder that holds every actor call whose rows include the input ``hold`` until
    :func:`open_gate`. Returns its path (set it as ``$IMGCLS_ONNX_RAY_TEST_GATE`` for the driver)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hold").write_text(str(hold), encoding="utf-8")
    os.mkfifo(folder / "open")
    return str(folder)


def open_gate(folder: "str | os.PathLike[str]") -> int:
    """Let the held calls (and any retried later) through: opens the gate's FIFO for writing and keeps it open
    (returns the descriptor; the process's end closes it)."""
    return os.open(Path(folder) / "open", os.O_RDWR)  # O_RDWR: does not wait for a reader


class Gate:
    """A test hook that makes "the job is under way and cannot finish yet" an event instead of a race with the
    machine's speed: a call whose rows include the held input blocks opening the folder's FIFO for reading, which
    returns only once the test has opened it for writing (:func:`open_gate`); every other call runs, so the job
    writes its other shards and cannot finish. (Holding calls by count would not do: Ray Data may bundle several
    calls into one task, whose output appears only when all of them return.) Each held call leaves a ``held-N``
    file, so a test can wait for it. Nothing waits on a clock."""

    def __init__(self, folder: str):
        self.folder = Path(folder)
        self.hold = (self.folder / "hold").read_text(encoding="utf-8")

    def wait(self, paths: list[str]) -> None:
        if self.hold in paths:
            n = 0
            while True:
                try:
                    os.close(os.open(self.folder / f"held-{n}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                    break
                except FileExistsError:
                    n += 1
            with open(self.folder / "open", "rb"):
                pass


class BundlePredictor:
    """The actor of the pool: one Classifier per actor, whole batches of (path, bytes) rows in, result rows out."""

    def __init__(self, bundle_dir: str, device: str = "cpu", threads: int = 1, topk: int | None = None,
                 batch_size: int = BATCH_SIZE, gate: str | None = None, path_prefix: str = ""):
        """``gate``: a test hook's folder (:class:`Gate`: hold the call with one input until the test lets it on).
        ``path_prefix``: put before each row's path (Ray Data gives ``bucket/key`` for ``s3://bucket/key``)."""
        from .runtime.classifier import Classifier

        self.gate = Gate(gate) if gate else None
        self.path_prefix = path_prefix
        # threads > 1: the Classifier's own pipeline (a decode pool beside parallel model batches), as in `predict`
        self.clf = Classifier.from_dir(bundle_dir, device=device, threads=threads,
                                       parallel_batches=None if threads > 1 else 1, batch_size=batch_size, topk=topk)
        self.batch_size = batch_size

    def __call__(self, batch: dict) -> dict:
        paths = [self.path_prefix + str(p) for p in batch["path"]]
        if self.gate is not None:
            self.gate.wait(paths)
        data = [bytes(b) for b in batch["bytes"]]
        out: dict[str, list] = {c: [] for c in RESULT_COLUMNS}
        for path, res in zip(paths, self.clf.predict(data, batch_size=self.batch_size)):
            row = (res.to_row() if res.ok else _error_row(path, getattr(res.error, "reason", str(res.error))))
            row["input_path"] = path
            for column in RESULT_COLUMNS:
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
    return Prediction.failed(path, ImageLoadError(path, reason)).to_row()


def _schema():
    import pyarrow as pa

    return pa.schema([("input_path", pa.string()), ("class_ids", pa.list_(pa.int64())),
                      ("scores", pa.list_(pa.float64())), ("label_names", pa.list_(pa.string())),
                      ("error", pa.string())])


def _is_remote(path: str) -> bool:
    """A URI read and written through pyarrow's filesystems (``s3://``, ``gs://``, ...); http(s) URLs are not."""
    return "://" in path and not is_url(path)


def _scheme(uri: str) -> str:
    return uri.split("://", 1)[0] + "://"


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    line = lines[0] if lines else type(e).__name__
    if "ACCESS_DENIED" in line or "AccessDenied" in line:
        line += " (check the credentials, e.g. AWS_ACCESS_KEY_ID or AWS_PROFILE, and what they may access)"
    return line


def _object_store(fs) -> bool:
    return type(fs).__name__ in ("S3FileSystem", "GcsFileSystem", "AzureFileSystem")


def _filesystem(uri: str, cache: dict):
    """(pyarrow filesystem, its path) for ``uri``; one filesystem per scheme and bucket, made once."""
    import pyarrow.fs as pafs

    scheme, rest = uri.split("://", 1)
    key = (scheme.lower(), rest.split("/", 1)[0])
    if key not in cache:
        try:
            cache[key] = pafs.FileSystem.from_uri(uri)[0]
        except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError
            raise StorageError(f"cannot open {uri}: {_first_line(e)}") from None
    return cache[key], rest.rstrip("/")


def _check_bucket(fs, path: str, uri: str, doing: str) -> None:
    """A clear error for a bucket that does not exist (pyarrow's own says to enable bucket creation, or nothing)."""
    import pyarrow.fs as pafs

    if _object_store(fs):
        bucket = path.split("/", 1)[0]
        if fs.get_file_info(bucket).type == pafs.FileType.NotFound:
            raise StorageError(f"cannot {doing} {uri}: the bucket {bucket!r} does not exist")


class _Output:
    """Where the Parquet shards go: a local folder (each shard under a temporary name, then renamed: a crash leaves
    no half shard) or a folder of a pyarrow filesystem such as ``s3://bucket/results/`` (an object appears whole
    when its upload completes: each shard is made in memory and sent in one piece)."""

    def __init__(self, location: "str | os.PathLike[str]"):
        import pyarrow.fs as pafs

        self.uri = os.fspath(location)
        self.local = not _is_remote(self.uri)
        if self.local:
            self.fs, self.path = pafs.LocalFileSystem(), os.path.abspath(self.uri)
        else:
            self.fs, self.path = _filesystem(self.uri, {})

    def prepare(self) -> None:
        """Make the folder (object stores need none) or say in one line why results cannot go there."""
        import pyarrow.fs as pafs

        try:
            if self.local:
                Path(self.path).mkdir(parents=True, exist_ok=True)
                return
            _check_bucket(self.fs, self.path, self.uri, "write results to")
            if self.fs.get_file_info(self.path).type == pafs.FileType.File:
                raise StorageError(f"cannot write results to {self.uri}: it is a file, not a folder")
            if not _object_store(self.fs):
                self.fs.create_dir(self.path, recursive=True)
        except OSError as e:
            raise StorageError(f"cannot write results to {self.uri}: {_first_line(e)}") from None

    def shards(self) -> list[str]:
        import pyarrow.fs as pafs

        try:
            infos = self.fs.get_file_info(pafs.FileSelector(self.path, allow_not_found=True))
        except OSError as e:
            raise StorageError(f"cannot list {self.uri}: {_first_line(e)}") from None
        return sorted(i.path for i in infos if i.type == pafs.FileType.File and i.base_name.endswith(".parquet")
                      and not i.base_name.startswith("."))

    def read(self, shard: str, columns: Sequence[str] | None = None):
        import pyarrow.parquet as pq

        return pq.read_table(shard, columns=list(columns) if columns else None, filesystem=self.fs)

    def write(self, table, prefix: str = "part") -> None:
        """One shard, named by its input paths (a block written again after a retry replaces its shard instead of
        adding rows)."""
        import hashlib

        import pyarrow as pa
        import pyarrow.parquet as pq

        table = table.select(list(RESULT_COLUMNS)).cast(_schema())  # an all-null error column comes as type null
        name = hashlib.sha256("\n".join(table.column("input_path").to_pylist()).encode()).hexdigest()[:16]
        if self.local:
            with atomic_open(os.path.join(self.path, f"{prefix}-{name}.parquet")) as f:
                pq.write_table(table, f)
            return
        buf = pa.BufferOutputStream()
        pq.write_table(table, buf)
        try:
            stream = self.fs.open_output_stream(f"{self.path}/{prefix}-{name}.parquet")
            stream.write(buf.getvalue())
            stream.close()
        except OSError as e:
            raise StorageError(f"cannot write results to {self.uri}: {_first_line(e)}") from None

    def write_rows(self, rows: list[dict]) -> None:
        """Rows made without Ray (inputs that name no file) as one more shard."""
        import pyarrow as pa

        self.write(pa.table({c: [r[c] for r in rows] for c in RESULT_COLUMNS}, schema=_schema()), prefix="unreadable")


def model_bundle(model: str) -> str:
    """The bundle folder for ``model``, got the way every entry point gets it (``hub.obtain_model``: a folder, an
    archive file or URL, a cached bundle, or a zoo name that is fetched and converted once when the converter is
    installed). A bundle folder comes back as it is, so passing the result on locates nothing again."""
    return str(obtain_model(model))


def classify_dataset(dataset, model: str, *, actors: int = 1, threads_per_actor: int = 1, num_gpus: float = 0,
                     batch_size: int = BATCH_SIZE, rows_per_call: int | None = None, topk: int | None = None,
                     whole_blocks: bool = False, path_prefix: str = ""):
    """A Ray Dataset of ``{"path", "bytes"}`` rows (``read_binary_files(..., include_paths=True)``) -> result rows
    (``input_path``, ``class_ids``, ``scores``, ``label_names``, ``error``). ``model``: what ``--model`` takes
    (``model_bundle``); the bundle folder must be readable on every node. ``batch_size``: images per model run; ``rows_per_call``:
    rows handed to an actor per call (default ``max(batch_size, ROWS_PER_CALL)``); ``whole_blocks``: one call per
    block of the dataset instead, which lets Ray Data run the reading inside the actors (see ``run``);
    ``path_prefix``: put before each row's ``input_path`` (``"s3://"``: Ray Data gives paths without the scheme)."""
    import inspect

    bundle = model_bundle(model)
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
                                                          "batch_size": batch_size,
                                                          "gate": os.environ.get(GATE_ENV) or None,
                                                          "path_prefix": path_prefix})
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


def done_inputs(out_dir: "str | Path") -> set[str]:
    """Input paths that already have a row in ``out_dir`` (Parquet shards; a folder or a URI such as
    ``s3://bucket/results/``), for --resume. A shard that cannot be read (cut by a crash) is removed, so its rows
    are redone and never counted twice; so are a local run's leftover temporary shards."""
    output = _Output(out_dir)
    done: set[str] = set()
    if output.local:
        if not os.path.isdir(output.path):
            return done
        for stale in Path(output.path).glob(".*.parquet*.tmp"):  # atomic_open's .NAME.XXXX.tmp; older runs' .NAME.tmp
            stale.unlink(missing_ok=True)
    for shard in output.shards():
        try:
            done.update(output.read(shard, ["input_path"]).column("input_path").to_pylist())
        except Exception as e:  # noqa: BLE001 - a cut shard raises pyarrow's ArrowInvalid, among others
            if not output.local and isinstance(e, OSError):  # the store refused or failed: not a cut shard
                raise StorageError(f"cannot read {shard}: {_first_line(e)}") from None
            output.fs.delete_file(shard)
    return done


def read_results_file(shard: "str | Path") -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(shard).to_pylist()


def read_results(out_dir: "str | Path", columns: Sequence[str] | None = None) -> list[dict]:
    """Every row written under ``out_dir`` (a folder or a URI such as ``s3://bucket/results/``); ``columns``: only
    these."""
    output = _Output(out_dir)
    rows: list[dict] = []
    for shard in output.shards():
        try:
            rows.extend(output.read(shard, columns).to_pylist())
        except OSError as e:
            raise StorageError(f"cannot read {shard}: {_first_line(e)}") from None
    return rows


def actor_plan(cluster_cpus: int, node_cpus: Sequence[int], actors: int | None = None,
               threads_per_actor: int | None = None) -> tuple[int, int]:
    """(actors, threads per actor). Default: actors of up to 4 threads, never more than the smallest node has, as
    many as the cluster's CPUs hold. Inside an actor of several threads the Classifier overlaps decoding with the
    model as `predict` does; one-thread actors cannot (they ran slower on 2 cores: reports/ray.md, scripts/bench_ray). Given actors and no
    threads: the CPUs shared among them."""
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


def plan(paths: Sequence[str], model: str, *, actors: int, threads_per_actor: int, batch_size: int = BATCH_SIZE,
         topk: int | None = None, rows_per_call: int | None = None):
    """The Ray Dataset of result rows that ``run`` executes for ``paths`` (files to read, all local or all URIs
    of one scheme; rows name them as given). ``model`` is located once, here."""
    ray = _ray()
    model = model_bundle(model)
    blocks, per_call = block_plan(len(paths), actors, rows_per_call or max(batch_size, ROWS_PER_CALL))
    _remember_failed_http_import()
    # the files are read inside the model actors: Ray Data fuses its reader into the actor operator when the
    # reading asks for the actor's resources and a call takes a whole block. No reader processes beside the
    # actors, no bytes through the object store, and with two calls per actor the next block's files are read
    # while the model runs (faster per image than separate readers: reports/ray.md, scripts/bench_ray)
    common = {"actors": actors, "threads_per_actor": threads_per_actor, "batch_size": batch_size, "topk": topk,
              "path_prefix": _scheme(paths[0]) if paths and _is_remote(paths[0]) else ""}
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


def _resolve_inputs(inputs: Sequence[str]) -> tuple[list[str], list[str], list[dict]]:
    """(every input path in input order, the files to read, error rows for inputs that name no readable file).
    Local folders and patterns are expanded as ``predict`` does; a URI (``s3://bucket/prefix/``) is looked up on
    its filesystem: an object is read as given, a prefix is listed (recursive, sorted, image extensions only, as a
    local folder). A bucket that does not exist, or a store that refuses, is a StorageError (nothing is run); a
    key or prefix that holds nothing is an error row, as a missing local file is."""
    import pyarrow.fs as pafs

    from .runtime.inputs import is_image_path, iter_inputs

    order: list[str] = []
    paths: list[str] = []
    missing: list[dict] = []
    stores: dict = {}
    for item in iter_inputs(list(inputs)):
        path = item.input_path
        if path is None:
            continue
        if item.error is not None:
            order.append(path)
            missing.append(_error_row(path, item.error.reason))
        elif _is_remote(path):
            fs, fs_path = _filesystem(path, stores)
            scheme = _scheme(path)
            try:
                info = fs.get_file_info(fs_path)
                if info.type == pafs.FileType.NotFound:
                    _check_bucket(fs, fs_path, path, "read")  # a clearer error than a missing key, where it is so
                if info.type == pafs.FileType.Directory:
                    listed = fs.get_file_info(pafs.FileSelector(fs_path, recursive=True))
                    files = sorted(scheme + i.path for i in listed
                                   if i.type == pafs.FileType.File and is_image_path(i.path))
                else:
                    files = [scheme + fs_path] if info.type == pafs.FileType.File else []
            except OSError as e:
                raise StorageError(f"cannot read {path}: {_first_line(e)}") from None
            if files:
                order.extend(files)
                paths.extend(files)
            else:
                order.append(path)
                missing.append(_error_row(path, "the prefix holds no image files" if info.type ==
                                          pafs.FileType.Directory else "no such object or prefix"))
        elif "://" not in path and not Path(path).is_file():
            order.append(path)
            missing.append(_error_row(path, "no such file"))
        else:  # a local file, or an http(s) URL (read by Ray Data's own filesystem for it)
            order.append(path)
            paths.append(path)
    kinds = sorted({_scheme(p) if "://" in p else "local files" for p in paths})
    if len(kinds) > 1:
        raise StorageError(f"the inputs are on {len(kinds)} filesystems ({', '.join(kinds)}): one Ray job reads "
                           "from one; run a job for each")
    return order, paths, missing


def run(inputs: Sequence[str], model: str, *, save_path: str | None = None, address: str | None = None,
        actors: int | None = None, batch_size: int = BATCH_SIZE, topk: int | None = None, resume: bool = False,
        num_cpus: int | None = None, threads_per_actor: int | None = None,
        rows_per_call: int | None = None) -> Iterable[dict]:
    """What ``imgcls-onnx predict --engine ray`` does. Returns the result rows in input order when ``save_path`` is
    None (printed as JSON lines by the CLI); else writes Parquet shards there (a folder, or a URI of a pyarrow
    filesystem such as ``s3://bucket/results/``) and returns []. An input that names no readable file (a missing
    path, an empty folder, a pattern matching nothing, an empty prefix) is an error row, not a failed job. Inputs
    and the destination are checked before Ray starts: a missing bucket or a refusing store is one StorageError."""
    ray = _ray()
    model = model_bundle(model)  # located (fetched, converted) once, before anything else, as `predict` does
    order, paths, missing = _resolve_inputs(inputs)
    output = _Output(save_path) if save_path else None
    if output is not None:
        output.prepare()
    if resume and output is not None:
        done = done_inputs(save_path)
        paths = [p for p in paths if p not in done]
        missing = [r for r in missing if r["input_path"] not in done]
    if output is not None and missing:
        output.write_rows(missing)
    if not paths:
        return [] if output is not None else missing
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, num_cpus=num_cpus if address is None else None, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        node_cpus = [int(n.get("Resources", {}).get("CPU", 0)) for n in ray.nodes() if n.get("Alive")]
        n_actors, threads = actor_plan(cpus, node_cpus, actors, threads_per_actor)
        results = plan(paths, model, actors=n_actors, threads_per_actor=threads, batch_size=batch_size, topk=topk,
                       rows_per_call=rows_per_call)
        if output is None:
            rank = {p: n for n, p in enumerate(order)}
            return sorted(results.take_all() + missing, key=lambda r: rank.get(r["input_path"], 0))
        # the driver writes the shards as the blocks come (a few hundred short rows each, float64 scores exact):
        # Ray Data's writer would start one more worker process per job for it
        for table in results.iter_batches(batch_size=None, batch_format="pyarrow"):
            output.write(table)
        return []
    finally:
        if started_here:
            ray.shutdown()


def row_to_json(row: dict[str, Any]) -> dict[str, Any]:
    """A result row as the plain engine prints it (``res`` fields; ``error`` instead of them on failure)."""
    return Prediction.from_row(row).to_dict()


__all__ = ["BundlePredictor", "StorageError", "classify_dataset", "done_inputs", "read_results", "read_results_file", "row_to_json", "run", "actor_plan", "block_plan", "reads_in_actors", "plan"]
