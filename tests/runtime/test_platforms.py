"""Windows and macOS, as far as Linux can prove it (docs/platforms.md): each test runs here with a stand-in for what
differs there. A stdout in the ANSI code page (``PYTHONIOENCODING=cp1252`` / ``gbk``), a locale whose encoding is
not UTF-8 (``LC_ALL=C`` without coercion: ASCII), file names Windows forbids, a TLS context with no system CA store
(python.org's macOS builds), label and list files with a UTF-8 BOM (Notepad, Excel)."""
from __future__ import annotations

import ast
import io
import json
import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import ROOT, structured_image, tiny_onnx_model, write_jpeg
from helpers.loopback import LoopbackServer

from imgcls_onnx.cli import cli, utf8_stream
from imgcls_onnx.runtime import fetch, net
from imgcls_onnx.runtime.bundle import BundleConfig, load_bundle, read_label_file, write_bundle
from imgcls_onnx.runtime.transforms import PreprocessSpec

LABELS = ("猫", "狗", "고양이", "倒置180度", "café")  # "고양이" is not in gbk, "猫" not in cp1252
BOM = "\ufeff"


@pytest.fixture(scope="module")
def cjk_bundle(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("cjk")
    onnx_path = tiny_onnx_model(d / "m.onnx", num_classes=len(LABELS))
    config = BundleConfig("猫狗", PreprocessSpec.imagenet(resize_short=36, crop=32), 5, LABELS)
    return write_bundle(d / "bundle", onnx_path, config)


def _child_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "PYTHONIOENCODING", "PYTHONUTF8"))}
    return dict(env, PYTHONWARNINGS="ignore", **extra)


@pytest.mark.parametrize("stand_in", ["cp1252", "gbk", "ascii-locale"])
def test_predict_redirected_writes_utf8_json_lines(tmp_path, cjk_bundle, stand_in):
    """`imgcls-onnx predict ... > out.jsonl` on Windows: stdout is the ANSI code page there. The JSON lines must be
    UTF-8 with "\\n" line ends, CJK labels and file names included, and the error line on stderr too."""
    if stand_in == "ascii-locale":  # a non-UTF-8 locale: file names would be ASCII too, so ASCII ones here
        env = _child_env(LC_ALL="C", PYTHONCOERCECLOCALE="0", PYTHONUTF8="0")
        good, bad = tmp_path / "good.jpg", tmp_path / "bad.jpg"
    else:
        env = _child_env(PYTHONIOENCODING=stand_in)
        good, bad = tmp_path / "图片 사진.jpg", tmp_path / "坏.jpg"
    write_jpeg(good, structured_image(48, 64, seed=3))
    bad.write_bytes(b"not an image")
    out, err = tmp_path / "out.jsonl", tmp_path / "err.txt"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        code = subprocess.run([sys.executable, "-m", "imgcls_onnx.cli", "predict", "--model", str(cjk_bundle),
                               "--device", "cpu", "--topk", "5", str(good), str(bad)],
                              stdout=stdout, stderr=stderr, env=env, cwd=ROOT, timeout=300).returncode
    data, errors = out.read_bytes(), err.read_bytes().decode("utf-8")  # strict: must be UTF-8
    assert code == 1, errors  # one input failed
    assert b"\r" not in data and data.endswith(b"\n")
    rows = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    assert [r["input_path"] for r in rows] == [str(good), str(bad)]
    assert sorted(rows[0]["label_names"]) == sorted(LABELS) and "error" in rows[1]
    assert f"error: {bad}" in errors or repr(str(bad)) in errors or str(bad) in errors, errors


def test_utf8_stream_on_a_windows_like_stdout():
    """The reconfiguration itself, on a stream like Windows' redirected stdout: cp1252 and "\\r\\n" line ends."""
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="cp1252", newline="\r\n")
    utf8_stream(stream)
    stream.write('{"label_names": ["猫", "고양이"]}\n')
    stream.flush()
    assert raw.getvalue() == '{"label_names": ["猫", "고양이"]}\n'.encode("utf-8")
    assert stream.errors == "strict"
    utf8_stream(object())  # something that is not a text stream: left alone


