"""The results store: a DuckDB file of classified complaints, survey answers and model versions
that ``tousu classify/link --store`` write and the explorer reads.

``connection`` (opening, locks) → ``ingest`` (input rows → canonical rows, PII) → ``schema``
(tables, upgrades) → ``queries`` (the explorer's reads) → ``results`` (:class:`ResultsStore`)."""
from tousu.store.connection import StoreError
from tousu.store.ingest import CLASSIFICATION_COLUMNS, pca_2d
from tousu.store.queries import Filters
from tousu.store.results import ResultsStore, model_version_key, vector_space

__all__ = ["CLASSIFICATION_COLUMNS", "Filters", "ResultsStore", "StoreError", "model_version_key", "pca_2d",
           "vector_space"]
