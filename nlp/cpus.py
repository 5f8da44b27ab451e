"""How many CPUs a process has to compute on: one rule for the embedders and the job workers."""
from __future__ import annotations

import os


def usable_cpus() -> int:
    """The CPUs this process may run on (a container's or taskset's share, not the machine's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def threads_per_process() -> int:
    """Threads one process should compute on: ``OMP_NUM_THREADS`` where it is set (Spark sets
    it for each task's Python worker, a ``tousu classify`` worker to 1), else the usable CPUs."""
    given = os.environ.get("OMP_NUM_THREADS", "")
    return int(given) if given.isdigit() and int(given) > 0 else usable_cpus()
