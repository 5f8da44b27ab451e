"""``tousu brief``: the 满意度通报 deck of a ``tousu link`` report folder, and the explorer's download."""
from __future__ import annotations

import io
import unicodedata

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE

from tousu.analysis.report import build_report
from tousu.cli import main
from tousu.report import write_report
from tousu.report.brief import BriefError, read_report, write_brief

PHONE = "13812345678"


def _tables():
    """Billing complainants (the 重点改进区) much less satisfied than the rest; a phone number in
    every billing complaint."""
    n = 24
    codes = ["BIL"] * 10 + ["NET"] * 8 + ["QUE"] * 6
    names = {"BIL": "资费计费争议", "NET": "网络质量", "QUE": "营业厅排队等候"}
    complaints = pd.DataFrame({
        "工单号": [f"T{i}" for i in range(n)],
        "内容": [f"第{i}次：话费乱扣，客户电话{PHONE}，要求退费" if code == "BIL" else f"第{i}次：信号差，{names[code]}"
               for i, code in enumerate(codes)],
        "category": codes,
        "category_name": [names[code] for code in codes],
        "受理时间": pd.date_range("2026-01-05", periods=n, freq="2D").strftime("%Y-%m-%d %H:%M:%S"),
    })
    rng = np.random.default_rng(0)
    csat = [1 + int(rng.integers(0, 2)) if code == "BIL" else 3 + int(rng.integers(0, 2)) for code in codes]
    surveys = pd.DataFrame({
        "问卷号": [f"S{i}" for i in range(n + 12)],
        "工单号": [*complaints["工单号"], *[""] * 12],
        "CSAT": [str(v) for v in [*csat, *([5, 4, 5, 5] * 3)]],
        "NPS": [str(v) for v in [*(c * 2 for c in csat), *([10, 9, 10, 8] * 3)]],
    })
    return complaints, surveys


def _png(path, size=(640, 360)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, "white").save(path)


CHANGE = pd.DataFrame({
    "score": ["CSAT", "CSAT", "CSAT", "NPS", "NPS", "NPS"],
    "segment": ["资费计费争议", "网络质量", "(无投诉)"] * 2,
    "n_a": [5, 4, 6, 5, 4, 6], "n_b": [5, 4, 6, 5, 4, 6],
    "share_a": [0.3, 0.3, 0.4] * 2, "share_b": [0.4, 0.2, 0.4] * 2,
    "mean_a": [2.0, 3.5, 4.6, -60.0, -10.0, 60.0], "mean_b": [1.8, 3.6, 4.7, -70.0, 0.0, 65.0],
    "mix_effect": [-0.14, 0.0, 0.0, -8.0, 0.0, 0.0], "rate_effect": [-0.07, 0.03, 0.04, -3.5, 2.5, 2.0],
    "total_effect": [-0.21, 0.03, 0.04, -11.5, 2.5, 2.0],
})


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    """A tousu link report without charts rendered (fast); stand-in PNGs where the charts go, and
    no change attribution (as written by a tousu link without one)."""
    complaints, surveys = _tables()
    folder = tmp_path_factory.mktemp("report")
    write_report(build_report(complaints, surveys, n_boot=50), folder, charts=False)
    for stale in [*folder.glob("change_attribution*.csv"), *folder.glob("charts/change*")]:
        stale.unlink()
    for stem in ("pareto", "quadrant", "drivers_csat", "category_csat", "trends"):
        _png(folder / "charts" / f"{stem}.png")
    complaints.to_csv(folder.parent / "classified.csv", index=False)
    return folder


@pytest.fixture
def with_change(report_dir, tmp_path):
    """The same report with a change attribution table and its waterfall charts."""
    import shutil

    folder = tmp_path / "report"
    shutil.copytree(report_dir, folder)
    CHANGE.to_csv(folder / "change_attribution.csv", index=False, encoding="utf-8-sig")
    summary = pd.read_csv(folder / "summary.csv", encoding="utf-8-sig")
    summary = pd.concat([summary, pd.DataFrame({"measure": ["change_periods"], "value": ["2026-01 → 2026-02"]})])
    summary.to_csv(folder / "summary.csv", index=False, encoding="utf-8-sig")
    _png(folder / "charts" / "change_csat.png", (900, 400))
    _png(folder / "charts" / "waterfall_nps.png", (900, 400))
    return folder


