"""The job behind ``tousu link``: read both tables, build the report, write it (and the store)."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd

from tousu.analysis.report import LinkReport, build_report
from tousu.nlp.jobs import output_lock
from tousu.nlp.personal_data import pseudonymise, read_pseudonym_key
from tousu.nlp.progress import ChunkProgress, file_fingerprint
from tousu.nlp.tables import TableReader
from tousu.report import write_report


def read_side_table(path: str | Path, sheet: str | None = None) -> pd.DataFrame:
    """A whole table as text, index = spreadsheet row numbers (errors name the file)."""
    return TableReader(path, sheet=sheet).rows()


def link_job(
    classified: str | Path,
    surveys: str | Path,
    out_dir: str | Path,
    key: str = "工单号",
    date_col: str = "受理时间",
    freq: str = "W",
    growth_threshold: float = 0.5,
    charts: bool = True,
    store: str | Path | None = None,
    complaint_id: str | None = None,
    baseline: str = "auto",
    recent_periods: int | None = None,
    primary_only: bool = False,
    compare: tuple[str, str] | None = None,
    survey_date_col: str | None = None,
    pseudonymise_ids: str | Path | None = None,
    resume: bool = False,
) -> LinkReport:
    """Read both tables, build the report, write it to ``out_dir`` (and the store, if given).

    compare: the two periods of the change attribution (``("2026-09", "2026-10")``, as ``freq``
    names them); None: the last two complete periods. survey_date_col: the surveys' date column
    (default ``调查时间`` when present; else each answer's complaint date). pseudonymise_ids: a key
    file: the key, id and customer-id columns of both tables become keyed hashes
    (:func:`tousu.nlp.personal_data.pseudonymise`), the same on both sides, so the join holds;
    the report and the store see only these.

    The store is opened first, so that a file that is no results store, or one that stays
    locked, fails before the report is built; it is held only for the write at the end.

    The report is written into ``OUT_DIR.progress/`` and moved into ``out_dir`` once the store
    has the surveys, so a job that dies leaves no half-written report. resume: a job killed
    after its store write does not write the surveys again (refused if the inputs or options
    changed); the report, built in memory, is built again.
    """
    secret = read_pseudonym_key(pseudonymise_ids) if pseudonymise_ids is not None else None
    results = None
    if store is not None:
        from tousu.store import ResultsStore

        results = ResultsStore(store, hold=False)
    started_with = {
        "classified": file_fingerprint(classified), "surveys": file_fingerprint(surveys), "key": key,
        "date_col": date_col, "freq": freq, "growth_threshold": growth_threshold, "charts": charts,
        "complaint_id": complaint_id, "baseline": baseline, "recent_periods": recent_periods,
        "primary_only": primary_only, "compare": list(compare) if compare is not None else None,
        "survey_date_col": survey_date_col, "store": str(results.path.resolve()) if results is not None else None,
        "pseudonym_key": hashlib.sha256(secret).hexdigest() if secret is not None else None,
    }
    with output_lock(out_dir), ChunkProgress(out_dir, started_with, resume, unit="step") as done:
        complaints, survey_table = read_side_table(classified), read_side_table(surveys)
        if secret is not None:
            complaints = pseudonymise(complaints, secret, named=[key, complaint_id])
            survey_table = pseudonymise(survey_table, secret, named=[key, complaint_id])
        report = build_report(complaints, survey_table, key=key, date_col=date_col, freq=freq,
                              growth_threshold=growth_threshold, complaint_id=complaint_id, baseline=baseline,
                              recent_periods=recent_periods, primary_only=primary_only,
                              compare=tuple(compare) if compare is not None else None,
                              survey_date_col=survey_date_col)
        staged = done.dir / "report"
        shutil.rmtree(staged, ignore_errors=True)
        written = write_report(report, staged, charts=charts)
        if results is not None and not done.chunks_done:  # one transaction: all surveys or none
            done.save_chunk({"surveys_stored": results.upsert_surveys(survey_table, key_column=key,
                                                                      source_file=str(surveys))})
        report.summary["files"] = [str(path) for path in _move_into(staged, written, Path(out_dir))]
    report.notes += done.notes
    return report


def _move_into(staged: Path, files: list[Path], out_dir: Path) -> list[Path]:
    """The staged report files moved into ``out_dir``, each replacing the one of its name."""
    moved = []
    for path in files:
        target = out_dir / path.relative_to(staged)
        target.parent.mkdir(parents=True, exist_ok=True)
        path.replace(target)
        moved.append(target)
    return moved
