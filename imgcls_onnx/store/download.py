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
    if policy.max_bytes is None:
        raise ValueError("a download needs a size cap: pass max_bytes or a policy that has one")
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
    """Fetch URL into TMP: up to RETRIES more attempts with exponential back-off after a retryable failure (a
    connection error, 408, 429, 5xx, a body cut short), resuming with Range where the server allows it."""
    state = _Transfer(url, tmp, policy.max_bytes, hint, progress)
    last_error = "no attempt made"
    try:
        with requests.Session() as session:
            for attempt in range(retries + 1):
                if attempt:
                    time.sleep(backoff_s * (2 ** (attempt - 1)))
                try:
                    with _get(session, url, policy, state.headers(), hint) as r:
                        last_error = state.take(r)
                    if last_error is None:
                        return
                except DownloadError:
                    raise
                except requests.RequestException as e:
                    last_error = _reason(e)
    finally:
        state.close()
    raise DownloadError(f"cannot download {url} after {retries + 1} attempts: {last_error}.{hint}")


@dataclass
class _Transfer:
    """One download's state across its attempts: the bytes kept in the file (they survive an error mid-stream),
    whether the server resumes (Accept-Ranges), the expected total and the progress bar."""

    url: str
    tmp: Path
    max_bytes: int
    hint: str
    progress: bool
    done: int = 0
    ranges_ok: bool = False
    total: int | None = None
    bar: object = None

    def restart(self) -> None:
        self.done = 0
        if self.bar is not None:
            self.bar.reset()

    def headers(self) -> dict:
        if self.done and not self.ranges_ok:
            self.restart()  # no resume without ranges: start again
        headers = {"Accept-Encoding": "identity"}
        if self.done:
            headers["Range"] = f"bytes={self.done}-"
        return headers

    def take(self, r) -> str | None:
        """Write one response's body: None when the file is whole, else why to try again."""
        if r.status_code in (408, 429) or r.status_code >= 500:
            return f"HTTP {r.status_code} {r.reason}"
        if r.status_code >= 400:
            raise DownloadError(f"cannot download {self.url}: HTTP {r.status_code} {r.reason}.{self.hint}")
        self.ranges_ok = self.ranges_ok or r.headers.get("Accept-Ranges", "").lower() == "bytes"
        if self.done and r.status_code != 206:
            self.restart()  # the server ignored the Range header: start again
        self._expect(r.headers.get("Content-Length"))
        self._write(r)
        if self.total is not None and self.done < self.total:
            return f"the connection ended after {self.done} of {self.total} bytes"
        return None

    def _expect(self, length: str | None) -> None:
        if length is not None and length.isdigit():
            expected_total = self.done + int(length)
            if expected_total > self.max_bytes:
                raise DownloadError(f"cannot download {self.url}: it is {expected_total} bytes, over the limit of "
                                    f"{self.max_bytes} bytes.{self.hint}")
            self.total = expected_total
        if self.bar is None:
            self.bar = _progress(self.total, Path(self.url.split("?")[0]).name or self.url, self.progress)
        elif self.total is not None and self.bar.total != self.total:
            self.bar.total = self.total

    def _write(self, r) -> None:
        with open(self.tmp, "r+b" if self.done else "wb") as f:
            f.seek(self.done)
            f.truncate()
            for block in r.iter_content(CHUNK):
                self.done += len(block)
                if self.done > self.max_bytes:
                    raise DownloadError(f"cannot download {self.url}: more than {self.max_bytes} bytes (the "
                                        f"limit).{self.hint}")
                f.write(block)
                if self.bar is not None:
                    self.bar.update(len(block))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _reason(e: Exception) -> str:
    name = type(e).__name__
    text = str(e)
    if len(text) > 200:
        text = text[:200] + "..."
    return f"{name}: {text}" if text else name
