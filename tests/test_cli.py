import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tousu.cli import main
from tousu.nlp.paths import data_dir


def sample_path():
    return data_dir() / "sample" / "complaints_sample.csv"


def test_clean_writes_masked_output_and_quarantine(tmp_path, capsys):
    output = tmp_path / "clean.csv"
    assert main(["clean", str(sample_path()), "-o", str(output)]) == 0
    printed = capsys.readouterr().out
    assert "rows read: 20  kept: 19  quarantined: 1" in printed
    cleaned = pd.read_csv(output, dtype=str)
    assert len(cleaned) == 19 and list(cleaned.columns) == ["工单号", "受理时间", "渠道", "内容"]
    joined = "".join(cleaned["内容"])
    assert "13812345678" not in joined and "<PHONE>" in joined and "<ID>" in joined and "<EMAIL>" in joined
    assert "客戶" not in joined  # 繁体 converted
    quarantine = pd.read_csv(tmp_path / "clean.quarantine.csv", dtype=str)
    assert quarantine[["工单号", "source_row", "reason"]].values.tolist() == [["WO0016", "17", "empty text"]]


def test_quarantined_text_is_masked_too(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "好"}\n{"text": "电话13812345678", broken\n', encoding="utf-8")
    assert main(["clean", str(source), "-o", str(tmp_path / "out.jsonl")]) == 0
    assert "13812345678" not in (tmp_path / "out.quarantine.jsonl").read_text(encoding="utf-8")


def test_bad_input_exits_2_with_a_message_naming_the_file(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    assert main(["clean", str(bad), "-o", str(tmp_path / "o.csv")]) == 2
    assert f"tousu: error: {bad}" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


def test_embed_writes_matrix_and_ids(tmp_path, capsys):
    output = tmp_path / "vectors.npy"
    assert main(["embed", str(sample_path()), "-o", str(output), "--embedder", "tfidf", "--center"]) == 0
    vectors = np.load(output)
    ids = (tmp_path / "vectors.ids.txt").read_text(encoding="utf-8").split()
    assert vectors.shape[0] == len(ids) == 19 and ids[0] == "WO0001"
    assert vectors.dtype == np.float32
    assert "quarantined: 1" in capsys.readouterr().out


def test_embed_rejects_a_non_npy_output(tmp_path, capsys):
    assert main(["embed", str(sample_path()), "-o", str(tmp_path / "v.csv")]) == 2
    assert "must be a .npy file" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_trains_classifies_and_links_offline(tmp_path):
    """The README's main command, on a small generated set, with the network cut where Linux allows."""
    command = [sys.executable, "-m", "tousu.cli", "demo", "--out", str(tmp_path), "--complaints", "400",
               "--no-explore"]
    if sys.platform == "linux" and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
        command = ["unshare", "-n", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "CSAT drivers" in done.stdout and "重点改进区" in done.stdout
    classified = pd.read_csv(tmp_path / "classified.csv", dtype=str)
    assert len(classified) == 400 and classified["category"].notna().all()
    assert not classified["内容"].str.contains(r"1[3-9]\d{9}").any()  # phone numbers masked
    for name in ("report.xlsx", "drivers_csat.csv", "pareto.csv", "charts/quadrant.png"):
        assert (tmp_path / "report" / name).is_file()
    assert (tmp_path / "tousu.duckdb").is_file() and "tousu explore --store" in done.stdout
