"""The app's parts without a server: a handler called directly with a hand-made state, and /metrics of two apps in
one process (a fake model; neither needs a real one)."""
from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

httpx = pytest.importorskip("httpx", reason="serving tests need httpx (test extra)")
pytest.importorskip("fastapi", reason="serving needs the serve extra")
pytest.importorskip("prometheus_client", reason="serving needs the serve extra")

NOT_BASE64 = "%%% not base64 %%%"


class FakeModel:
    """What create_app, the handlers and the batcher read of an OnnxModel; a run answers uniform probabilities."""

    device, labels, topk, latency_session = "cpu", ["a", "b"], 1, None

    class bundle:  # an attribute holder, as OnnxModel.bundle
        name = "fake"

    @staticmethod
    def model_input(image):
        return np.zeros((3, 4, 4), np.float32)

    @staticmethod
    def run(batch, alone=False):
        return np.full((len(batch), 2), 0.5, np.float32)


async def _post(app, payload):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        return await client.post("/image-classification", json=payload)


def test_classify_called_directly_refuses_bad_base64_as_http_does():
    """The predict handler on a hand-made state (no app, no batcher, no model: the refusal needs none) raises the
    400 whose body, through the app over HTTP (in process), is exactly what a client reads."""
    from imgcls_onnx.runtime.images import ImageLimits
    from imgcls_onnx.serving.app import create_app
    from imgcls_onnx.serving.handlers import ClientError, InferRequest, classify, client_error
    from imgcls_onnx.serving.state import ServeSettings, ServingState

    state = ServingState(model=None, settings=ServeSettings(), metrics=None, batcher=None, decode_pool=None,
                         limits=ImageLimits())
    with pytest.raises(ClientError) as refused:
        asyncio.run(classify(InferRequest(image=NOT_BASE64), state, "log-1"))
    assert refused.value.status == 400
    assert refused.value.message == "'image' is neither valid base64 nor an http(s) URL"

    class Request:  # what the error handler reads of a request
        class state:
            log_id = "log-1"

    answer = asyncio.run(client_error(Request(), refused.value))
    direct = (answer.status_code, json.loads(answer.body))
    app = create_app(FakeModel())
    try:
        r = asyncio.run(_post(app, {"image": NOT_BASE64}))
    finally:
        app.state.serving.decode_pool.shutdown()
    assert (r.status_code, r.json()) == (direct[0], {**direct[1], "logId": r.headers["x-log-id"]})
    assert direct[1] == {"logId": "log-1", "errorCode": 400, "errorMsg": refused.value.message}


def _series(text: str) -> dict[str, set[tuple[str, ...]]]:
    """{sample name: the label-name sets it has} from Prometheus' text format, read by prometheus_client's parser."""
    from prometheus_client.parser import text_string_to_metric_families

    series: dict[str, set[tuple[str, ...]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            series.setdefault(sample.name, set()).add(tuple(sorted(sample.labels)))
    return series


def test_two_apps_in_one_process_count_apart_with_the_same_series():
    """/metrics through prometheus_client: each app has its own registry (two apps in one process do not clash, and
    count only their own requests), and the exposition has exactly the series the hand-written one had (names and
    label names), in the content type it had."""
    from imgcls_onnx.serving.app import create_app

    one, two = create_app(FakeModel()), create_app(FakeModel())

    async def scenario():
        await _post(one, {"image": NOT_BASE64})
        await _post(one, {"topk": 1})
        transport = {app: httpx.ASGITransport(app=app) for app in (one, two)}
        answers = []
        for app in (one, two):
            async with httpx.AsyncClient(transport=transport[app], base_url="http://app") as client:
                answers.append(await client.get("/metrics"))
        return answers

    try:
        first, second = asyncio.run(scenario())
    finally:
        for app in (one, two):
            app.state.serving.decode_pool.shutdown()
    assert first.headers["content-type"] == second.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    requests = [line for line in first.text.splitlines() if line.startswith("imgcls_requests_total{")]
    assert sorted(requests) == ['imgcls_requests_total{status="400"} 1.0', 'imgcls_requests_total{status="422"} 1.0']
    assert "imgcls_requests_total{" not in second.text  # the second app saw no request
    assert 'imgcls_request_latency_seconds_count 2.0' in first.text.splitlines()
    histogram = {"_bucket": {("le",)}, "_sum": {()}, "_count": {()}}
    expected = {"imgcls_requests_total": {("status",)}, "imgcls_queue_depth": {()},
                "process_resident_memory_bytes": {()},
                **{f"imgcls_request_latency_seconds{k}": v for k, v in histogram.items()},
                **{f"imgcls_batch_size{k}": v for k, v in histogram.items()}}
    assert _series(first.text) == expected
    assert _series(second.text) == {k: v for k, v in expected.items() if k != "imgcls_requests_total"}
