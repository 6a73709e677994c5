"""Results as Parquet shards, in a local folder or under a URI of a pyarrow filesystem (``s3://bucket/results/``):
writing them, reading them back, and what a resumed job skips; and the storage helpers the input listing shares."""
from __future__ import annotations

import hashlib
import os
import typing
from pathlib import Path
from typing import Any, Sequence

from ..errors import StorageError
from ..runtime.fsutil import atomic_open
from ..runtime.net import is_url
from ..runtime.results import ROW_COLUMNS, ROW_TYPES, Prediction


def is_remote(path: str) -> bool:
    """A URI read and written through pyarrow's filesystems (``s3://``, ``gs://``, ...); http(s) URLs are not."""
    return "://" in path and not is_url(path)


def scheme(uri: str) -> str:
    return uri.split("://", 1)[0] + "://"


def first_line(e: BaseException) -> str:
    """A storage error's message in one line, with a hint where access was denied."""
    lines = str(e).strip().splitlines()
    line = lines[0] if lines else type(e).__name__
    if "ACCESS_DENIED" in line or "AccessDenied" in line:
        line += " (check the credentials, e.g. AWS_ACCESS_KEY_ID or AWS_PROFILE, and what they may access)"
    return line


def _object_store(fs) -> bool:
    return type(fs).__name__ in ("S3FileSystem", "GcsFileSystem", "AzureFileSystem")


def filesystem(uri: str, cache: dict):
    """(pyarrow filesystem, its path) for ``uri``; one filesystem per scheme and bucket, made once."""
    import pyarrow.fs as pafs  # noqa: PLC0415 - optional dependency (the ray extra)

    name, rest = uri.split("://", 1)
    key = (name.lower(), rest.split("/", 1)[0])
    if key not in cache:
        try:
            cache[key] = pafs.FileSystem.from_uri(uri)[0]
        except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError
            raise StorageError(f"cannot open {uri}: {first_line(e)}") from None
    return cache[key], rest.rstrip("/")


def check_bucket(fs, path: str, uri: str, doing: str) -> None:
    """A clear error for a bucket that does not exist (pyarrow's own says to enable bucket creation, or nothing)."""
    import pyarrow.fs as pafs  # noqa: PLC0415 - optional dependency (the ray extra)

    if _object_store(fs):
        bucket = path.split("/", 1)[0]
        if fs.get_file_info(bucket).type == pafs.FileType.NotFound:
            raise StorageError(f"cannot {doing} {uri}: the bucket {bucket!r} does not exist")


def row_schema():
    """The Parquet schema of a result row: ``runtime.results.ROW_TYPES`` in pyarrow's types (float64 scores stay
    exact)."""
    import pyarrow as pa  # noqa: PLC0415 - optional dependency (the ray extra)

    arrow = {str: pa.string(), int: pa.int64(), float: pa.float64()}

    def column(kind):
        return pa.list_(arrow[typing.get_args(kind)[0]]) if typing.get_origin(kind) is list else arrow[kind]

    return pa.schema([(name, column(kind)) for name, kind in ROW_TYPES.items()])


class Output:
    """Where the Parquet shards go: a local folder (each shard under a temporary name, then renamed: a crash leaves
    no half shard) or a folder of a pyarrow filesystem such as ``s3://bucket/results/`` (an object appears whole
    when its upload completes: each shard is made in memory and sent in one piece)."""

    def __init__(self, location: "str | os.PathLike[str]"):
        import pyarrow.fs as pafs  # noqa: PLC0415 - optional dependency (the ray extra)

        self.uri = os.fspath(location)
        self.local = not is_remote(self.uri)
        if self.local:
            self.fs, self.path = pafs.LocalFileSystem(), os.path.abspath(self.uri)
        else:
            self.fs, self.path = filesystem(self.uri, {})

    def prepare(self) -> None:
        """Make the folder (object stores need none) or say in one line why results cannot go there."""
        import pyarrow.fs as pafs  # noqa: PLC0415 - optional dependency (the ray extra)

        try:
            if self.local:
                Path(self.path).mkdir(parents=True, exist_ok=True)
                return
            check_bucket(self.fs, self.path, self.uri, "write results to")
            if self.fs.get_file_info(self.path).type == pafs.FileType.File:
                raise StorageError(f"cannot write results to {self.uri}: it is a file, not a folder")
            if not _object_store(self.fs):
                self.fs.create_dir(self.path, recursive=True)
        except OSError as e:
            raise StorageError(f"cannot write results to {self.uri}: {first_line(e)}") from None

    def shards(self) -> list[str]:
        import pyarrow.fs as pafs  # noqa: PLC0415 - optional dependency (the ray extra)

        try:
            infos = self.fs.get_file_info(pafs.FileSelector(self.path, allow_not_found=True))
        except OSError as e:
            raise StorageError(f"cannot list {self.uri}: {first_line(e)}") from None
        return sorted(i.path for i in infos if i.type == pafs.FileType.File and i.base_name.endswith(".parquet")
                      and not i.base_name.startswith("."))

    def read(self, shard: str, columns: Sequence[str] | None = None):
        import pyarrow.parquet as pq  # noqa: PLC0415 - optional dependency (the ray extra)

        return pq.read_table(shard, columns=list(columns) if columns else None, filesystem=self.fs)

    def write(self, table, prefix: str = "part") -> None:
        """One shard, named by its input paths (a block written again after a retry replaces its shard instead of
        adding rows)."""
        import pyarrow as pa  # noqa: PLC0415 - optional dependency (the ray extra)
        import pyarrow.parquet as pq  # noqa: PLC0415 - optional dependency (the ray extra)

        table = table.select(list(ROW_COLUMNS)).cast(row_schema())  # an all-null error column comes as type null
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
            raise StorageError(f"cannot write results to {self.uri}: {first_line(e)}") from None

    def write_rows(self, rows: list[dict]) -> None:
        """Rows made without Ray (inputs that name no file) as one more shard."""
        import pyarrow as pa  # noqa: PLC0415 - optional dependency (the ray extra)

        self.write(pa.table({c: [r[c] for r in rows] for c in ROW_COLUMNS}, schema=row_schema()), prefix="unreadable")


def done_inputs(out_dir: "str | Path") -> set[str]:
    """Input paths that already have a row in ``out_dir`` (Parquet shards; a folder or a URI such as
    ``s3://bucket/results/``), for --resume. A shard that cannot be read (cut by a crash) is removed, so its rows
    are redone and never counted twice; so are a local run's leftover temporary shards."""
    output = Output(out_dir)
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
                raise StorageError(f"cannot read {shard}: {first_line(e)}") from None
            output.fs.delete_file(shard)
    return done


def read_results_file(shard: "str | Path") -> list[dict]:
    import pyarrow.parquet as pq  # noqa: PLC0415 - optional dependency (the ray extra)

    return pq.read_table(shard).to_pylist()


def read_results(out_dir: "str | Path", columns: Sequence[str] | None = None) -> list[dict]:
    """Every row written under ``out_dir`` (a folder or a URI such as ``s3://bucket/results/``); ``columns``: only
    these."""
    output = Output(out_dir)
    rows: list[dict] = []
    for shard in output.shards():
        try:
            rows.extend(output.read(shard, columns).to_pylist())
        except OSError as e:
            raise StorageError(f"cannot read {shard}: {first_line(e)}") from None
    return rows


def row_to_json(row: dict[str, Any]) -> dict[str, Any]:
    """A result row as the plain engine prints it (``res`` fields; ``error`` instead of them on failure)."""
    return Prediction.from_row(row).to_dict()
