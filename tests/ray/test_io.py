"""Parquet shards without a cluster: the schema is the result row's (runtime.results), rows written come back, and
resume drops a cut shard so its rows are redone."""
from __future__ import annotations

import pytest

pa = pytest.importorskip("pyarrow", reason="the ray extra brings pyarrow")

from imgcls_onnx.ray.io import Output, done_inputs, read_results, row_schema  # noqa: E402
from imgcls_onnx.runtime.results import ROW_COLUMNS, Prediction, error_row  # noqa: E402


def test_the_schema_is_the_result_rows():
    """Written by hand: Parquet's columns and types for runtime.results' ROW_TYPES (float64 keeps scores exact)."""
    assert row_schema() == pa.schema([("input_path", pa.string()), ("class_ids", pa.list_(pa.int64())),
                                      ("scores", pa.list_(pa.float64())), ("label_names", pa.list_(pa.string())),
                                      ("error", pa.string())])
    assert tuple(row_schema().names) == ROW_COLUMNS


def test_rows_come_back_and_a_cut_shard_is_redone(tmp_path):
    good = Prediction(0, "a.jpg", [1, 3], [0.64391, 0.23688], ["dog", "fox"]).to_row()
    bad = error_row("b.jpg", "truncated")
    output = Output(tmp_path / "out")
    output.prepare()
    output.write(pa.Table.from_pylist([good], schema=row_schema()))
    output.write_rows([bad])
    assert sorted(read_results(tmp_path / "out"), key=lambda r: r["input_path"]) == [good, bad]
    (tmp_path / "out" / "part-cut.parquet").write_bytes(b"PAR1 cut short")  # a shard a crash cut
    (tmp_path / "out" / ".part-x.parquet.1234.tmp").write_bytes(b"")  # a temporary left by a crash
    assert done_inputs(tmp_path / "out") == {"a.jpg", "b.jpg"}
    names = sorted(p.name for p in (tmp_path / "out").iterdir())  # both removed, the two whole shards kept
    assert len(names) == 2 and names[0].startswith("part-") and names[1].startswith("unreadable-"), names
