"""The actor of the pool: one Classifier per actor, whole batches of (path, bytes) rows in, result rows out."""
from __future__ import annotations

from ..runtime.results import ROW_COLUMNS, error_row
from .job import RayJob


class BundlePredictor:
    """Loads ``job.model`` (a bundle folder: ``RayJob.located``) once; each call classifies a batch of
    ``{"path", "bytes"}`` rows with this package's exact pipeline and gives one result row per input (an input that
    cannot be decoded is a row with ``error``, never a failed call)."""

    def __init__(self, job: RayJob):
        # start-up time: the driver imports this module too, and never runs the model
        from ..runtime.classifier import Classifier  # noqa: PLC0415

        self.job = job
        # threads > 1: the Classifier's own pipeline (a decode pool beside parallel model batches), as in `predict`
        self.clf = Classifier.from_dir(job.model, device=job.device, threads=job.threads,
                                       parallel_batches=None if job.threads > 1 else 1, batch_size=job.batch_size,
                                       topk=job.topk)

    def paths(self, batch: dict) -> list[str]:
        """The rows' input paths (Ray Data gives ``bucket/key`` for ``s3://bucket/key``: ``job.path_prefix``)."""
        return [self.job.path_prefix + str(p) for p in batch["path"]]

    def __call__(self, batch: dict) -> dict:
        paths = self.paths(batch)
        data = [bytes(b) for b in batch["bytes"]]
        out: dict[str, list] = {c: [] for c in ROW_COLUMNS}
        for path, res in zip(paths, self.clf.predict(data, batch_size=self.job.batch_size)):
            # the Classifier saw bytes, not the path: a failure's row names the path
            row = res.to_row() if res.ok else error_row(path, getattr(res.error, "reason", str(res.error)))
            row["input_path"] = path
            for column in ROW_COLUMNS:
                out[column].append(row[column])
        return out
