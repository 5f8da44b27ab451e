"""The job behind ``tousu brief``: read a ``tousu link`` report folder, write the meeting deck."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tousu.nlp.tables import TableReader
from tousu.report.brief import read_report, write_brief


@dataclass
class BriefSummary:
    path: Path
    slides: list[str]
    examples_from: str

    def lines(self) -> list[str]:
        return [f"brief: {self.path} ({len(self.slides)} slides)", *(f"  {i}. {title}" for i, title in
                                                                    enumerate(self.slides, 1)),
                f"example complaints from: {self.examples_from or '(none)'}"]


def brief_job(report_dir: str | Path, output: str | Path, complaints: str | Path | None = None,
              title: str | None = None, period: str | None = None) -> BriefSummary:
    """The deck of the report in ``report_dir``, written to ``output`` (.pptx).

    complaints: a classified complaint table to quote examples from (e.g. the one given to
        ``tousu link``); by default the report's complaints without a survey.
    """
    table = None
    if complaints is not None:
        table = TableReader(complaints).rows()
    source = read_report(report_dir, complaints=table, complaints_from=str(complaints or ""), title=title,
                         period=period)
    slides = write_brief(source, output)
    return BriefSummary(Path(output), slides, source.examples_from)
