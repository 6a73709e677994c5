"""The real server in a subprocess on a free loopback port: PaddleX's API, 4xx for client errors, batching, SIGTERM."""
from __future__ import annotations

import base64
import json
import select
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest
from helpers import REALDATA, ROOT, need

httpx = pytest.importorskip("httpx", reason="serving tests need httpx (test extra)")
pytest.importorskip("fastapi", reason="serving needs the serve extra")
pytest.importorskip("uvicorn", reason="serving needs the serve extra")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, bundle, *extra):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        import tempfile

        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "imgcls_onnx.cli", "serve", "-m", str(bundle), "--device", "cpu", "--threads", "2",
             "--port", str(self.port), "--log-level", "warning", *extra],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self.log, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.stderr())
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.proc.kill()  # never leave a server behind
        self.proc.wait()
        raise RuntimeError(f"server did not become healthy: {self.stderr()[-2000:]}")

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def post(self, payload, **kw):
        return httpx.post(self.url + "/image-classification", json=payload, timeout=60, **kw)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def b64(path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def b64_array(bgr) -> str:
    return base64.b64encode(cv2.imencode(".jpg", bgr)[1].tobytes()).decode()


@pytest.fixture(scope="module")
def docs():
    d = need(REALDATA / "orientation_images")
    rot0 = cv2.imread(str(d / "img_rot0_demo.jpg"))
    return [(b64(d / "img_rot0_demo.jpg"), "0"), (b64(d / "img_rot180_demo.jpg"), "180"),
            (b64_array(cv2.rotate(rot0, cv2.ROTATE_90_CLOCKWISE)), "90"),
            (b64_array(cv2.rotate(rot0, cv2.ROTATE_90_COUNTERCLOCKWISE)), "270")]


@pytest.fixture(scope="module")
def server(orientation_bundle):
    s = Server(orientation_bundle, "--max-batch-size", "8", "--max-wait-ms", "20")
    yield s
    s.stop()


@pytest.mark.realdata
def test_real_images_paddlex_response_shape(server, docs):
    for image, expected in docs:
        r = server.post({"image": image, "topk": 2, "visualize": None})
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"logId", "errorCode", "errorMsg", "result"}
        assert body["errorCode"] == 0 and body["errorMsg"] == "Success" and r.headers["X-Log-Id"] == body["logId"]
        cats = body["result"]["categories"]
        assert len(cats) == 2 and set(cats[0]) == {"id", "name", "score"}
        assert cats[0]["name"] == expected and cats[0]["score"] > 0.5
        assert body["result"]["image"] is None
    r = server.post({"image": docs[0][0], "visualize": True})
    img = base64.b64decode(r.json()["result"]["image"])
    assert img[:2] == b"\xff\xd8" and len(r.json()["result"]["categories"]) == 4


@pytest.mark.realdata
def test_client_errors_are_4xx(server, docs):
    cases = [
        (httpx.post(server.url + "/image-classification", content=b"{not json", timeout=10,
                    headers={"Content-Type": "application/json"}), 422),
        (server.post({"topk": 3}), 422),
        (server.post({"image": docs[0][0], "topk": 0}), 422),
        (server.post({"image": "%%% not base64 %%%"}), 400),
        (server.post({"image": base64.b64encode(b"GIF89a garbage").decode()}), 400),
        (server.post({"image": "http://127.0.0.1/x.jpg"}), 400),
    ]
    for r, status in cases:
        assert r.status_code == status, r.text
        body = r.json()
        assert body["errorCode"] == status and body["errorMsg"] and body["logId"]
    assert "disabled" in cases[-1][0].json()["errorMsg"]
    assert "cannot load" in cases[-2][0].json()["errorMsg"]


@pytest.mark.realdata
def test_64_concurrent_requests_batched_and_each_correct(server, docs):
    def one(k):
        image, expected = docs[k % 4]
        r = server.post({"image": image})
        return r.status_code, r.json()["result"]["categories"][0]["name"], expected

    before = _batch_stats(server)
    with ThreadPoolExecutor(max_workers=64) as pool:
        results = list(pool.map(one, range(64)))
    assert all(status == 200 for status, _, _ in results)
    assert all(got == expected for _, got, expected in results)
    after = _batch_stats(server)
    batches = after["count"] - before["count"]
    images = after["sum"] - before["sum"]
    assert images == 64 and batches < 64, f"{batches} batches for 64 requests: no batching happened"


