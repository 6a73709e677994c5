"""Batch classification on a real local Ray cluster gives the same rows as `imgcls-onnx predict`: identical class ids
and scores keyed by path, broken files as error rows, one row per input even when a worker is killed, and --resume
writes only what is missing. Ray starts once for the module."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import REALDATA, ROOT, need

ray = pytest.importorskip("ray", reason="the ray extra is needed (./scripts/test installs it)")

from imgcls_onnx import ray as ray_jobs  # noqa: E402
from imgcls_onnx.ray.gate import GATE_ENV, make_gate, open_gate  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             _node_ip_address="127.0.0.1")  # a loopback cluster: the suite may reach 127.0.0.1 only
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """200 images cut and scaled from the real photos, plus 10 broken files."""
    root = tmp_path_factory.mktemp("corpus")
    photos = [cv2.imread(str(p)) for p in sorted(need(REALDATA).rglob("*.jp*g"))]
    photos = [p for p in photos if p is not None]
    rng = np.random.default_rng(0)
    paths = []
    for i in range(200):
        img = photos[i % len(photos)]
        h, w = img.shape[:2]
        ch, cw = int(h * rng.uniform(0.5, 1.0)), int(w * rng.uniform(0.5, 1.0))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = cv2.resize(img[y:y + ch, x:x + cw], None, fx=rng.uniform(0.3, 0.8), fy=rng.uniform(0.3, 0.8))
        path = root / f"img_{i:03d}.{'png' if i % 10 == 0 else 'jpg'}"
        cv2.imwrite(str(path), crop)
        paths.append(str(path))
    good = (root / "img_001.jpg").read_bytes()
    for k in range(10):
        bad = root / f"broken_{k}.jpg"
        bad.write_bytes(good[: 50 + 200 * k] if k < 5 else os.urandom(300 + k))
        paths.append(str(bad))
    return sorted(paths)


@pytest.fixture(scope="module")
def expected(orientation_bundle, corpus):
    """`imgcls-onnx predict` on the same inputs: the single-machine truth, keyed by path."""
    proc = subprocess.run([sys.executable, "-m", "imgcls_onnx.cli", "predict", "-m", str(orientation_bundle),
                           "--device", "cpu", *corpus], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 1  # the broken files failed, the rest succeeded
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 210
    return {r["input_path"]: r for r in rows}


def table(rows):
    out = {}
    for r in rows:
        assert r["input_path"] not in out, f"duplicate row for {r['input_path']}"
        out[r["input_path"]] = r
    return out


def test_same_rows_as_one_machine(cluster, orientation_bundle, corpus, expected, tmp_path):
    ray_jobs.run(corpus, str(orientation_bundle), save_path=str(tmp_path / "out"), actors=2)
    got = table(ray_jobs.read_results(tmp_path / "out"))
    assert set(got) == set(expected)
    for path, want in expected.items():
        row = got[path]
        if "error" in want:
            assert row["error"] and path in row["error"] and row["class_ids"] == []
        else:
            assert row["error"] is None
            assert row["class_ids"] == want["class_ids"] and row["scores"] == want["scores"]
            assert row["label_names"] == want["label_names"]
    assert sum(1 for r in got.values() if r["error"]) == 10


def model_actor_pids():
    """Processes of the model actors (Ray titles them ray::MapWorker(MapBatches(BundlePredictor)), or
    GatedPredictor under a test's gate)."""
    pids = []
    for proc in os.listdir("/proc"):
        if proc.isdigit():
            try:
                cmdline = Path(f"/proc/{proc}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "MapWorker" in cmdline and ("BundlePredictor" in cmdline or "GatedPredictor" in cmdline):
                pids.append(int(proc))
    return pids


def wait_for(condition, what: str, proc=None, limit_s: float = 300):
    """Wait until ``condition()`` holds (checked each time the output folder may have changed); the limit only
    guards against a hang, the test never depends on it. Fails at once if ``proc`` ended first."""
    deadline = time.monotonic() + limit_s
    while not condition():
        assert proc is None or proc.poll() is None, f"the job ended before {what}"
        assert time.monotonic() < deadline, f"no {what} within {limit_s} s"
        time.sleep(0.01)


def test_a_killed_worker_loses_and_duplicates_nothing(cluster, orientation_bundle, corpus, expected, tmp_path,
                                                      monkeypatch):
    """An actor killed while the job runs: the job goes on (shards are written after the kill), and every input has
    exactly one row, each the same as `predict`'s: no row lost, none doubled, none turned into an error. A gate
    (imgcls_onnx.ray.gate) holds the call with the last input until the actor is dead, so the job is under way and
    cannot have finished at the kill, whatever the machine's speed."""
    out = tmp_path / "out"
    gate = make_gate(tmp_path / "gate", hold=corpus[-1])
    monkeypatch.setenv(GATE_ENV, gate)
    killed, shards_at_kill = [], []
    failures = []

    def killer():
        try:
            wait_for(lambda: any(out.glob("*.parquet")) and model_actor_pids(), "shard and model actor")
            pid = model_actor_pids()[0]
            shards_at_kill.extend(p.name for p in out.glob("*.parquet"))
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            wait_for(lambda: pid not in model_actor_pids(), "end of the killed actor")
        except BaseException as e:  # noqa: BLE001 - reported by the test below
            failures.append(e)
        finally:
            open_gate(gate)  # the rest of the job may run now

    t = threading.Thread(target=killer)
    t.start()
    # small calls (4 rows each): the other calls write shards while the held one waits for the kill
    ray_jobs.run(corpus, str(orientation_bundle), save_path=str(out), actors=2, batch_size=4, rows_per_call=4)
    t.join()
    assert not failures, failures
    assert killed, "no model actor was found to kill"
    assert killed[0] not in model_actor_pids()  # the kill took: that actor process is gone
    # the killed actor's process was alive while the job ran, and the job went on after it died: shards were written
    # both before the kill and after it
    assert shards_at_kill
    after = [p for p in out.glob("*.parquet") if p.name not in shards_at_kill]
    assert after, "no shard was written after the kill: the job had already finished"
    got = table(ray_jobs.read_results(out))  # table() fails on a duplicate
    assert set(got) == set(expected)
    for path, want in expected.items():  # `predict` in one process is the reference
        row = got[path]
        if "error" in want:
            assert row["error"] and path in row["error"] and row["class_ids"] == []
        else:
            assert row["error"] is None, row["error"]
            assert (row["class_ids"], row["scores"], row["label_names"]) == \
                (want["class_ids"], want["scores"], want["label_names"])
    assert sum(1 for r in got.values() if r["error"]) == 10  # the ten broken files, and nothing else


def test_resume_writes_only_what_is_missing(cluster, orientation_bundle, corpus, expected, tmp_path):
    out = tmp_path / "out"
    ray_jobs.run(corpus[:120], str(orientation_bundle), save_path=str(out), actors=2)  # the interrupted run
    first = {p.name for p in out.glob("*.parquet")}
    ray_jobs.run(corpus, str(orientation_bundle), save_path=str(out), actors=2, resume=True)
    new_rows = [r for p in out.glob("*.parquet") if p.name not in first
                for r in ray_jobs.read_results_file(p)]
    assert sorted(r["input_path"] for r in new_rows) == corpus[120:]
    assert set(table(ray_jobs.read_results(out))) == set(expected)


def shard_ids(out: Path) -> dict:
    """Each shard's name -> (inode, modification time in ns): a shard written again (os.replace) gets a new inode."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("*.parquet")}


def test_cli_resume_after_an_interrupt_redoes_nothing(cluster, orientation_bundle, corpus, expected, tmp_path):
    """`predict --engine ray --save-path X` interrupted (SIGINT) once it has written a shard, then run again with
    --resume: one row per input, none twice, each `predict`'s, and the shards written before the interrupt are the
    same files, untouched (a run that ignored --resume would write them again). Both runs join this module's
    cluster (--ray-address: no cluster start per run)."""
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "imgcls_onnx.cli", "predict", "--engine", "ray", "-m", str(orientation_bundle),
           "--ray-address", ray.get_runtime_context().gcs_address, "--ray-actors", "2",  # 2 actors: 4 shards
           "--save-path", str(out), *corpus]
    env = dict(os.environ, RAY_ADDRESS="")
    # the gate holds the call with the last input: the job cannot finish before the signal
    gate = make_gate(tmp_path / "gate", hold=corpus[-1])
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                             env=dict(env, **{GATE_ENV: gate}))
    try:
        wait_for(lambda: any(out.glob("*.parquet")), "first shard", proc=first)
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=120)  # a guard: the CLI's own watchdog ends it 20 s after the signal
    except subprocess.TimeoutExpired:
        first.kill()
        pytest.fail(f"predict did not exit within 120 s of the interrupt; stderr: {first.communicate()[1][-3000:]}")
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()  # its pipes closed here, not by the garbage collector in a later test
    assert first.returncode == 130, err[-2000:]
    assert err.rstrip().splitlines()[-1] == "interrupted; results written so far are complete (use --resume to continue)"
    assert "Traceback" not in err and "Aborted" not in err, err[-2000:]
    before = shard_ids(out)
    done = [r["input_path"] for r in ray_jobs.read_results(out)]
    assert 0 < len(done) < len(corpus), f"the interrupt came after {len(done)} of {len(corpus)} rows"

    second = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert second.returncode == 1, second.stderr[-2000:]  # the broken files failed
    assert f"{len(corpus)} results in {out} (Parquet), 10 failed" in second.stderr, second.stderr[-2000:]
    after = shard_ids(out)
    assert {name: after.get(name) for name in before} == before  # the finished part was not redone
    new_rows = [r["input_path"] for p in out.glob("*.parquet") if p.name not in before
                for r in ray_jobs.read_results_file(p)]
    assert sorted(new_rows) == sorted(set(corpus) - set(done))
    got = table(ray_jobs.read_results(out))  # table() fails on a duplicate
    assert set(got) == set(expected)
    for path, want in expected.items():
        if "error" in want:
            assert got[path]["error"] and got[path]["class_ids"] == []
        else:
            assert (got[path]["error"], got[path]["class_ids"], got[path]["scores"]) == \
                (None, want["class_ids"], want["scores"])


def test_inputs_that_name_no_file_are_error_rows_not_a_failed_job(cluster, orientation_bundle, corpus, tmp_path):
    missing = str(tmp_path / "no_such.jpg")
    ray_jobs.run([*corpus[:5], missing, str(tmp_path / "*.nomatch")], str(orientation_bundle),
                 save_path=str(tmp_path / "out"), actors=2)
    got = table(ray_jobs.read_results(tmp_path / "out"))
    assert set(corpus[:5]) <= set(got) and "no such file" in got[missing]["error"]
    assert "matched no image files" in got[str(tmp_path / "*.nomatch")]["error"]
    rows = ray_jobs.run([missing, *corpus[:3]], str(orientation_bundle), actors=2)
    assert [r["input_path"] for r in rows] == [missing, *corpus[:3]] and rows[0]["error"]


def test_cli_engine_ray_prints_json_lines(orientation_bundle, corpus, expected):
    proc = subprocess.run([sys.executable, "-m", "imgcls_onnx.cli", "predict", "--engine", "ray", "-m",
                           str(orientation_bundle), *corpus[:12]], capture_output=True, text=True, timeout=600,
                          cwd=ROOT, env=dict(os.environ, RAY_ADDRESS=""))
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["input_path"] for r in rows] == corpus[:12]
    for r in rows:
        want = expected[r["input_path"]]
        if "error" in want:
            assert "error" in r
        else:
            assert (r["class_ids"], r["scores"]) == (want["class_ids"], want["scores"])
    assert proc.returncode == (1 if any("error" in expected[p] for p in corpus[:12]) else 0), proc.stderr[-2000:]
    # stderr (not a terminal here) carries the errors, not Ray Data's execution plan and progress log lines
    assert "streaming_executor" not in proc.stderr and "logging_progress" not in proc.stderr, proc.stderr[-2000:]
    assert "error: cannot load" in proc.stderr


def test_ray_is_not_imported_by_the_package():
    proc = subprocess.run([sys.executable, "-c", "import imgcls_onnx, imgcls_onnx.runtime.classifier, sys; "
                           "print(any(m == 'ray' or m.startswith('ray.') for m in sys.modules))"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.stdout.strip() == "False"


def test_the_files_are_read_inside_the_model_actors(cluster, orientation_bundle, corpus, tmp_path):
    """run()'s plan (results_dataset) has one operator, reading fused into the actors (no reader processes, no bytes
    through the object store); the check tells a plan with separate readers apart (a read reserving no CPU is not
    fused)."""
    ds = ray_jobs.results_dataset(corpus, ray_jobs.RayJob(str(orientation_bundle), actors=1, threads_per_actor=2))
    assert ray_jobs.reads_in_actors(ds)
    separate = ray.data.read_binary_files(corpus, include_paths=True, num_cpus=0, override_num_blocks=4)
    assert not ray_jobs.reads_in_actors(ray_jobs.classify_dataset(separate, str(orientation_bundle),
                                                                   threads_per_actor=2, whole_blocks=True))
    # the README's way from a user's own program
    own = ray.data.read_binary_files(corpus, include_paths=True, num_cpus=2)
    assert ray_jobs.reads_in_actors(ray_jobs.classify_dataset(own, str(orientation_bundle), threads_per_actor=2,
                                                               whole_blocks=True))
    ray_jobs.run(corpus[:20], str(orientation_bundle), save_path=str(tmp_path / "out"), actors=1)
    shards = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert shards and all(n.startswith("part-") and n.endswith(".parquet") for n in shards)  # no temporary left
    assert len(ray_jobs.read_results(tmp_path / "out")) == 20


def test_default_sizing_gives_the_same_rows(cluster, orientation_bundle, corpus, expected, tmp_path):
    """The default plan here (one actor with both threads: the Classifier's decode pool and parallel batches inside
    the actor) gives exactly `predict`'s rows too."""
    ray_jobs.run(corpus, str(orientation_bundle), save_path=str(tmp_path / "out"))
    # run() settled fsspec's HTTP module once (a module, or None where aiohttp is missing), not once per path
    assert "fsspec.implementations.http" in sys.modules
    got = table(ray_jobs.read_results(tmp_path / "out"))
    assert set(got) == set(expected)
    for path, want in expected.items():
        if "error" not in want:
            assert got[path]["class_ids"] == want["class_ids"] and got[path]["scores"] == want["scores"]


# --- object storage: an S3 server of the test's own (moto) on 127.0.0.1 ---------------------------------------------

S3_KEYS = {"AWS_ACCESS_KEY_ID": "test-key", "AWS_SECRET_ACCESS_KEY": "test-secret", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.fixture(scope="module")
def s3_endpoint():
    server = pytest.importorskip("moto.server", reason="moto[server] is needed (the test extra)")
    moto = server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    assert host == "127.0.0.1"
    yield f"http://{host}:{port}"
    moto.stop()


@pytest.fixture(scope="module")
def s3(s3_endpoint, corpus):
    """The store, with bucket `imgs` holding 2 broken files and 20 images under in/ and in/sub/, plus a text file
    that is no image (skipped, as in a local folder). Returns (boto3 client, {s3 uri: local path})."""
    import boto3

    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                          aws_access_key_id=S3_KEYS["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=S3_KEYS["AWS_SECRET_ACCESS_KEY"])
    for bucket in ("imgs", "out"):
        client.create_bucket(Bucket=bucket)
    uris = {}
    for n, path in enumerate(corpus[8:30]):  # corpus is sorted: broken_8, broken_9, then img_000 ...
        key = f"in/{'sub/' if n % 3 == 0 else ''}{Path(path).name}"
        client.put_object(Bucket="imgs", Key=key, Body=Path(path).read_bytes())
        uris[f"s3://imgs/{key}"] = path
    client.put_object(Bucket="imgs", Key="in/notes.txt", Body=b"not an image")
    return client, uris


def s3_cli(s3_endpoint, cwd, *args, timeout=600):
    """`imgcls-onnx predict --engine ray` with the store's endpoint and keys in its environment only."""
    env = dict(os.environ, RAY_ADDRESS="", AWS_ENDPOINT_URL=s3_endpoint, **S3_KEYS)
    return subprocess.run([sys.executable, "-m", "imgcls_onnx.cli", "predict", "--engine", "ray", *args],
                          capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)


def s3_shards(client, bucket, prefix):
    """{key: rows} of the Parquet objects under prefix, read with boto3 and pyarrow (not with imgcls_onnx.ray)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    listing = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"]: pq.read_table(pa.BufferReader(client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()))
            for o in listing if o["Key"].endswith(".parquet")}


def test_s3_inputs_and_results_with_resume(s3_endpoint, s3, orientation_bundle, expected, tmp_path):
    """Images listed and read from one bucket, results written as Parquet to another, one row per input with
    `predict`'s ids and scores; a prefix that holds nothing is one error line and the job goes on; --resume on the
    bucket redoes only a deleted shard and leaves the others untouched."""
    import pyarrow.parquet as pq

    client, uris = s3
    args = ["-m", str(orientation_bundle), "s3://imgs/in/", "s3://imgs/nope/", "--save-path", "s3://out/res/"]
    proc = s3_cli(s3_endpoint, tmp_path, *args)
    assert proc.returncode == 1, proc.stderr[-3000:]  # the broken files and the empty prefix failed
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    errors = sorted(line for line in proc.stderr.splitlines() if line.startswith("error:"))
    assert errors[-1] == "error: cannot load s3://imgs/nope/: no such object or prefix"
    assert [e.split(":", 2)[1] for e in errors[:-1]] == [" cannot load s3"] * 2  # the two broken files
    assert f"{len(uris) + 1} results in s3://out/res/ (Parquet), 3 failed" in proc.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written to a local folder named after the URI
    shards = s3_shards(client, "out", "res/")
    got = table([r for t in shards.values() for r in t.to_pylist()])
    assert set(got) == {*uris, "s3://imgs/nope/"}  # notes.txt is not an image: not an input
    for uri, path in uris.items():
        want, row = expected[path], got[uri]
        if "error" in want:
            assert row["error"].startswith(f"cannot load {uri}: ") and row["class_ids"] == []
        else:
            assert (row["error"], row["class_ids"], row["scores"]) == (None, want["class_ids"], want["scores"])

    # an unfinished job: one result shard lost; another marked (same rows, one more schema metadata key)
    parts = sorted(k for k in shards if k.startswith("res/part-"))
    assert len(parts) >= 2
    lost, kept = parts[0], parts[1]
    client.delete_object(Bucket="out", Key=lost)
    marked = shards[kept].replace_schema_metadata({**(shards[kept].schema.metadata or {}), b"test": b"untouched"})
    sink = tmp_path.parent / f"{tmp_path.name}-marked.parquet"
    pq.write_table(marked, sink)
    client.put_object(Bucket="out", Key=kept, Body=sink.read_bytes())
    again = s3_cli(s3_endpoint, tmp_path, *args, "--resume")
    assert again.returncode == 1, again.stderr[-3000:]
    assert f"{len(uris) + 1} results in s3://out/res/ (Parquet), 3 failed" in again.stderr, again.stderr[-3000:]
    after = s3_shards(client, "out", "res/")
    assert (after[kept].schema.metadata or {}).get(b"test") == b"untouched"  # not written again
    redone = [r["input_path"] for k, t in after.items() if k not in shards for r in t.to_pylist()]
    assert sorted(redone) == sorted(shards[lost].column("input_path").to_pylist())
    rows = table([r for t in after.values() for r in t.to_pylist()])  # one row per input, none twice
    assert set(rows) == set(got) and all(rows[u]["scores"] == got[u]["scores"] for u in got)


def test_s3_errors_are_one_line_each(s3_endpoint, s3, orientation_bundle, tmp_path):
    """A missing bucket (inputs or results), refused credentials and inputs on two filesystems: exit 2 with one
    line that says which and why, before anything is run or written."""
    import urllib.request

    client, uris = s3
    model = ["-m", str(orientation_bundle)]

    def one_line(*args):
        proc = s3_cli(s3_endpoint, tmp_path, *model, *args, timeout=120)
        assert proc.returncode == 2, proc.stderr[-3000:]
        return proc.stderr.strip().splitlines()

    assert one_line("s3://nobucket/in/", "--save-path", "s3://out/err/") == [
        "error: cannot read s3://nobucket/in/: the bucket 'nobucket' does not exist"]
    assert one_line("s3://imgs/in/", "--save-path", "s3://nobucket/res/") == [
        "error: cannot write results to s3://nobucket/res/: the bucket 'nobucket' does not exist"]
    assert one_line("s3://imgs/in/", next(p for p in uris.values()), "--save-path", "s3://out/err/") == [
        "error: the inputs are on 2 filesystems (local files, s3://): one Ray job reads from one; run a job for each"]

    def auth(count: bytes):  # moto's switch: after `count` more requests, only known IAM keys are let in
        urllib.request.urlopen(urllib.request.Request(f"{s3_endpoint}/moto-api/reset-auth", data=count, method="POST",
                                                      headers={"Content-Type": "application/octet-stream"})).read()

    auth(b"0")
    try:
        refused = one_line("s3://imgs/in/", "--save-path", "s3://out/err/")
    finally:
        auth(b"inf")
    assert len(refused) == 1 and refused[0].startswith("error: cannot read s3://imgs/in/: ")
    assert "ACCESS_DENIED" in refused[0] and "check the credentials" in refused[0]
    assert client.list_objects_v2(Bucket="out", Prefix="err/")["KeyCount"] == 0  # nothing was written
    assert list(tmp_path.iterdir()) == []
