"""Archive members read under Windows' rules as well as POSIX's (store/archive.py): real tar archives whose member names
are harmless-looking file names on Linux but on Windows name another drive, climb out with '\\', open a device or
change name. Each is refused naming the member, and leaves nothing behind. Nothing here runs Windows:
``PureWindowsPath`` / ``ntpath`` show, on this machine, what Windows would make of each name."""
from __future__ import annotations

import ntpath
import os
from pathlib import PurePosixPath, PureWindowsPath

import pytest
from helpers.official_archive import tar_bytes

from imgcls_onnx.runtime.fsutil import WINDOWS_RESERVED, windows_safe_name
from imgcls_onnx.store.archive import install_archive, safe_extract
from imgcls_onnx.store.errors import ArchiveError

BASE = "E:\\me\\.imgcls_onnx\\models\\archives\\.extract-1"  # a cache on drive E:

ESCAPES = [  # (member, what the refusal says): on Windows these leave the extraction folder
    ("tiny/d:evil.onnx", "':'"),  # a drive letter inside the name: Windows writes D:evil.onnx
    ("tiny\\..\\..\\evil.onnx", "'..'"),  # one name with no '/' to POSIX, two levels up to Windows
    ("tiny/x\\..\\..\\..\\evil", "'..'"),
    ("C:evil.onnx", "absolute path"),  # relative to the current folder of drive C:
    ("\\evil.onnx", "absolute path"),
]
HAZARDS = [  # (member, what the refusal says): on Windows a device or another file than the name says
    ("tiny/CON", "device"),
    ("tiny/nul.txt", "device"),
    ("tiny/Aux.tar.gz", "device"),
    ("tiny/PRN", "device"),
    ("tiny/COM1", "device"),
    ("tiny/lpt9.onnx", "device"),
    ("tiny/CON /inference.onnx", "device"),
    ("tiny/evil.", "ends with a dot or a space"),
    ("tiny/evil ", "ends with a dot or a space"),
    ("tiny/inference.onnx:hidden", "':'"),  # an NTFS alternate data stream
    ("tiny/a<b>.onnx", "forbids"),
    ("tiny/what?.yml", "forbids"),
]


def _windows_target(member: str) -> str:
    """Where Windows would put ``member`` extracted under BASE."""
    return ntpath.normpath(ntpath.join(BASE, *member.split("/")))


def _windows_reserved(part: str) -> bool:
    if hasattr(ntpath, "isreserved"):  # Python 3.13+
        return ntpath.isreserved(part)
    return PureWindowsPath(part).is_reserved()


@pytest.mark.parametrize("member, needle", ESCAPES)
def test_the_escapes_are_escapes_on_windows(member, needle):
    """The stand-in: every ESCAPES member stays inside under POSIX's reading and leaves under Windows'."""
    assert not PurePosixPath(member).is_absolute() and ".." not in PurePosixPath(member).parts
    assert not PureWindowsPath(_windows_target(member)).is_relative_to(BASE), _windows_target(member)


@pytest.mark.parametrize("member, needle", HAZARDS)
def test_the_hazards_are_hazards_on_windows(member, needle):
    last = [p for p in member.split("/") if p]
    bad = [p for p in last if _windows_reserved(p) or p != p.rstrip(". ") or set(p) & set('<>:"|?*')]
    assert bad, f"{member!r} is a plain name on Windows too"


@pytest.mark.parametrize("member, needle", ESCAPES + HAZARDS)
def test_safe_extract_refuses_naming_the_member(tmp_path, member, needle):
    archive = tmp_path / "a.tar"
    archive.write_bytes(tar_bytes([("tiny/", "dir", None), ("tiny/ok.txt", "file", b"fine"),
                                   (member, "file", b"evil")]))
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(ArchiveError) as e:
        safe_extract(archive, dest)
    assert repr(member) in str(e.value) and needle in str(e.value), str(e.value)
    assert not any("evil" in name for _, _, names in os.walk(tmp_path) for name in names)


@pytest.mark.parametrize("member, needle", ESCAPES + HAZARDS)
def test_a_bundle_archive_with_such_a_member_leaves_nothing(tmp_path, monkeypatch, member, needle):
    """predict --model FILE.tar.gz: refused, and the cache is as it was (no extraction folder, no archives folder)."""
    home = tmp_path / "home"
    monkeypatch.setenv("IMGCLS_ONNX_HOME", str(home))
    archive = tmp_path / "tiny.tar.gz"
    archive.write_bytes(tar_bytes([("tiny/", "dir", None), ("tiny/inference.yml", "file", b"x: 1\n"),
                                   (member, "file", b"evil")], gz=True))
    with pytest.raises(ArchiveError, match="is refused|absolute path|'..'") as e:
        install_archive(archive)
    assert repr(member) in str(e.value)
    assert [p for p in home.rglob("*") if p != home / "models"] == [], "nothing may be left in the cache"


def test_plain_names_still_pass(tmp_path):
    """What real bundles and PaddleX archives hold is untouched: dots inside names, CONFIG, console, COM10."""
    names = ["m/inference.onnx", "m/inference.yml", "m/.hidden", "m/v1.2.3.txt", "m/CONFIG", "m/console.txt",
             "m/COM10", "m/NULL", "./m/a b.txt", "m\\sub\\c.txt"]
    archive = tmp_path / "ok.tar"
    archive.write_bytes(tar_bytes([(n, "file", b"x") for n in names]))
    (tmp_path / "d").mkdir()
    got = safe_extract(archive, tmp_path / "d")
    assert sorted(got) == sorted(n.replace("\\", "/").removeprefix("./") for n in names)


@pytest.mark.parametrize("name, safe", [
    ("img.php_id=3&s=large", "img.php_id=3&s=large"),
    ("a?b*c:d|e\"f<g>h", "a_b_c_d_e_f_g_h"),
    ("x\\y/z", "x_y_z"),
    ("name. . ", "name"),
    ("CON", "_CON"),
    ("nul.tar", "_nul.tar"),
    ("...", "fallback"),
    ("", "fallback"),
    ("tab\there", "tab_here"),
])
def test_windows_safe_name(name, safe):
    got = windows_safe_name(name, "fallback")
    assert got == safe
    assert not _windows_reserved(got) and got == got.rstrip(". ") and not set(got) & set('<>:"/\\|?*')
    assert got.split(".")[0].upper() not in WINDOWS_RESERVED
