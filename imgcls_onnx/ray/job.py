"""The options of one Ray job, built once from ``run``'s or ``classify_dataset``'s keyword arguments and passed whole
down the chain: driver -> plan -> the actor pool -> each actor."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..hub import obtain_model
from ..runtime.defaults import BATCH_SIZE

ROWS_PER_CALL = 256  # rows handed to an actor per call by default: Ray Data's per-call cost is paid per call


@dataclass(frozen=True)
class RayJob:
    """What one job runs, and how.

    ``model``: what ``--model`` takes (``located`` turns it into the bundle folder, which every node must be able to
    read). ``actors``, ``threads_per_actor``: the actor pool (None: sized from the cluster by ``plan.actor_plan``).
    ``num_gpus``: per actor. ``batch_size``: images per model run. ``rows_per_call``: rows handed to an actor per
    call (None: ``max(batch_size, ROWS_PER_CALL)``); ``whole_blocks``: one call per block of the dataset instead,
    which lets Ray Data run the reading inside the actors. ``topk``: classes per result. ``path_prefix``: put before
    each row's ``input_path`` (``"s3://"``: Ray Data gives paths without the scheme). The driver's own:
    ``save_path`` (Parquet shards there; None: rows returned), ``address`` (a cluster to join), ``resume``,
    ``num_cpus`` (of a local cluster started for the job)."""

    model: str
    actors: int | None = None
    threads_per_actor: int | None = None
    num_gpus: float = 0
    batch_size: int = BATCH_SIZE
    rows_per_call: int | None = None
    whole_blocks: bool = False
    topk: int | None = None
    path_prefix: str = ""
    save_path: str | None = None
    address: str | None = None
    resume: bool = False
    num_cpus: int | None = None

    @property
    def device(self) -> str:
        return "gpu" if self.num_gpus else "cpu"

    @property
    def threads(self) -> int:
        """Threads of each actor (its CPUs)."""
        return int(self.threads_per_actor or 1)

    @property
    def call_rows(self) -> int:
        """Rows per actor call (``rows_per_call``, or its default)."""
        return self.rows_per_call or max(self.batch_size, ROWS_PER_CALL)

    @property
    def map_batch_size(self) -> int | None:
        """``map_batches``'s ``batch_size``: rows per call, or None for a whole block."""
        return None if self.whole_blocks else self.call_rows

    def located(self) -> "RayJob":
        """This job with ``model`` as its bundle folder, got the way every entry point gets it
        (``hub.obtain_model``: a folder, an archive file or URL, a cached bundle, or a zoo name that is fetched and
        converted once when the converter is installed). A bundle folder comes back as it is, so locating a
        located job locates nothing again."""
        return dataclasses.replace(self, model=str(obtain_model(self.model)))

    def but(self, **changes) -> "RayJob":
        """A copy with ``changes`` (the job is frozen)."""
        return dataclasses.replace(self, **changes)
