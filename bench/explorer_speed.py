"""Explorer responsiveness with 100k classified complaints in the results store.

    python bench/explorer_speed.py [--complaints 100000] [--repeats 3] [--out bench/results/explorer_speed.json]

Builds a store the way a user does: synthetic demo work orders (``tousu.demo.data``, any
size), a model trained on the bundled 3,000, ``tousu classify --store`` over all of them,
``tousu link --store`` for the surveys.  Then runs each explorer page with Streamlit's
AppTest (the page script, its queries and statistics, in this process; the browser's
drawing is not included) and reports, per page, the median over ``--repeats`` of:

* cold load: caches cleared, as for the first analyst after a restart or a data load;
* a filter change, each from no filter and a new query that no cache answers: one
  category, one province, two provinces, a CSAT range (1–3), an NPS range (0–6), a keyword;
* on the drivers page, switching the score to NPS; on the verbatims page, a
  similar-complaint search (the model already loaded, as after the first search).

Goal: under 2 s each.  Beside them: the export of every complaint to CSV and of the Excel
export's row cap to XLSX, and the obvious alternative to querying, loading the whole table
into pandas and filtering there.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO_ROOT, RESULTS_DIR, machine_info, markdown_table, peak_rss_mb, write_json  # noqa: E402

PAGES = ["overview", "drivers", "topics", "verbatims", "model", "upload"]
FILTERS = ["category", "province", "two_provinces", "csat_range", "nps_range", "keyword"]
PAGE_ACTIONS = {"drivers": "NPS switch", "verbatims": "similar search"}


def build_store(folder: Path, complaints: int, store: Path) -> Path:
    from tousu.demo.data import generate_demo_data
    from tousu.jobs.classify import classify_job
    from tousu.jobs.link import link_job
    from tousu.jobs.train import train_job

    files = generate_demo_data(folder / "data", n_complaints=complaints)
    model_dir, _ = train_job(REPO_ROOT / "data" / "demo" / "complaints.csv", folder / "model",
                             label_col="人工分类")
    classify_job(model_dir, files["complaints"], folder / "classified.csv", store=store)
    link_job(folder / "classified.csv", files["surveys"], folder / "report", charts=False, store=store)
    return store


def timed_run(app, timeout: float = 300) -> float:
    start = time.perf_counter()
    app.run(timeout=timeout)
    seconds = time.perf_counter() - start
    if app.exception:
        raise RuntimeError(f"page raised: {app.exception[0].value}")
    return seconds


def _code(option: str) -> str:
    """Multiselect options are shown as 名称（CODE）; the widget's value is the code."""
    return option.rsplit("（", 1)[-1].rstrip("）") if "（" in option else option


def filter_changes(app) -> list[tuple[str, str, str, object, object]]:
    """(name, sidebar widget kind, key, a value that filters, the value that does not)."""
    categories = app.sidebar.multiselect(key="filter_categories").options
    provinces = app.sidebar.multiselect(key="filter_provinces").options
    changes = [
        ("category", "multiselect", "filter_categories", [_code(categories[0])], []),
        ("province", "multiselect", "filter_provinces", provinces[:1], []),
        ("two_provinces", "multiselect", "filter_provinces", provinces[:2], []),
        ("csat_range", "slider", "filter_csat", (1.0, 3.0), (1.0, 5.0)),
        ("nps_range", "slider", "filter_nps", (0.0, 6.0), (0.0, 10.0)),
        ("keyword", "text_input", "filter_keyword", "话费", ""),
    ]
    assert [name for name, *_ in changes] == FILTERS
    return changes


def page_action(app, page: str) -> float | None:
    """Seconds for what only this page does (:data:`PAGE_ACTIONS`); None for the others."""
    if page == "drivers":
        app.radio(key="drivers_score").set_value("NPS")
        seconds = timed_run(app)
        app.radio(key="drivers_score").set_value("CSAT").run()
        return seconds
    if page == "verbatims":
        app.text_area(key="similar_text").set_value("这个月话费又被多扣了30元，要求退还").run()
        app.button(key="similar_search").click()
        seconds = timed_run(app)
        if not any("相似度" in frame.value.columns for frame in app.dataframe):
            raise RuntimeError("the similar-complaint search showed no result")
        return seconds
    return None