def _batch_stats(server):
    text = httpx.get(server.url + "/metrics", timeout=10).text
    values = {}
    for line in text.splitlines():
        if line.startswith("imgcls_batch_size_sum"):
            values["sum"] = float(line.split()[-1])
        elif line.startswith("imgcls_batch_size_count"):
            values["count"] = float(line.split()[-1])
    assert "imgcls_requests_total" in text and "imgcls_request_latency_seconds_bucket" in text
    rss = [ln for ln in text.splitlines() if ln.startswith("process_resident_memory_bytes ")]
    assert len(rss) == 1 and float(rss[0].split()[1]) > 20e6  # a real RSS gauge
    return values


@pytest.mark.realdata
def test_413_and_ssrf_refused(orientation_bundle, docs):
    s = Server(orientation_bundle, "--max-body-mb", "0.01", "--allow-url-fetch")
    try:
        r = s.post({"image": docs[0][0]})
        assert r.status_code == 413 and r.json()["errorCode"] == 413
        for url in ("http://127.0.0.1:1/x.jpg", "http://localhost/x.jpg", "http://10.0.0.1/x.jpg",
                    "http://169.254.169.254/latest/meta-data", "http://[::1]/x.jpg"):
            r = s.post({"image": url})
            assert r.status_code == 400 and "non-public" in r.json()["errorMsg"], (url, r.text)
    finally:
        s.stop()


def test_serve_runs_on_uvloop_and_httptools(server):
    """The serve extra brings uvicorn's C event loop and HTTP parser and `serve` leaves uvicorn's choice on auto, so
    they are what serves (3 side-by-side runs: +1-4 % req/s, 4-10 % lower p99 at 8-32 clients than asyncio + h11)."""
    stack = httpx.get(server.url + "/health", timeout=10).json()["result"]["server"]
    assert stack["http"] == "HttpToolsProtocol"
    assert stack["loop"] == "uvloop"  # the loop the server runs on, read inside it
    assert stack["malloc_arenas"] == 2  # glibc's arenas limited (RSS flat after load; docs/serving.md)
    assert stack["latency_session"] is True  # a lone request's run spins within the run (docs/serving.md)


def test_base64_is_decoded_strictly_by_pybase64(monkeypatch):
    """The serve extra's SIMD decoder is the one the endpoint uses, and it accepts and refuses exactly what the
    standard library's strict decoder does (the expected values are the standard library's, on hand-written edge
    cases: no padding, too much padding, whitespace, characters outside the alphabet, URL-safe characters)."""
    import binascii

    import pybase64

    from imgcls_onnx.serving.handlers import _b64decode

    seen = []
    real = pybase64.b64decode
    monkeypatch.setattr(pybase64, "b64decode", lambda text, validate: seen.append(text) or real(text, validate=validate))
    assert _b64decode("aGVsbG8=") == b"hello" and seen == ["aGVsbG8="]  # the SIMD decoder is the one in use
    monkeypatch.setattr(pybase64, "b64decode", real)
    cases = ["aGVsbG8=", "aGVsbG8", "aGVsbG8==", "aGV sbG8=", "aGVs\nbG8=", "!!!!", "", "data", "a-_b", "a+/b",
             "QUJD", "QUJD=", "=QUJD", base64.b64encode(bytes(range(256)) * 50).decode()]

    def outcome(decode, text):
        try:
            return decode(text)
        except (binascii.Error, ValueError):
            return "refused"

    got = [outcome(_b64decode, c) for c in cases]
    assert got == [outcome(lambda t: base64.b64decode(t, validate=True), c) for c in cases]
    assert got[0] == b"hello" and got[1:6] == ["refused"] * 5  # and the cases are not all alike


def test_batching_defaults_by_device(orientation_bundle, server):
    """On CPU a batch saves little and a large one makes every request behind it wait, so `serve` batches at most 4
    requests and never waits to fill a batch unless told (hand-written values; the measurements are in
    docs/serving.md); on a GPU 16 with a 5 ms top-up. Flags given win."""
    from imgcls_onnx.serving.app import default_batching

    assert default_batching("cpu") == (4, 0.0)
    assert default_batching("gpu:0") == (16, 5.0)
    assert httpx.get(server.url + "/health", timeout=10).json()["result"]["batching"] == {
        "max_batch_size": 8, "max_wait_ms": 20.0}
    s = Server(orientation_bundle)
    try:
        assert httpx.get(s.url + "/health", timeout=10).json()["result"]["batching"] == {
            "max_batch_size": 4, "max_wait_ms": 0.0}
    finally:
        s.stop()


