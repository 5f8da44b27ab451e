"""Small helpers shared by the benchmark scripts in ``bench/``.

Benchmarks read public data from ``../shared/data`` beside the repository
(never copied into it); tests never do.  Heavy measurements run in child
processes so that each gets its own peak-memory figure: a child prints one
JSON object as its last stdout line, see :func:`run_worker` and
:func:`report_to_parent`.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import traceback
from collections.abc import Callable, Sequence
from contextlib import redirect_stdout
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from time import perf_counter, sleep

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA_DIR = REPO_ROOT.parent / "shared" / "data"
RESULTS_DIR = REPO_ROOT / "bench" / "results"


# ----------------------------------------------------------------------- data


def shared_data_file(relative_path: str) -> Path:
    """A file under ``../shared/data``; exits with an explanation when it is missing."""
    path = SHARED_DATA_DIR / relative_path
    if not path.is_file():
        sys.exit(
            f"benchmark data not found: {path}\n"
            f"Benchmarks read public datasets from {SHARED_DATA_DIR} (beside the repository, "
            "see its README.md); they are not shipped with the project."
        )
    return path


def load_sts_b(split: str = "test", limit: int | None = None) -> tuple[list[str], list[str], list[float]]:
    """Chinese STS-B pairs: (first sentences, second sentences, gold similarity 0-5)."""
    path = shared_data_file(f"sts_b_zh/cnsd-sts-{split}.txt")
    first, second, scores = [], [], []
    for line in path.read_text(encoding="utf-8").splitlines()[:limit]:
        _, sentence1, sentence2, score = line.split("||")
        first.append(sentence1)
        second.append(sentence2)
        scores.append(float(score))
    return first, second, scores


def load_cocc(limit: int | None = None) -> tuple[list[str], list[str]]:
    """COCC complaint work orders (dev split, 8 classes): (raw texts, labels).

    The file's rows are already shuffled, so ``limit`` keeps every class.
    """
    path = shared_data_file("cocc/dev.tsv")
    texts, labels = [], []
    for line in path.read_text(encoding="utf-8").splitlines()[:limit]:
        text, label = line.rsplit("\t", 1)
        texts.append(text)
        labels.append(label)
    return texts, labels


#: Seed of the one COCC split into a tuning part and an untouched part (chosen once: never change
#: it, or the untouched part has been seen).
COCC_SPLIT_SEED = 20261203
COCC_UNTOUCHED_ROWS = 400


def cocc_split() -> tuple[list[int], list[int]]:
    """Row indices of COCC dev into (tuning part, untouched part), stratified by label.

    Methods are tuned on the tuning part (cross-validated within it); final figures are
    reported on the untouched 400 rows only.
    """
    from sklearn.model_selection import train_test_split

    _, labels = load_cocc()
    tune, untouched = train_test_split(
        list(range(len(labels))), test_size=COCC_UNTOUCHED_ROWS, stratify=labels, random_state=COCC_SPLIT_SEED)
    return sorted(tune), sorted(untouched)


def cocc_parts():
    """(tuning texts, tuning labels, untouched texts, untouched labels) of :func:`cocc_split`:
    texts cleaned with ``clean_texts``, labels as object arrays."""
    import numpy as np

    from tousu.nlp.clean import clean_texts

    raw, labels = load_cocc()
    texts, labels = clean_texts(raw), np.asarray(labels, dtype=object)
    tune, untouched = cocc_split()
    return [texts[i] for i in tune], labels[tune], [texts[i] for i in untouched], labels[untouched]


# --------------------------------------------------------- timing and memory


class Stopwatch:
    """``with Stopwatch() as watch: ...`` then ``watch.seconds``."""

    seconds: float

    def __enter__(self) -> Stopwatch:
        self._start = perf_counter()
        return self

    def __exit__(self, *exc_info) -> None:
        self.seconds = perf_counter() - self._start


def peak_rss_mb() -> float:
    """This process's resident-memory high-water mark, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def run_sampling_memory(command: Sequence[str], env_overrides: dict[str, str] | None = None,
                        interval: float = 0.25) -> dict:
    """Run ``command``; its wall seconds and the peak, over samples every ``interval`` seconds, of
    the resident (RSS) and proportional (PSS: shared pages split between the processes that share
    them) memory summed over its whole process tree, in MiB. Raises if it fails."""
    env = {**os.environ, **(env_overrides or {})}
    with Stopwatch() as watch:
        child = subprocess.Popen(list(command), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        peak_rss = peak_pss = 0.0
        while child.poll() is None:
            rss, pss = _tree_memory_mb(child.pid)
            peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
            sleep(interval)
    if child.returncode:
        raise WorkerFailed(f"{' '.join(command)} exited with {child.returncode}: {child.stderr.read().decode()[-2000:]}")
    return {"seconds": round(watch.seconds, 1), "peak_tree_rss_mb": round(peak_rss), "peak_tree_pss_mb": round(peak_pss)}


def _tree_memory_mb(root: int) -> tuple[float, float]:
    memory = [process_memory_kb(pid) for pid in descendants(root)]
    return sum(m.get("VmRSS", 0) for m in memory) / 1024, sum(m.get("Pss", 0) for m in memory) / 1024


def process_memory_kb(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (the process's resident high-water mark) and Pss of ``pid``, in KiB; empty once it is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    memory = {key: int(rest.split()[0]) for key, _, rest in (line.partition(":") for line in lines)
              if key in ("VmRSS", "VmHWM")}
    try:  # PSS: the resident pages, each shared one split between the processes that share it
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return memory
    return memory | {"Pss": int(line.split()[1]) for line in rollup if line.startswith("Pss:")}


def descendants(root: int) -> list[int]:
    """``root`` and every process below it, from the parent pids in ``/proc/*/stat``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (command) state ppid …": the command may hold spaces and parentheses.
        parent = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


# ------------------------------------------------------------ child processes


class WorkerFailed(RuntimeError):
    """A benchmark child process did not deliver its result."""


def run_worker(args: Sequence[str], env_overrides: dict[str, str] | None = None) -> dict:
    """Run ``python <args>`` in a fresh process and return the JSON object it reports.

    The child's stderr (progress bars, tracebacks) goes straight to ours.
    """
    env = {**os.environ, **(env_overrides or {})}
    child = subprocess.run(
        [sys.executable, *args], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO_ROOT
    )
    lines = child.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        result = {}
    if child.returncode != 0 or "error" in result:
        raise WorkerFailed(result.get("error") or f"worker exited with status {child.returncode}")
    return result


def report_to_parent(measure: Callable[[], dict]) -> None:
    """Child side of :func:`run_worker`: print ``measure()`` as one JSON line on stdout.

    Anything the measurement itself prints goes to stderr so it cannot garble
    the result.  A failure is reported as ``{"error": ...}`` with exit status 1.
    """
    try:
        with redirect_stdout(sys.stderr):
            result = measure()
    except Exception as error:
        traceback.print_exc()
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}, ensure_ascii=False))
        sys.exit(1)
    print(json.dumps(result, ensure_ascii=False))


# ----------------------------------------------------------------- reporting


def machine_info(packages: Sequence[str] = ()) -> dict:
    """Where and when a benchmark ran, for the JSON results."""
    versions = {}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        # Timings are only comparable on a quiet machine; this shows whether it was.
        "load_average_1m": os.getloadavg()[0],
        "processor": platform.processor() or platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "git_commit": _git_commit(),
        "packages": versions,
    }


def _git_commit() -> str | None:
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return described.stdout.strip()


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A GitHub-flavoured markdown table; floats get 3 decimals, ``None`` prints as ``-``."""

    def cell(value) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.3f}"
        return str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def write_json(path: str | Path, data: dict) -> Path:
    """Write ``data`` as indented UTF-8 JSON, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
