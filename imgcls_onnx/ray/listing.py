"""The inputs of a job: local files, folders and patterns expanded as ``predict`` expands them, and URIs looked up
on their filesystem (an object is read as given, a prefix is listed)."""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Sequence

from ..errors import StorageError
from ..runtime.inputs import is_image_path, iter_inputs
from ..runtime.results import error_row
from .io import check_bucket, filesystem, first_line, is_remote, scheme


class Inputs(NamedTuple):
    order: list[str]  # every input path, in input order
    files: list[str]  # the files to read
    missing: list[dict]  # error rows for inputs that name no readable file


def _list_remote(path: str, stores: dict) -> tuple[list[str], str]:
    """(the files a URI names, the reason where it names none): an object, or the image files under a prefix
    (recursive, sorted, image extensions only, as a local folder)."""
    import pyarrow.fs as pafs  # noqa: PLC0415 - optional dependency (the ray extra)

    fs, fs_path = filesystem(path, stores)
    try:
        info = fs.get_file_info(fs_path)
        if info.type == pafs.FileType.NotFound:
            check_bucket(fs, fs_path, path, "read")  # a clearer error than a missing key, where it is so
        if info.type == pafs.FileType.Directory:
            listed = fs.get_file_info(pafs.FileSelector(fs_path, recursive=True))
            files = sorted(scheme(path) + i.path for i in listed
                           if i.type == pafs.FileType.File and is_image_path(i.path))
            return files, "the prefix holds no image files"
        return ([scheme(path) + fs_path] if info.type == pafs.FileType.File else []), "no such object or prefix"
    except OSError as e:
        raise StorageError(f"cannot read {path}: {first_line(e)}") from None


def resolve_inputs(inputs: Sequence[str]) -> Inputs:
    """The job's inputs. A bucket that does not exist, a store that refuses, or inputs on two filesystems are a
    StorageError (nothing is run); a missing file, a pattern matching nothing, or a key or prefix that holds nothing
    is an error row."""
    found = Inputs([], [], [])
    stores: dict = {}
    for item in iter_inputs(list(inputs)):
        path = item.input_path
        if path is None:
            continue
        if item.error is not None:
            files, reason = [], item.error.reason
        elif is_remote(path):
            files, reason = _list_remote(path, stores)
        elif "://" not in path and not Path(path).is_file():
            files, reason = [], "no such file"
        else:  # a local file, or an http(s) URL (read by Ray Data's own filesystem for it)
            files, reason = [path], ""
        if files:
            found.order.extend(files)
            found.files.extend(files)
        else:
            found.order.append(path)
            found.missing.append(error_row(path, reason))
    kinds = sorted({scheme(p) if "://" in p else "local files" for p in found.files})
    if len(kinds) > 1:
        raise StorageError(f"the inputs are on {len(kinds)} filesystems ({', '.join(kinds)}): one Ray job reads "
                           "from one; run a job for each")
    return found