def test_save_names_from_urls_are_valid_on_windows(tmp_path, monkeypatch):
    """--save-path with URL inputs: names from the URL's path and query, no character Windows forbids, one file per
    query, and --resume finds them again."""
    monkeypatch.setenv(net.ENV_ALLOW_PRIVATE, "1")  # the images come from a loopback server
    model = tiny_onnx_model(tmp_path / "m.onnx", num_classes=3)
    bundle = write_bundle(tmp_path / "b", model, BundleConfig("t", PreprocessSpec.imagenet(36, 32), 3,
                                                               ("a", "b", "c")))
    img = write_jpeg(tmp_path / "x.jpg", structured_image(40, 40, seed=1)).read_bytes()
    with LoopbackServer() as server:
        server.add("/img.php", img)
        server.add("/photo.jpg", img)
        server.add("/CON", img)
        urls = [server.base + "/img.php?id=3&size=a:b", server.base + "/img.php?id=4|x", server.base + "/photo.jpg",
                server.base + "/CON?x=<y>", server.base + "/photo.jpg?v=%22q%22"]
        out = tmp_path / "out"
        r = CliRunner().invoke(cli, ["predict", "-m", str(bundle), "--device", "cpu", "--save-path", str(out),
                                     "--save-img", *urls])
        assert r.exit_code == 0, r.output
        names = sorted(p.name for p in out.iterdir())
        assert names == sorted(["img_id=3&size=a_b_res.json", "img_id=3&size=a_b_res.png",
                                "img_id=4_x_res.json", "img_id=4_x_res.png", "photo_res.json", "photo_res.jpg",
                                "CON_x=_y__res.json", "CON_x=_y__res.png",
                                "photo_v=_q__res.json", "photo_v=_q__res.jpg"]), names
        for name in names:
            assert not set(name) & set('<>:"/\\|?*') and name == name.rstrip(". ")
        again = CliRunner().invoke(cli, ["predict", "-m", str(bundle), "--device", "cpu", "--save-path", str(out),
                                         "--resume", *urls])
        assert again.exit_code == 0 and f"skipped {len(urls)} inputs" in again.stderr, again.output


