"""The driver of a job (what ``imgcls-onnx predict --engine ray`` runs): inputs checked, the model located, Ray
started or joined, the plan executed, the rows returned or written as Parquet shards."""
from __future__ import annotations

from typing import Iterable, Sequence

from ..runtime.defaults import BATCH_SIZE
from . import compat
from .io import Output, done_inputs
from .job import RayJob
from .listing import Inputs, resolve_inputs
from .plan import results_dataset, sized_for_cluster


def run(inputs: Sequence[str], model: str, *, save_path: str | None = None, address: str | None = None,
        actors: int | None = None, batch_size: int = BATCH_SIZE, topk: int | None = None, resume: bool = False,
        num_cpus: int | None = None, threads_per_actor: int | None = None,
        rows_per_call: int | None = None) -> Iterable[dict]:
    """Classify ``inputs`` on Ray. Returns the result rows in input order when ``save_path`` is None (printed as
    JSON lines by the CLI); else writes Parquet shards there (a folder, or a URI of a pyarrow filesystem such as
    ``s3://bucket/results/``) and returns []. An input that names no readable file (a missing path, an empty
    folder, a pattern matching nothing, an empty prefix) is an error row, not a failed job. Inputs and the
    destination are checked before Ray starts: a missing bucket or a refusing store is one StorageError. The
    options: :class:`RayJob`'s."""
    return run_job(inputs, RayJob(model, save_path=save_path, address=address, actors=actors, batch_size=batch_size,
                                  topk=topk, resume=resume, num_cpus=num_cpus, threads_per_actor=threads_per_actor,
                                  rows_per_call=rows_per_call))


def run_job(inputs: Sequence[str], job: RayJob) -> Iterable[dict]:
    """``run`` for a job."""
    ray = compat.ray_module()
    job = job.located()  # located (fetched, converted) once, before anything else, as `predict` does
    todo = resolve_inputs(inputs)
    output = Output(job.save_path) if job.save_path else None
    if output is not None:
        output.prepare()
        todo = _unfinished(todo, job)
        if todo.missing:
            output.write_rows(todo.missing)
    if not todo.files:
        return [] if output is not None else todo.missing
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=job.address, num_cpus=job.num_cpus if job.address is None else None,
                 include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        results = results_dataset(todo.files, sized_for_cluster(job, ray))
        if output is None:
            rank = {p: n for n, p in enumerate(todo.order)}
            return sorted(results.take_all() + todo.missing, key=lambda r: rank.get(r["input_path"], 0))
        # the driver writes the shards as the blocks come (a few hundred short rows each, float64 scores exact):
        # Ray Data's writer would start one more worker process per job for it
        for table in results.iter_batches(batch_size=None, batch_format="pyarrow"):
            output.write(table)
        return []
    finally:
        if started_here:
            ray.shutdown()


def _unfinished(todo: Inputs, job: RayJob) -> Inputs:
    """With ``job.resume``: ``todo`` less the inputs that already have a row in ``job.save_path``."""
    if not job.resume:
        return todo
    done = done_inputs(job.save_path)
    return todo._replace(files=[p for p in todo.files if p not in done],
                         missing=[r for r in todo.missing if r["input_path"] not in done])
