"""The results store: a DuckDB file of classified complaints, survey answers and model versions
that ``tousu classify/link --store`` write and the explorer reads."""
from tousu.store.results import (
    CLASSIFICATION_COLUMNS,
    Filters,
    ResultsStore,
    StoreError,
    model_version_key,
    pca_2d,
    vector_space,
)

__all__ = ["CLASSIFICATION_COLUMNS", "Filters", "ResultsStore", "StoreError", "model_version_key", "pca_2d",
           "vector_space"]