def _bare_default_context(purpose=ssl.Purpose.SERVER_AUTH, *, cafile=None, capath=None, cadata=None):
    """ssl.create_default_context on a Python with no system CA store (python.org's macOS build before "Install
    Certificates.command"): only what it is given explicitly."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile or capath or cadata:
        ctx.load_verify_locations(cafile, capath, cadata)
    return ctx


def test_https_image_fetches_trust_certifi_where_the_system_has_no_ca_store(monkeypatch):
    import certifi  # requests, a runtime dependency, brings it
    monkeypatch.setattr(ssl, "create_default_context", _bare_default_context)
    ctx = fetch.tls_context()
    assert ctx.cert_store_stats()["x509_ca"] > 50, "certifi's roots must be loaded"
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    conn = fetch._PinnedHTTPSConnection("example.org", "127.0.0.1", 1.0, port=443, timeout=1.0)  # never connected
    assert conn._context.cert_store_stats()["x509_ca"] == ctx.cert_store_stats()["x509_ca"]
    assert os.path.isfile(certifi.where())


@pytest.mark.parametrize("text", ["0 猫\n1 狗\n2 café\n", "猫\n狗\ncafé\n", "0 猫\r\n1 狗\r\n2 café\r\n"])
def test_a_bom_label_file_gives_the_same_labels(tmp_path, text):
    """Label files from Windows tools start with a BOM: without care the first label becomes '\\ufeff0 猫' and, in
    'index name' files, every line is read as a name, so every class is mislabelled silently."""
    from imgcls_onnx.converter.pipeline import ConvertRequest, _config_from_options

    plain, bom = tmp_path / "plain.txt", tmp_path / "bom.txt"
    plain.write_bytes(text.encode("utf-8"))
    bom.write_bytes((BOM + text).encode("utf-8"))
    assert read_label_file(bom) == read_label_file(plain) == ("猫", "狗", "café")
    # convert --labels FILE (the converter's own step, no Paddle needed for it)
    configs = [_config_from_options(ConvertRequest(preset="PP-LCNet_x1_0", labels_file=str(p)), "m", 3)
               for p in (plain, bom)]
    assert configs[0].label_list == configs[1].label_list == ("猫", "狗", "café")


def test_a_bundle_with_bom_files_loads_as_without(tmp_path, cjk_bundle):
    """inference.yml (label_list) and manifest.json saved again by a Windows editor, with a BOM."""
    import shutil

    copy = tmp_path / "bom_bundle"
    shutil.copytree(cjk_bundle, copy)
    for name in ("inference.yml", "manifest.json"):
        path = copy / name
        if path.is_file():
            path.write_bytes(BOM.encode("utf-8") + path.read_bytes())
    a, b = load_bundle(cjk_bundle), load_bundle(copy)
    assert b.config.label_list == a.config.label_list == LABELS
    assert b.info == a.info


def test_export_web_writes_utf8_under_a_non_utf8_locale(tmp_path, cjk_bundle):
    """export-web with CJK labels under an ASCII locale (LC_ALL=C, no coercion), where Chinese Windows has gbk:
    model.json and index.html are UTF-8; no open() in the path relies on the locale (EncodingWarning is an error)."""
    env = _child_env(LC_ALL="C", PYTHONCOERCECLOCALE="0", PYTHONUTF8="0")
    code = ("import importlib.util, sys, warnings\n"
            "for m in ('cv2', 'onnxruntime', 'PIL.Image', 'yaml'):  # third-party imports: their own business\n"
            "    if importlib.util.find_spec(m.split('.')[0]): __import__(m)\n"
            "warnings.simplefilter('error', EncodingWarning)\n"
            "from imgcls_onnx.web_export import export_web\n"
            "export_web(sys.argv[1], sys.argv[2], ort='cdn', jpeg='none')\n")
    proc = subprocess.run([sys.executable, "-X", "warn_default_encoding", "-c", code, str(cjk_bundle),
                           str(tmp_path / "site")], capture_output=True, env=env, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")[-3000:]
    config = json.loads((tmp_path / "site" / "model" / "model.json").read_bytes().decode("utf-8"))
    assert "고양이" in json.dumps(config, ensure_ascii=False)
    assert "猫狗" in (tmp_path / "site" / "index.html").read_bytes().decode("utf-8")


TEXT_IO = {"read_text", "write_text"}
BINARY_OPENERS = {"tarfile", "Image", "os", "gzip", "bz2", "lzma", "zipfile", "tf", "socket", "urllib"}


def _modes(node) -> list | None:
    """The mode strings an open() mode argument can take (both arms of ``"r+b" if done else "wb"``), or None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        a, b = _modes(node.body), _modes(node.orelse)
        return a + b if a is not None and b is not None else None
    return None


def _calls_without_encoding(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or "encoding" in {k.arg for k in node.keywords}:
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in TEXT_IO:
            yield node.lineno, func.attr
            continue
        is_builtin_open = isinstance(func, ast.Name) and func.id == "open"
        is_path_open = (isinstance(func, ast.Attribute) and func.attr == "open"
                        and not (isinstance(func.value, ast.Name) and func.value.id in BINARY_OPENERS))
        if not (is_builtin_open or is_path_open):
            continue
        mode_args = (node.args[1:2] if is_builtin_open else node.args[:1]) + \
            [k.value for k in node.keywords if k.arg == "mode"]
        modes = _modes(mode_args[0]) if mode_args else ["r"]
        if modes is None or any("b" not in m for m in modes):
            yield node.lineno, "open"


def test_no_text_file_is_opened_in_the_locale_encoding():
    """Every text open(), read_text() and write_text() in the package names its encoding: Windows' locale encoding
    is cp1252, gbk, cp949..., where a CJK label or template would fail or be mis-read."""
    found = [f"{p.relative_to(ROOT)}:{line}: {what}() without encoding="
             for p in sorted((ROOT / "imgcls_onnx").rglob("*.py")) for line, what in _calls_without_encoding(p)]
    assert found == []