@pytest.mark.realdata
def test_create_app_takes_the_same_batching_defaults(orientation_classifier):
    """The library's create_app resolves the device's defaults as `serve` does (it kept 16 / 5 ms on CPU before)."""
    import asyncio

    from imgcls_onnx.serving.app import ServeSettings, create_app

    async def batching(settings=None):
        app = create_app(orientation_classifier.model, *([settings] if settings else []))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
                return (await client.get("/health")).json()["result"]["batching"]

    assert asyncio.run(batching()) == {"max_batch_size": 4, "max_wait_ms": 0.0}
    assert asyncio.run(batching(ServeSettings(max_batch_size=2, max_wait_ms=1))) == {"max_batch_size": 2,
                                                                                    "max_wait_ms": 1}


class _SessionSpy:
    """Delegates to an onnxruntime session and records the batch size of every run."""

    def __init__(self, inner):
        self.inner, self.runs = inner, []

    def run(self, outputs, feeds, run_options=None):
        self.runs.append(len(next(iter(feeds.values()))))
        return self.inner.run(outputs, feeds, run_options)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.mark.realdata
def test_a_lone_request_runs_on_the_spinning_latency_session(orientation_bundle, docs):
    """On CPU `serve` adds a second session whose threads spin within a run and stop when it returns
    (onnxruntime's own settings, read back from the sessions); a request that finds the model idle runs there, the
    batches formed under load on the main session, whose threads sleep (spinning beside the decode threads cost 6-9 %
    at 2-4 clients; docs/serving.md). Both give every image its true label and the same scores."""
    import asyncio

    from imgcls_onnx.runtime.bundle import load_bundle
    from imgcls_onnx.runtime.model import OnnxModel
    from imgcls_onnx.runtime.session import SessionOptions, create_session
    from imgcls_onnx.serving.app import create_app

    bundle = load_bundle(orientation_bundle)
    one_thread = OnnxModel(bundle, "cpu", SessionOptions(intra_op_num_threads=1))
    assert one_thread.add_latency_session() is False and one_thread.latency_session is None

    spies = []  # every session the model makes, in order: the main one, then the latency one

    def spying(path, device, options):
        spies.append(_SessionSpy(create_session(path, device, options)))
        return spies[-1]

    # as load_for_serving makes it for threads=2 (every thread to the one session), with spying sessions
    model = OnnxModel(bundle, "cpu", SessionOptions(intra_op_num_threads=2), session_factory=spying)
    assert model.add_latency_session() is True
    # the options the session was made with, as onnxruntime holds them (its C++ copy does not list config entries)
    entry = lambda session, key: session._sess_options_initial.get_session_config_entry(key)  # noqa: E731
    assert entry(model.session, "session.intra_op.allow_spinning") == "0"
    assert entry(model.latency_session, "session.intra_op.allow_spinning") == "1"
    assert entry(model.latency_session, "session.force_spinning_stop") == "1"
    main, lone = spies
    assert (model.session, model.latency_session) == (main, lone)

    async def scenario():
        app = create_app(model)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app", timeout=60) as client:
                post = lambda image: client.post("/image-classification", json={"image": image})  # noqa: E731
                first = [await post(image) for image, _ in docs]  # one at a time: each finds the model idle
                runs_alone = list(lone.runs)
                together = await asyncio.gather(*[post(image) for image, _ in docs * 6])
                health = (await client.get("/health")).json()["result"]["server"]
                return first, runs_alone, together, health

    first, runs_alone, together, health = asyncio.run(scenario())
    assert runs_alone == [1] * len(docs)  # and the main session ran none of them: all of its runs came after
    assert main.runs and sum(main.runs) + len(lone.runs) - len(docs) == len(docs) * 6 and max(main.runs) > 1
    assert health["latency_session"] is True
    by_image = {}
    for (image, label), r in zip(docs + docs * 6, first + list(together)):
        assert r.status_code == 200 and r.json()["result"]["categories"][0]["name"] == label
        by_image.setdefault(image, set()).add(tuple(c["score"] for c in r.json()["result"]["categories"]))
    assert all(len(scores) == 1 for scores in by_image.values())  # the two sessions agree to the 5 places returned