def measure_pages(repeats: int) -> list[dict]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    rows = []
    for page in PAGES:
        times = {name: [] for name in ["cold", *FILTERS, "action"]}
        for _ in range(repeats):
            app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=300)
            app.run()  # the entry page, to get a session to switch pages in
            st.cache_data.clear()  # so the page under test, sidebar included, starts cold
            app.switch_page(f"app_pages/{page}.py")
            times["cold"].append(timed_run(app))
            for name, kind, key, value, cleared in filter_changes(app):
                getattr(app.sidebar, kind)(key=key).set_value(value)
                times[name].append(timed_run(app))
                getattr(app.sidebar, kind)(key=key).set_value(cleared).run()
            action = page_action(app, page)
            if action is not None:
                times["action"].append(action)
        rows.append({"page": page, **{f"{name}_s": round(float(np.median(seconds)), 3) if seconds else None
                                      for name, seconds in times.items()}})
        print(rows[-1], file=sys.stderr)
    return rows


def model_load_seconds(store: Path) -> float:
    """Loading the model and its embedder, which the first similar-complaint search after a
    restart waits for (the page action's median leaves it out)."""
    from tousu.models.pipeline import ComplaintModel
    from tousu.store import ResultsStore

    start = time.perf_counter()
    ComplaintModel.load(ResultsStore(store, hold=False).current_model_version(), cache=False).embed(["话费多扣"])
    return round(time.perf_counter() - start, 2)


def exports(store: Path) -> dict:
    """Seconds to build the verbatims page's downloads with no filter."""
    from tousu.explorer import views
    from tousu.store import Filters, ResultsStore

    results = ResultsStore(store, hold=False)
    start = time.perf_counter()
    table = views.export_table(results, Filters())
    views.csv_bytes(table)
    csv_seconds = time.perf_counter() - start
    start = time.perf_counter()
    views.xlsx_bytes(views.export_table(results, Filters(), views.XLSX_LIMIT))
    return {"csv_rows": len(table), "csv_s": round(csv_seconds, 2),
            "xlsx_rows": min(len(table), views.XLSX_LIMIT), "xlsx_s": round(time.perf_counter() - start, 2)}


def pandas_alternative(store: Path) -> dict:
    """Load every complaint into pandas, then filter and count there."""
    import duckdb

    start = time.perf_counter()
    with duckdb.connect(str(store), read_only=True) as connection:
        table = connection.execute("SELECT * FROM complaints").df()
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    subset = table[table["category"] == table["category"].iloc[0]]
    subset.groupby("topic_label").size()
    return {"load_all_s": round(loaded, 3), "filter_count_s": round(time.perf_counter() - start, 3),
            "rows": len(table)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--complaints", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--store", type=Path,
                        help="use this store; built there first when it does not exist (default: a temporary one)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "explorer_speed.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tousu-explorer-") as scratch:
        start = time.perf_counter()
        store = args.store or Path(scratch) / "tousu.duckdb"
        if not store.exists():
            build_store(Path(scratch), args.complaints, store)
        build_seconds = time.perf_counter() - start
        alternative = pandas_alternative(store)
        model_load = model_load_seconds(store)
        os.environ["TOUSU_STORE"] = str(store)
        pages = measure_pages(args.repeats)
        downloads = exports(store)
        size_mb = store.stat().st_size / 2**20

    results = {"complaints": alternative["rows"], "repeats": args.repeats, "store_mb": round(size_mb, 1),
               "build_seconds": round(build_seconds, 1), "pages": pages, "page_actions": PAGE_ACTIONS,
               "model_load_s": model_load, "exports": downloads, "pandas_alternative": alternative,
               "peak_rss_mb": round(peak_rss_mb()), "machine": machine_info(["streamlit", "duckdb", "pandas"])}
    print(f"store: {alternative['rows']:,} complaints, {size_mb:.0f} MB, built in {build_seconds:.0f} s")
    columns = ["cold", *FILTERS, "action"]
    print(markdown_table(["page", "cold load", "category", "province", "2 provinces", "CSAT 1–3", "NPS 0–6",
                          "keyword", "page action"],
                         [[p["page"], *("—" if p[f"{c}_s"] is None else p[f"{c}_s"] for c in columns[:-1]),
                           "—" if p["action_s"] is None else f"{PAGE_ACTIONS[p['page']]} {p['action_s']}"]
                          for p in pages]))
    worst = max(p[f"{c}_s"] for p in pages for c in columns if p[f"{c}_s"] is not None)
    print(f"worst: {worst:.2f} s (goal < 2 s); model load before the first similar search: {model_load:.1f} s")
    print(f"exports: CSV of {downloads['csv_rows']:,} rows {downloads['csv_s']:.1f} s, "
          f"XLSX of {downloads['xlsx_rows']:,} rows (the cap) {downloads['xlsx_s']:.1f} s")
    print(f"loading all rows into pandas instead: {alternative['load_all_s']:.2f} s before any filtering")
    print(f"written: {write_json(args.out, results)}")


if __name__ == "__main__":
    main()
