"""Downloads: requests for the transfer, tqdm for the progress bar on stderr.

Streamed to a temporary file next to its destination, with connect/read timeouts, a few retries with backoff, and
resume of an interrupted transfer with an HTTP Range request when the server allows it. A final failure removes the
temporary file and raises one ``DownloadError`` naming the URL and the reason. Only http and https URLs.

Timeouts, the size cap and redirects follow a ``NetPolicy`` (``runtime/net.py``; ``MODEL_DOWNLOAD`` by default):
redirects are followed one hop at a time, each hop checked by ``net.check_redirect``.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

from ..runtime.fsutil import sha256_file
from ..runtime.net import MODEL_DOWNLOAD, FetchError, NetPolicy, check_redirect, is_url
from .errors import DownloadError

#: the largest download we accept unless told otherwise (PaddleX's largest classification archive is ~1.2 GB)
DEFAULT_MAX_BYTES = MODEL_DOWNLOAD.max_bytes
CHUNK = 1 << 16


@dataclass(frozen=True)
class Downloaded:
    url: str
    path: Path
    sha256: str
    size: int


def split_sha256(ref: str) -> tuple[str, str | None]:
    """``URL_OR_FILE#sha256=HEX`` -> (URL_OR_FILE, hex). A fragment of another kind is refused."""
    base, sep, fragment = ref.partition("#")
    if not sep:
        return ref, None
    key, _, value = fragment.partition("=")
    value = value.strip().lower()
    if key.strip().lower() != "sha256" or len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise DownloadError(f"{ref!r}: the only fragment understood is '#sha256=<64 hex digits>'")
    return base, value


def _progress(total: int | None, desc: str, enabled: bool):
    from tqdm import tqdm  # noqa: PLC0415 - start-up time: only a download draws a bar

    # disable=None: tqdm draws only when stderr is a terminal
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc, file=sys.stderr, leave=False,
                disable=None if enabled else True)


def download(
    url: str,
    dest_dir: "str | os.PathLike[str]",
    *,
    expected_sha256: str | None = None,
    policy: NetPolicy = MODEL_DOWNLOAD,
    max_bytes: int | None = None,
    timeout: tuple[float, float] | None = None,
    retries: int = 3,
    backoff_s: float = 0.5,
    progress: bool = True,
    manual_hint: str = "",
) -> Downloaded:
    """Download ``url`` into a new temporary file under ``dest_dir`` (the caller owns it: move or delete it).
    ``max_bytes`` and ``timeout`` (connect, read) override the policy's."""
    if not is_url(url):
        raise DownloadError(f"{url!r} is not an http(s) URL")
    if max_bytes is not None:
        policy = policy.replace(max_bytes=max_bytes)
    if timeout is not None:
        policy = policy.replace(connect_timeout_s=timeout[0], read_timeout_s=timeout[1])
    import requests  # noqa: PLC0415 - start-up time: requests loads only for a download

    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".download-", suffix=".part", dir=dest_dir)
    os.close(fd)
    tmp = Path(tmp_name)
    hint = f" {manual_hint}" if manual_hint else ""
    try:
        _transfer(requests, url, tmp, policy, retries, backoff_s, progress, hint)
        digest = sha256_file(tmp)
        size = tmp.stat().st_size
        if expected_sha256 and digest != expected_sha256.lower():
            raise DownloadError(f"{url}: sha256 is {digest}, expected {expected_sha256.lower()}: the file was changed "
                                f"or damaged in transit; nothing was kept.{hint}")
        return Downloaded(url=url, path=tmp, sha256=digest, size=size)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _get(session, url: str, policy: NetPolicy, headers: dict, hint: str):
    """GET ``url``, following redirects one hop at a time under ``policy``; the final response (streamed)."""
    current = url
    for _ in range(policy.max_redirects + 1):
        r = session.get(current, stream=True, timeout=policy.timeout, headers=headers, allow_redirects=False)
        if not r.is_redirect:
            return r
        r.close()
        target = urljoin(current, r.headers["Location"])
        try:
            check_redirect(url, target, policy)
        except FetchError as e:
            raise DownloadError(f"cannot download {url}: it redirects to {target}, refused: {e}.{hint}") from None
        current = target
    raise DownloadError(f"cannot download {url}: more than {policy.max_redirects} redirects.{hint}")


def _transfer(requests, url, tmp: Path, policy: NetPolicy, retries, backoff_s, progress, hint) -> None:
    max_bytes = policy.max_bytes
    done = 0
    ranges_ok = False  # the server said Accept-Ranges: bytes
    total: int | None = None
    bar = None
    last_error = "no attempt made"
    try:
        with requests.Session() as session:
            for attempt in range(retries + 1):
                if attempt:
                    time.sleep(backoff_s * (2 ** (attempt - 1)))
                headers = {"Accept-Encoding": "identity"}
                if done and not ranges_ok:
                    done = 0  # no resume without ranges: start again
                    if bar is not None:
                        bar.reset()
                if done:
                    headers["Range"] = f"bytes={done}-"
                try:
                    with _get(session, url, policy, headers, hint) as r:
                        if r.status_code in (408, 429) or r.status_code >= 500:
                            last_error = f"HTTP {r.status_code} {r.reason}"
                            continue
                        if r.status_code >= 400:
                            raise DownloadError(f"cannot download {url}: HTTP {r.status_code} {r.reason}.{hint}")
                        ranges_ok = ranges_ok or r.headers.get("Accept-Ranges", "").lower() == "bytes"
                        if done and r.status_code != 206:
                            done = 0  # the server ignored the Range header: start again
                            if bar is not None:
                                bar.reset()
                        length = r.headers.get("Content-Length")
                        if length is not None and length.isdigit():
                            expected_total = done + int(length)
                            if expected_total > max_bytes:
                                raise DownloadError(f"cannot download {url}: it is {expected_total} bytes, over the "
                                                    f"limit of {max_bytes} bytes.{hint}")
                            total = expected_total
                        if bar is None:
                            bar = _progress(total, Path(url.split("?")[0]).name or url, progress)
                        elif total is not None and bar.total != total:
                            bar.total = total
                        with open(tmp, "r+b" if done else "wb") as f:
                            f.seek(done)
                            f.truncate()
                            for block in r.iter_content(CHUNK):
                                done += len(block)
                                if done > max_bytes:
                                    raise DownloadError(f"cannot download {url}: more than {max_bytes} bytes "
                                                        f"(the limit).{hint}")
                                f.write(block)
                                if bar is not None:
                                    bar.update(len(block))
                        if total is not None and done < total:
                            last_error = f"the connection ended after {done} of {total} bytes"
                            continue
                        return
                except DownloadError:
                    raise
                except requests.RequestException as e:
                    last_error = _reason(e)
                    continue
    finally:
        if bar is not None:
            bar.close()
    raise DownloadError(f"cannot download {url} after {retries + 1} attempts: {last_error}.{hint}")


def _reason(e: Exception) -> str:
    name = type(e).__name__
    text = str(e)
    if len(text) > 200:
        text = text[:200] + "..."
    return f"{name}: {text}" if text else name