def _titles(deck) -> list[str]:
    return [slide.shapes.title.text_frame.text for slide in deck.slides]


def _slide(deck, title_start: str):
    found = [slide for slide in deck.slides if slide.shapes.title.text_frame.text.startswith(title_start)]
    assert found, (title_start, _titles(deck))
    return found[0]


def _texts(slide) -> list[str]:
    """Every text of a slide: text boxes and every table cell."""
    found = []
    for shape in slide.shapes:
        if shape.has_text_frame:
            found.append(shape.text_frame.text)
        if shape.has_table:
            found += [cell.text for row in shape.table.rows for cell in row.cells]
    return found


def _tables_of(slide) -> list[list[list[str]]]:
    return [[[cell.text for cell in row.cells] for row in shape.table.rows] for shape in slide.shapes if shape.has_table]


def _pictures(slide) -> int:
    return sum(shape.shape_type == MSO_SHAPE_TYPE.PICTURE for shape in slide.shapes)


def test_the_deck_has_every_slide_with_pictures_tables_and_text(report_dir, tmp_path):
    out = tmp_path / "brief.pptx"
    titles = write_brief(read_report(report_dir), out)
    deck = Presentation(str(out))
    assert _titles(deck) == titles
    assert titles[:2] == ["满意度通报", "整体满意度（CSAT / NPS）"]
    for start in ("变化归因", "投诉排列图", "重要性 × 满意度矩阵", "CSAT 驱动因素", "增长预警", "处理时效 KPI",
                  "重点改进区：资费计费争议"):
        _slide(deck, start)
    assert "统计周期：2026-01-05 至 " in "".join(_texts(deck.slides[0]))

    overall = _tables_of(_slide(deck, "整体满意度"))[0]
    assert overall[0][:4] == ["指标", "全部受访客户", "投诉客户", "无投诉客户（基线）"]
    assert [row[0] for row in overall[1:]] == ["CSAT", "NPS"]
    surveys = _tables()[1]
    assert float(overall[1][1]) == pytest.approx(surveys["CSAT"].astype(float).mean(), abs=0.005)
    assert "没有变化归因" in "".join(_texts(_slide(deck, "变化归因")))  # an older report: says so

    pareto = _slide(deck, "投诉排列图")
    assert _pictures(pareto) == 1 and _tables_of(pareto)[0][0] == ["分类", "类别数", "投诉量", "占比"]
    quadrant = _slide(deck, "重要性 × 满意度矩阵")
    assert _pictures(quadrant) == 1 and "重点改进区：资费计费争议" in "".join(_texts(quadrant))
    drivers = _tables_of(_slide(deck, "CSAT 驱动因素"))[0]
    assert drivers[0][3].startswith("整体提升潜力") and drivers[1][0] == "资费计费争议"
    assert drivers[1][3].startswith("+") and "[" in drivers[1][3]  # impact with its interval
    kpis = _tables_of(_slide(deck, "处理时效 KPI"))[0]
    assert kpis[0][2:4] == ["24小时响应率", "48小时办结率"] and kpis[1][0] == "全部"
    # Every complaint here has a survey, so the report keeps none to quote: the slide says how to get them.
    assert "--complaints" in "".join(_texts(_slide(deck, "重点改进区：资费计费争议")))
    write_brief(read_report(report_dir, complaints=_tables()[0]), out)
    examples = "".join(_texts(_slide(Presentation(str(out)), "重点改进区：资费计费争议")))
    assert examples.count("话费乱扣") == 3  # three example complaints


def test_no_personal_data_reaches_a_slide(report_dir, tmp_path):
    """The examples come unmasked here (the classified table, and complaints planted among the
    report's own): the deck masks every text it puts on a slide."""
    complaints = _tables()[0]
    from_classified = read_report(report_dir, complaints=complaints)
    planted = read_report(report_dir)
    planted.examples = pd.concat([planted.examples, complaints[complaints["category"] == "BIL"]], ignore_index=True)
    for name, source in (("classified", from_classified), ("planted", planted)):
        write_brief(source, tmp_path / f"{name}.pptx")
        deck = Presentation(str(tmp_path / f"{name}.pptx"))
        shown = "\n".join(unicodedata.normalize("NFKC", text) for slide in deck.slides for text in _texts(slide))
        assert "话费乱扣" in shown, name
        assert PHONE not in shown and "<PHONE>" in shown, name