def test_latency_session_by_model_size():
    """`serve --latency-session auto` adds the second session only for models up to 64 MB (it holds another copy of
    the weights: +194 MB RSS for a 109 MB ConvNeXt_tiny); on and off are obeyed (hand-written cases)."""
    from imgcls_onnx.serving.server import latency_session_wanted

    mb = 2**20
    assert [latency_session_wanted("auto", n) for n in (6 * mb, 64 * mb, 64 * mb + 1, 109 * mb)] == [
        True, True, False, False]
    assert latency_session_wanted("on", 109 * mb) and not latency_session_wanted("off", 1 * mb)


def test_paddlex_error_bodies_for_404_405_and_bad_json(server):
    r = httpx.get(server.url + "/nope", timeout=10)
    assert r.status_code == 404 and r.json()["errorCode"] == 404 and "no such endpoint: /nope" in r.json()["errorMsg"]
    assert set(r.json()) == {"logId", "errorCode", "errorMsg"}
    r = httpx.get(server.url + "/image-classification", timeout=10)
    assert r.status_code == 405 and r.json()["errorCode"] == 405 and "GET is not allowed" in r.json()["errorMsg"]
    r = httpx.post(server.url + "/image-classification", content=b'{"image": "abc"', timeout=10,
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and "not valid JSON" in r.json()["errorMsg"] and "0:" not in r.json()["errorMsg"]


@pytest.mark.realdata
def test_chunked_body_is_capped_while_it_arrives(orientation_bundle, docs):
    """Defect: only Content-Length was checked, so a chunked body was read without limit. The body here is a valid
    request for a small image (well under the image-size limit), padded with JSON whitespace to 30x the body cap:
    read without the cap it would be answered 200, so only the body cap can answer 413 (and no 400 stands in)."""
    s = Server(orientation_bundle, "--max-body-mb", "0.05")
    cap = int(0.05 * 2**20)
    small = cv2.resize(cv2.imdecode(np.frombuffer(base64.b64decode(docs[0][0]), np.uint8), cv2.IMREAD_COLOR),
                       (160, 120))
    image = b64_array(small).encode()
    assert len(base64.b64decode(image)) < cap // 2  # the decoded image is far under the image-size limit (= the cap)
    head, padding, tail = b'{"image": "' + image + b'"', b" " * 8192, b"}"
    pieces = 200  # 200 x 8 KB of whitespace = 1.6 MB, 32x the cap
    total = len(head) + pieces * len(padding) + len(tail)
    assert json.loads(head + padding * pieces + tail)["image"] == image.decode()  # valid JSON, whitespace and all
    sent = {"bytes": 0}

    def chunks():  # a generator body: httpx sends it chunked, with no Content-Length
        for part in (head, *([padding] * pieces), tail):
            sent["bytes"] += len(part)
            yield part

    try:
        r = httpx.post(s.url + "/image-classification", content=chunks(), timeout=30,
                       headers={"Content-Type": "application/json"})
        assert "content-length" not in {k.lower() for k in r.request.headers}
        assert r.status_code == 413, r.text
        assert r.json()["errorCode"] == 413 and "--max-body-mb 0.05" in r.json()["errorMsg"], r.text
        assert sent["bytes"] == total  # the client sent it all (the server read the rest after its 413)
        r = s.post({"image": image.decode()})  # the same image in a body under the cap is answered
        assert r.status_code == 200, r.text
        assert "Traceback" not in s.stderr()
    finally:
        s.stop()


def _send_whole_body_then_read(url: str, body, headers: dict):
    """POST with Python's http.client, which writes the whole body before it reads a byte of the answer (an iterable
    body without Content-Length goes chunked). Returns (status, parsed JSON body, bytes of the body it sent,
    response headers)."""
    import http.client
    from urllib.parse import urlsplit

    sent = {"bytes": 0}

    def counted(parts):
        for part in parts:
            sent["bytes"] += len(part)
            yield part

    where = urlsplit(url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
    try:
        conn.request("POST", "/image-classification", body=counted(body) if not isinstance(body, bytes) else body,
                     headers=headers)
        if isinstance(body, bytes):
            sent["bytes"] = len(body)  # http.client raises if it could not write it all
        r = conn.getresponse()
        return r.status, json.loads(r.read()), sent["bytes"], dict(r.getheaders())
    finally:
        conn.close()


def test_over_cap_bodies_get_a_readable_413_from_a_client_that_sends_everything_first(orientation_bundle):
    """Defect: a 10 MB chunked body against a 2 MB cap, from http.client (which sends the whole body before reading),
    got "connection reset" instead of the 413: the server answered and closed while the client was still sending.
    The server now reads and discards the rest of an over-cap body (bounded) before it closes, so the client finishes
    sending and reads the 413. A body with a Content-Length over the cap is answered before it is read and uvicorn
    drops it while keeping the connection; checked the same way, so that stays true."""
    s = Server(orientation_bundle, "--max-body-mb", "2")
    size = 10 * 2**20
    piece = b"A" * 65536

    def chunked():  # a JSON body of 10 MB: {"image": "AAAA...A"}
        yield b'{"image": "'
        for _ in range(size // len(piece)):
            yield piece
        yield b'"}'

    try:
        for label, body, headers in (
                ("chunked", chunked(), {"Content-Type": "application/json"}),
                ("content-length", b'{"image": "' + b"A" * size + b'"}', {"Content-Type": "application/json"})):
            status, answer, sent, response_headers = _send_whole_body_then_read(s.url, body, headers)
            assert status == 413, (label, status, answer)
            assert answer["errorCode"] == 413 and set(answer) == {"logId", "errorCode", "errorMsg"}, (label, answer)
            assert "--max-body-mb 2" in answer["errorMsg"], (label, answer)
            assert sent == size + len(b'{"image": ""}'), (label, sent)  # it sent all of it, and then read the 413
            if label == "chunked":  # found over the cap while it arrived: the connection ends after the 413
                assert response_headers.get("connection", "").lower() == "close", response_headers
        assert httpx.get(s.url + "/health", timeout=10).status_code == 200  # the server is fine after
        assert "Traceback" not in s.stderr()
    finally:
        s.stop()


def _guard_against_endless_body(linger_bytes: int, linger_s: float, stall_after: int | None = None):
    """Our body-cap middleware in front of an app that reads the whole body, fed a body that never ends: 64 KiB
    pieces forever, or, with ``stall_after``, that many pieces and then silence (a client that stops sending).
    Returns (bytes the guard pulled, ASGI messages it sent)."""
    import asyncio

    from imgcls_onnx.serving.guard import RequestGuard
    from imgcls_onnx.serving.metrics import Metrics
    from imgcls_onnx.serving.state import ServeSettings

    piece = 65536
    pulled, sent = {"n": 0, "pieces": 0}, []

    async def receive():
        if stall_after is not None and pulled["pieces"] >= stall_after:
            await asyncio.Event().wait()  # nothing more ever comes
        if pulled["n"] >= 64 * linger_bytes:  # far past the bound: fail instead of reading forever
            raise AssertionError(f"the guard kept reading: {pulled['n']} bytes")
        await asyncio.sleep(0)
        pulled["n"] += piece
        pulled["pieces"] += 1
        return {"type": "http.request", "body": b"A" * piece, "more_body": True}

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):  # reads until the body ends, as FastAPI does
        while (await receive()).get("more_body"):
            pass

    guard = RequestGuard(app, ServeSettings(max_body_mb=0.25), Metrics())  # 256 KiB: over it at the 5th piece
    guard.LINGER_BYTES, guard.LINGER_S = linger_bytes, linger_s
    scope = {"type": "http", "method": "POST", "path": "/image-classification", "headers": [], "client": None}
    asyncio.run(asyncio.wait_for(guard(scope, receive, send), 20))  # a guard that waits forever fails here
    return pulled["n"], sent


def test_lingering_after_a_413_stops_at_its_byte_bound():
    """A client that keeps sending after the 413 is read for at most LINGER_BYTES more (the time bound set far away,
    so only the byte bound can stop it), and the response ends with Connection: close."""
    pulled, sent = _guard_against_endless_body(linger_bytes=2**20, linger_s=3600)
    over_cap_at = 5 * 65536  # the piece that took the body over 256 KiB
    assert over_cap_at + 2**20 <= pulled <= over_cap_at + 2**20 + 65536, pulled
    start, *bodies = sent
    assert start["status"] == 413 and (b"connection", b"close") in start["headers"]
    answer = json.loads(b"".join(m["body"] for m in bodies))  # PaddleX's error shape, as the handlers answer
    assert set(answer) == {"logId", "errorCode", "errorMsg"} and answer["errorCode"] == 413
    assert answer["errorMsg"] == "request body exceeds 262144 bytes (received 327680 so far); the limit is --max-body-mb 0.25"
    assert bodies[-1].get("more_body", False) is False  # the response ended, so the server closes


def test_lingering_after_a_413_stops_at_its_time_bound():
    """A client that stops sending in the middle of an over-cap body is waited for at most LINGER_S (here 0.2 s;
    the test only fails if the guard never returns, after 20 s), and the 413 response is ended."""
    pulled, sent = _guard_against_endless_body(linger_bytes=2**30, linger_s=0.2, stall_after=8)
    assert pulled == 8 * 65536
    assert sent[0]["status"] == 413 and sent[-1]["type"] == "http.response.body"
    assert sent[-1].get("more_body", False) is False
    assert json.loads(b"".join(m["body"] for m in sent[1:]))["errorCode"] == 413


@pytest.mark.realdata
def test_full_queue_answers_503_with_retry_after(orientation_bundle, docs):
    s = Server(orientation_bundle, "--max-queue", "1", "--max-batch-size", "1", "--max-wait-ms", "0")
    try:
        with ThreadPoolExecutor(max_workers=48) as pool:
            responses = list(pool.map(lambda k: s.post({"image": docs[k % 4][0]}), range(48)))
        codes = [r.status_code for r in responses]
        assert set(codes) <= {200, 503} and 503 in codes and 200 in codes
        busy = next(r for r in responses if r.status_code == 503)
        assert busy.headers["Retry-After"] == "1" and busy.json()["errorCode"] == 503
    finally:
        s.stop()


def _send_request(port: int, payload: dict) -> socket.socket:
    """A whole POST /image-classification written on a new connection (the answer is read later)."""
    body = json.dumps(payload).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall(b"POST /image-classification HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    return sock


def _answer_status(sock: socket.socket):
    """The answer's HTTP status, or what happened instead (reset, closed without an answer)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        return "lost: reset"
    finally:
        sock.close()
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else "lost: closed without an answer"


@pytest.mark.realdata
def test_sigterm_drains_in_flight_requests(orientation_bundle, docs):
    """SIGTERM while requests are in flight: every request that reached the server before it is answered. All 16 are
    written whole on their own connections first (so each is in the server or in the kernel's accept queue), and the
    signal goes when the first answer is readable: events, not sleeps, so a starved machine (one core) cannot turn
    it into a race."""
    s = Server(orientation_bundle, "--max-batch-size", "4", "--max-wait-ms", "50")
    socks = [_send_request(s.port, {"image": docs[k % 4][0]}) for k in range(16)]
    select.select(socks, [], [])  # the first answer is on its way: the rest are in flight
    s.proc.send_signal(signal.SIGTERM)
    results = [_answer_status(sock) for sock in socks]
    # uvicorn shuts down gracefully, then re-raises the captured SIGTERM: exit status -15 after a clean drain
    assert s.proc.wait(timeout=60) in (0, -signal.SIGTERM)
    assert "Traceback" not in s.stderr()
    s.stop()
    assert results == [200] * 16, results


def test_openapi_schema_served(orientation_bundle):
    s = Server(orientation_bundle)
    try:
        spec = httpx.get(s.url + "/openapi.json", timeout=10).json()
        assert "/image-classification" in spec["paths"]
        assert "InferRequest" in json.dumps(spec)
    finally:
        s.stop()


@pytest.mark.realdata
def test_startup_moves_loaded_objects_out_of_the_collector(orientation_classifier):
    """gc.freeze() at startup: a full collection under load then scans request garbage only (docs/serving.md)."""
    import asyncio
    import gc

    from imgcls_onnx.serving.app import create_app

    async def started_count():
        app = create_app(orientation_classifier.model)
        async with app.router.lifespan_context(app):  # what uvicorn runs at startup and shutdown
            return gc.get_freeze_count()

    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        assert asyncio.run(started_count()) > 10_000
    finally:
        gc.unfreeze()
