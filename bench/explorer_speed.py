"""Explorer responsiveness with 100k classified complaints in the results store.

    python bench/explorer_speed.py [--complaints 100000] [--repeats 3] [--out bench/results/explorer_speed.json]

Builds a store the way a user does: synthetic demo work orders (``tousu.demo_data``, any
size), a model trained on the bundled 3,000, ``tousu classify --store`` over all of them,
``tousu link --store`` for the surveys.  Then runs each explorer page with Streamlit's
AppTest (the page script, its queries and statistics, in this process; the browser's
drawing is not included) and reports, per page:

* cold load: caches cleared, as for the first analyst after a restart or a data load;
* filter change: a category picked in the sidebar, then a province added, each a new
  query that no cache answers.

Goal: under 2 s each.  The obvious alternative, loading the whole table into pandas
and filtering there, is timed in the same run for comparison.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO_ROOT, RESULTS_DIR, machine_info, markdown_table, peak_rss_mb, write_json  # noqa: E402

PAGES = ["overview", "drivers", "topics", "verbatims", "model", "upload"]


def build_store(folder: Path, complaints: int, store: Path) -> Path:
    from models.jobs import classify_job, train_job
    from tousu.demo_data import generate_demo_data
    from tousu.report import link_job

    files = generate_demo_data(folder / "data", n_complaints=complaints)
    model_dir, _ = train_job(REPO_ROOT / "data" / "demo" / "complaints.csv", folder / "model",
                             label_col="人工分类")
    classify_job(model_dir, files["complaints"], folder / "classified.csv", store=store)
    link_job(folder / "classified.csv", files["surveys"], folder / "report", charts=False, store=store)
    return store


def timed_run(app, timeout: float = 120) -> float:
    start = time.perf_counter()
    app.run(timeout=timeout)
    seconds = time.perf_counter() - start
    if app.exception:
        raise RuntimeError(f"page raised: {app.exception[0].value}")
    return seconds


def measure_pages(repeats: int) -> list[dict]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    rows = []
    for page in PAGES:
        cold, category, province = [], [], []
        for _ in range(repeats):
            app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
            app.run()  # the entry page, to get a session to switch pages in
            st.cache_data.clear()  # so the page under test, sidebar included, starts cold
            app.switch_page(f"app_pages/{page}.py")
            cold.append(timed_run(app))
            options = app.sidebar.multiselect(key="filter_categories").options
            app.sidebar.multiselect(key="filter_categories").set_value([_code(options[0])])
            category.append(timed_run(app))
            provinces = app.sidebar.multiselect(key="filter_provinces").options
            app.sidebar.multiselect(key="filter_provinces").set_value([provinces[0]])
            province.append(timed_run(app))
        rows.append({"page": page, "cold_load_s": round(float(np.median(cold)), 3),
                     "category_filter_s": round(float(np.median(category)), 3),
                     "province_filter_s": round(float(np.median(province)), 3)})
        print(rows[-1], file=sys.stderr)
    return rows


def _code(option: str) -> str:
    """Multiselect options are shown as 名称（CODE）; the widget's value is the code."""
    return option.rsplit("（", 1)[-1].rstrip("）") if "（" in option else option


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
        alternative = pandas_alternative(store)  # first: the explorer keeps the file open afterwards
        os.environ["TOUSU_STORE"] = str(store)
        pages = measure_pages(args.repeats)
        size_mb = store.stat().st_size / 2**20

    results = {"complaints": alternative["rows"], "repeats": args.repeats, "store_mb": round(size_mb, 1),
               "build_seconds": round(build_seconds, 1), "pages": pages, "pandas_alternative": alternative,
               "peak_rss_mb": round(peak_rss_mb()), "machine": machine_info(["streamlit", "duckdb", "pandas"])}
    print(f"store: {alternative['rows']:,} complaints, {size_mb:.0f} MB, built in {build_seconds:.0f} s")
    print(markdown_table(["page", "cold load s", "category filter s", "province filter s"],
                         [[p["page"], p["cold_load_s"], p["category_filter_s"], p["province_filter_s"]]
                          for p in pages]))
    worst = max(max(p["cold_load_s"], p["category_filter_s"], p["province_filter_s"]) for p in pages)
    print(f"worst: {worst:.2f} s (goal < 2 s); loading all rows into pandas instead: "
          f"{alternative['load_all_s']:.2f} s before any filtering")
    print(f"written: {write_json(args.out, results)}")


if __name__ == "__main__":
    main()
