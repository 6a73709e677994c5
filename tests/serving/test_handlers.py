"""The app's parts without a server: a handler called directly with a hand-made state (a fake classifier; no
model)."""
from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

httpx = pytest.importorskip("httpx", reason="serving tests need httpx (test extra)")
pytest.importorskip("fastapi", reason="serving needs the serve extra")

NOT_BASE64 = "%%% not base64 %%%"


class FakeClassifier:
    """What create_app reads of a Classifier; a model run answers uniform probabilities."""

    device, labels, topk = "cpu", ["a", "b"], 1

    class bundle:  # an attribute holder, as Classifier.bundle
        name = "fake"

    class model:
        latency_session = None

    def model_input(self, image):
        return np.zeros((3, 4, 4), np.float32)

    def run_batch(self, batch, alone=False):
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

    state = ServingState(classifier=None, settings=ServeSettings(), metrics=None, batcher=None, decode_pool=None,
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
    app = create_app(FakeClassifier())
    try:
        r = asyncio.run(_post(app, {"image": NOT_BASE64}))
    finally:
        app.state.serving.decode_pool.shutdown()
    assert (r.status_code, r.json()) == (direct[0], {**direct[1], "logId": r.headers["x-log-id"]})
    assert direct[1] == {"logId": "log-1", "errorCode": 400, "errorMsg": refused.value.message}