def test_a_change_attribution_gets_its_waterfalls_and_table(with_change, tmp_path):
    titles = write_brief(read_report(with_change), tmp_path / "brief.pptx")
    deck = Presentation(str(tmp_path / "brief.pptx"))
    waterfalls = [slide for slide in deck.slides if slide.shapes.title.text_frame.text.startswith("变化归因（瀑布图）")]
    assert [_pictures(slide) for slide in waterfalls] == [1, 1]
    assert {"变化归因（瀑布图）：CSAT", "变化归因（瀑布图）：NPS"} <= set(titles)
    table = _tables_of(_slide(deck, "变化归因明细"))[0]
    assert table[0][:4] == ["指标", "细分群体", "2026-01样本", "2026-02样本"]
    assert table[1][:2] == ["CSAT", "资费计费争议"] and table[1][-1] == "-0.210"
    overall = _tables_of(_slide(deck, "整体满意度"))[0]
    assert overall[0][4:] == ["2026-01", "2026-02", "变化"]
    # Σ share × mean per period, as the waterfall draws it
    assert overall[1][4:] == ["3.49", "3.32", "-0.17"]


def test_a_folder_that_is_no_report_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "pareto.csv").write_text("group,count\n", encoding="utf-8")
    with pytest.raises(BriefError, match="not a tousu link report: no summary.csv, category_scores.csv, kpis.csv"):
        read_report(tmp_path)
    assert main(["brief", str(tmp_path), "-o", str(tmp_path / "b.pptx")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("tousu: error: ") and "not a tousu link report" in error and "summary.csv" in error
    assert not (tmp_path / "b.pptx").exists()
    assert main(["brief", str(tmp_path / "missing"), "-o", str(tmp_path / "b.pptx")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_the_command_writes_the_deck(report_dir, tmp_path, capsys):
    out = tmp_path / "deck.pptx"
    assert main(["brief", str(report_dir), "-o", str(out), "--complaints", str(report_dir.parent / "classified.csv"),
                 "--period", "2026年1月"]) == 0
    printed = capsys.readouterr().out
    assert f"brief: {out}" in printed and "重点改进区：资费计费争议" in printed
    assert "统计周期：2026年1月" in "".join(_texts(Presentation(io.BytesIO(out.read_bytes())).slides[0]))
    assert main(["brief", str(report_dir), "-o", str(tmp_path / "deck.ppt")]) == 2
    assert ".pptx" in capsys.readouterr().err


@pytest.mark.slow  # draws the charts (vl-convert)
def test_the_explorer_builds_the_same_deck_for_its_filters(tmp_path):
    from tousu.explorer.brief import brief_file
    from tousu.store import Filters, ResultsStore

    complaints, surveys = _tables()
    complaints["省份"] = np.where(np.arange(len(complaints)) % 2 == 0, "广东", "江苏")
    with ResultsStore(tmp_path / "results.duckdb") as store:
        store.upsert_complaints(complaints, text_column="内容", id_column="工单号")
        store.upsert_surveys(surveys, key_column="工单号")
    store = ResultsStore(tmp_path / "results.duckdb", hold=False)
    deck = Presentation(io.BytesIO(brief_file(store, Filters(provinces=("广东",)))))
    titles = _titles(deck)
    assert titles[0] == "满意度通报" and "重点改进区：资费计费争议（典型投诉）" in titles
    assert _pictures(_slide(deck, "投诉排列图")) == 1 and _pictures(_slide(deck, "重要性 × 满意度矩阵")) == 1
    assert "投诉 12 件" in "".join(_texts(deck.slides[0]))  # the filtered complaints only
    pareto = _tables_of(_slide(deck, "投诉排列图"))[0]
    assert sum(int(row[2]) for row in pareto[1:]) == 12
    examples = "\n".join(_texts(_slide(deck, "重点改进区：资费计费争议")))
    assert examples.count("话费乱扣") == 3 and PHONE not in examples
