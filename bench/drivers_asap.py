"""Does the driver model find what is known to drag ratings down?  ASAP restaurant reviews.

    python bench/drivers_asap.py [--out bench/results/drivers_asap.json]

ASAP (Meituan-Dianping, Apache-2.0) gives 300 reviews with a 1-5 star rating and 18
aspect labels (1 positive, 0 neutral, -1 negative, -2 not mentioned).  As in
``tousu link``, each aspect mentioned *negatively* is a 0/1 "complaint category" and
the star rating is the CSAT.  Known fact to recover: negative waiter attitude
(``service_waiters_attitude`` = -1) goes with a mean of 2.19 stars against 4.48 when
positive, so it must rank among the strongest drags.

Compared in the same run with the obvious alternative: ranking aspects by the raw gap
in mean stars (with vs without the negative mention), which ignores that negative
aspects come together.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS_DIR, SHARED_DATA_DIR, machine_info, markdown_table, shared_data_file, write_json  # noqa: E402

from tousu.models.drivers import DriverModel  # noqa: E402

KNOWN_DRAG = "service_waiters_attitude"


def load_asap() -> pd.DataFrame:
    parts = [pd.read_csv(shared_data_file(f"asap/{split}_sample.csv"), encoding="utf-8-sig")
             for split in ("train", "dev", "test")]
    return pd.concat(parts, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "drivers_asap.json")
    args = parser.parse_args()

    reviews = load_asap()
    aspects = [c for c in reviews.columns if c not in ("index", "reviewbody", "star")]
    negative = (reviews[aspects] == -1).astype(np.uint8)
    stars = reviews["star"].astype(float)

    model = DriverModel(n_boot=500, seed=0).fit(negative, stars)
    drivers = model.drivers_table().reset_index(drop=True)
    drivers["rank"] = np.arange(1, len(drivers) + 1)
    raw_gap = (drivers["mean_with"] - drivers["mean_without"])
    drivers["raw_gap"] = raw_gap
    drivers["raw_gap_rank"] = raw_gap.rank(method="min").astype(int)  # most negative gap = rank 1

    attitude = reviews[KNOWN_DRAG]
    known = {"mean_star_negative": round(float(stars[attitude == -1].mean()), 2),
             "n_negative": int((attitude == -1).sum()),
             "mean_star_positive": round(float(stars[attitude == 1].mean()), 2),
             "n_positive": int((attitude == 1).sum())}
    row = drivers.set_index("driver").loc[KNOWN_DRAG]
    results = {
        "dataset": str(SHARED_DATA_DIR / "asap"), "reviews": len(reviews), "aspects": len(aspects),
        "method": model.method_, "r2": round(float(model.r2_), 4), "known_fact": known,
        "known_drag": {"aspect": KNOWN_DRAG, "importance_rank": int(row["rank"]),
                       "raw_gap_rank": int(row["raw_gap_rank"]),
                       "importance_share": round(float(row["importance_share"]), 4),
                       "coef": round(float(row["coef"]), 3),
                       "coef_interval": [round(float(row["coef_low"]), 3), round(float(row["coef_high"]), 3)]},
        "drivers": drivers.round(4).to_dict("records"),
        "machine": machine_info(["numpy", "scipy"]),
    }
    print(f"ASAP: {len(reviews)} reviews, {len(aspects)} aspects, R² {model.r2_:.3f} ({model.method_})")
    print(f"known fact: {KNOWN_DRAG} negative → {known['mean_star_negative']} stars (n={known['n_negative']}), "
          f"positive → {known['mean_star_positive']} (n={known['n_positive']})")
    print(markdown_table(
        ["rank", "negative aspect", "importance share", "OLS effect (stars)", "95% CI", "n", "raw gap", "raw-gap rank"],
        [[r.rank, r.driver, r.importance_share, r.coef, f"[{r.coef_low:.2f}, {r.coef_high:.2f}]", r.n_with,
          r.raw_gap, r.raw_gap_rank] for r in drivers.head(8).itertuples()]))
    print(f"{KNOWN_DRAG}: importance rank {row['rank']} of {len(drivers)} (raw-gap rank {row['raw_gap_rank']})")
    print(f"written: {write_json(args.out, results)}")


if __name__ == "__main__":
    main()
