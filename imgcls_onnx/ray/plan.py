"""Planning a job: the actor pool's size, the blocks, and the Ray Dataset of result rows (files read inside the model
actors where Ray Data fuses them; its physical plan is read through a private Ray Data API)."""
from __future__ import annotations

import inspect
from typing import Any, Sequence

from ..runtime.defaults import BATCH_SIZE
from . import compat
from .gate import actor_class
from .io import is_remote, scheme
from .job import RayJob

#: threads (and reserved CPUs) an actor takes unless told: a node's CPUs, at most this (--ray-threads-per-actor)
MAX_DEFAULT_THREADS_PER_ACTOR = 4


def actor_plan(cluster_cpus: int, node_cpus: Sequence[int], actors: int | None = None,
               threads_per_actor: int | None = None) -> tuple[int, int]:
    """(actors, threads per actor). Default: actors of up to 4 threads, never more than the smallest node has, as
    many as the cluster's CPUs hold. Inside an actor of several threads the Classifier overlaps decoding with the
    model as `predict` does; one-thread actors cannot (they ran slower: reports/ray.md, scripts/bench_ray). Given
    actors and no threads: the CPUs shared among them."""
    cpus = max(1, int(cluster_cpus))
    per_node = min([c for c in node_cpus if c > 0] or [cpus])
    if threads_per_actor:
        threads = int(threads_per_actor)
    elif actors:
        threads = max(1, min(per_node, MAX_DEFAULT_THREADS_PER_ACTOR, cpus // int(actors)))
    else:
        threads = max(1, min(per_node, MAX_DEFAULT_THREADS_PER_ACTOR))
    return (int(actors) if actors else max(1, cpus // threads)), threads


def sized_for_cluster(job: RayJob, ray) -> RayJob:
    """``job`` with its actor pool sized (``actor_plan``) for the cluster Ray is connected to."""
    cpus = int(ray.cluster_resources().get("CPU", 1))
    node_cpus = [int(n.get("Resources", {}).get("CPU", 0)) for n in ray.nodes() if n.get("Alive")]
    actors, threads = actor_plan(cpus, node_cpus, job.actors, job.threads_per_actor)
    return job.but(actors=actors, threads_per_actor=threads)


def block_plan(n_files: int, actors: int, rows_per_call: int) -> tuple[int, int]:
    """(blocks to read, rows per actor call) for ``n_files`` files: at least two blocks per actor, at most
    ``rows_per_call`` rows in each, and a call is exactly one block, so no block leaves a short remainder call (the
    actor's pipeline fills and drains on each)."""
    blocks = max(1, min(int(n_files), max(2 * int(actors), -(-int(n_files) // max(1, int(rows_per_call))))))
    return blocks, max(1, -(-int(n_files) // blocks))


def classify_dataset(dataset, model: str, *, actors: int = 1, threads_per_actor: int = 1, num_gpus: float = 0,
                     batch_size: int = BATCH_SIZE, rows_per_call: int | None = None, topk: int | None = None,
                     whole_blocks: bool = False, path_prefix: str = ""):
    """A Ray Dataset of ``{"path", "bytes"}`` rows (``read_binary_files(..., include_paths=True)``) -> result rows
    (``input_path``, ``class_ids``, ``scores``, ``label_names``, ``error``). ``model``: what ``--model`` takes; the
    bundle folder must be readable on every node. The other options: :class:`RayJob`'s."""
    return classify(dataset, RayJob(model, actors=actors, threads_per_actor=threads_per_actor, num_gpus=num_gpus,
                                    batch_size=batch_size, rows_per_call=rows_per_call, topk=topk,
                                    whole_blocks=whole_blocks, path_prefix=path_prefix))


def classify(dataset, job: RayJob):
    """``classify_dataset`` for a job: its model is located here (once per model: a bundle folder stays as it is)."""
    job = job.located()
    ray = compat.ray_module()
    pool: dict[str, Any] = {"size": job.actors or 1}
    if "max_concurrent_calls_per_actor" in inspect.signature(ray.data.ActorPoolStrategy).parameters:
        # two calls per actor: while one runs the model, the next one's block is fetched (or, read inside the
        # actor, its files read); the model part (__call__) still runs one at a time
        pool["max_concurrent_calls_per_actor"] = 2
    actor, kwargs = actor_class(job)
    return dataset.map_batches(actor, batch_size=job.map_batch_size, compute=ray.data.ActorPoolStrategy(**pool),
                               num_cpus=job.threads, num_gpus=job.num_gpus or None, fn_constructor_kwargs=kwargs)
    # Ray Data restarts a dead actor and retries its batches (max_restarts=-1, max_task_retries=-1 are its defaults
    # for actor pools): tests/ray kills one mid-run and checks that every input still has exactly one row


def reads_in_actors(results) -> bool:
    """Whether Ray Data fused the file reading into the model actors (its physical plan has one operator named
    ``ReadBinary->MapBatches(...)``). False where the plan cannot be inspected."""
    try:
        # a private Ray Data API (optional dependency)
        from ray.data._internal.logical.optimizers import get_execution_plan  # noqa: PLC0415

        plan = get_execution_plan(results._logical_plan)
        dag = (plan[0] if isinstance(plan, tuple) else plan).dag
        return dag.name.startswith("ReadBinary->MapBatches(")
    except Exception:
        return False


def results_dataset(paths: Sequence[str], job: RayJob):
    """The Ray Dataset of result rows that the driver executes for ``paths`` (files to read, all local or all URIs
    of one scheme; rows name them as given), with ``job``'s actor pool (sized: ``sized_for_cluster``)."""
    ray = compat.ray_module()
    job = job.located().but(path_prefix=scheme(paths[0]) if paths and is_remote(paths[0]) else "")
    blocks, per_call = block_plan(len(paths), job.actors or 1, job.call_rows)
    compat.remember_failed_http_import()
    # the files are read inside the model actors: Ray Data fuses its reader into the actor operator when the
    # reading asks for the actor's resources and a call takes a whole block. No reader processes beside the
    # actors, no bytes through the object store, and with two calls per actor the next block's files are read
    # while the model runs (faster per image than separate readers: reports/ray.md, scripts/bench_ray)
    ds = ray.data.read_binary_files(list(paths), include_paths=True, num_cpus=job.threads, override_num_blocks=blocks)
    results = classify(ds, job.but(whole_blocks=True))
    if not reads_in_actors(results):
        # a Ray Data that does not fuse them: separate readers reserving no CPU, so that the actors can have
        # every core (a reading task holding a CPU next to one actor per core would wait forever), one per 8
        # actors (unbounded zero-CPU readers each start a worker process and starved the actors on 2 cores)
        ds = ray.data.read_binary_files(list(paths), include_paths=True, num_cpus=0,
                                        concurrency=max(1, (job.actors or 1) // 8), override_num_blocks=blocks)
        results = classify(ds, job.but(whole_blocks=False, rows_per_call=per_call))
    return results
