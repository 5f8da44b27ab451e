"""The Spark engine of ``tousu classify`` (``--engine spark``) and its Python entry point.

Needs the optional extra: ``pip install 'tousu[spark]'`` (pyspark) and Java 17 or newer.

:func:`classify` takes a Spark DataFrame and returns a :class:`SparkClassified`: the kept rows with
the columns the local engine adds (:data:`tousu.models.pipeline.OUTPUT_COLUMNS`, same values), and
the quarantine, both Spark DataFrames (lazy: nothing is classified until one is written or
collected). :func:`classify_file` is the job behind ``tousu classify --engine spark``: it reads
Parquet (a file or a directory) or CSV, writes Parquet directories, and returns the same
:class:`~tousu.nlp.jobs.JobSummary` as the local engine.

How the work is spread:

1. each row gets its number (1-based record number; for CSV the header is row 1), counted over the
   partitions in the order Spark reads them;
2. per partition, in Arrow batches, every cell becomes text as the local reader makes it, and the
   per-row rules of :func:`tousu.nlp.tables.row_reasons` decide what is quarantined;
3. duplicate ids (the first occurrence kept, in row order) and generated ids (repeated content
   gets ``-2``, ``-3`` …) are whole-table properties: found with a window over the id;
4. the rows are range-partitioned by row number (``partitions``, default: as many as were read)
   and each partition is cleaned, masked and classified in Arrow batches (``mapInPandas``) by a
   model shipped once to every executor (``SparkContext.addFile``) and loaded once per executor
   Python process (:data:`_MODELS`), not per batch.

The executors do not use the embedding cache (a cache shared by concurrent processes would only
contend; the vectors are the same).
"""
from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

try:
    import pyspark  # noqa: F401
    from pyspark.sql import DataFrame, SparkSession, Window
    from pyspark.sql import functions as F
    from pyspark.sql import types as T
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "tousu's Spark engine needs pyspark (and Java 17+): pip install 'tousu[spark]'") from error

import pandas as pd

from tousu.models.pipeline import OUTPUT_COLUMNS
from tousu.nlp.clean import CleanOptions
from tousu.nlp.jobs import JobSummary, clean_kept, clean_quarantine, output_lock
from tousu.nlp.tables import (
    QUARANTINE_COLUMNS,
    InputError,
    cells_as_text,
    content_id,
    duplicate_id_reason,
    partial_path,
    quarantine_path,
    quarantine_rows,
    reserved_renames,
    resolve_columns,
    row_digests,
    row_reasons,
)

#: Rows per Arrow batch handed to the model (``spark.sql.execution.arrow.maxRecordsPerBatch``).
BATCH_ROWS = 2000
#: The formats the Spark engine reads.
SPARK_INPUTS = (".parquet", ".csv")
_OUTPUT_TYPES = {"confidence": T.DoubleType(), "topic_id": T.LongType()}
_ROW, _REASON, _COLUMN, _KEY, _RAW_FIELDS = "_tousu_row", "_tousu_reason", "_tousu_column", "_tousu_key", "_tousu_extra"
# Executor side: the models loaded in this Python process, by (path, min_confidence, threshold).
_MODELS: dict = {}
# Driver side: the model directories shipped to each SparkContext, by their absolute path.
_SHIPPED: dict = {}


@dataclass
class SparkClassified:
    """What :func:`classify` returns.

    classified: the kept rows in input order: their columns (the text cleaned and masked, the
        other free-text columns masked, a generated id column last when there was none), then
        :data:`~tousu.models.pipeline.OUTPUT_COLUMNS`.
    quarantine: the rows set aside: :data:`~tousu.nlp.tables.QUARANTINE_COLUMNS` (``source_file``,
        ``source_row``, ``problem_column``, ``reason``), then the row's cells, masked.
    rows_read: how many rows the input has (``rows_read == kept + quarantined``).
    text_col, id_col: the columns used; notes: what was changed to keep every row.
    """

    classified: DataFrame
    quarantine: DataFrame
    rows_read: int
    text_col: str
    id_col: str
    notes: list[str] = field(default_factory=list)


def classify(
    df: DataFrame,
    model_dir: str | Path,
    text_col: str | None = None,
    id_col: str | None = None,
    *,
    options: CleanOptions = CleanOptions(),
    min_confidence: float | None = None,
    threshold: float | None = None,
    pseudonymise_key: bytes | None = None,
    partitions: int | None = None,
    source_file: str = "<DataFrame>",
    first_row: int = 1,
    encoding: str | None = None,
    batch_rows: int = BATCH_ROWS,
) -> SparkClassified:
    """Classify the complaints of a Spark DataFrame with a model written by ``tousu train``.

    The text and id columns are found as :class:`tousu.nlp.tables.TableReader` finds them (by
    ``text_col``/``id_col``, else the known names, else ids are generated from the row's content),
    and every row is either kept or quarantined by the local engine's rules, with the same values
    in every added column. ``source_file`` names the input in the quarantine and in errors;
    ``first_row`` is the number of the first row (2 for a CSV with a header); ``encoding`` is
    named in the reason of a text with undecodable bytes. ``partitions``: how many partitions are
    classified (default: as many as ``df`` has). ``pseudonymise_key``: write the id and customer-id
    columns as keyed hashes (:func:`tousu.nlp.personal_data.pseudonymise`).

    Counting the rows (for their numbers) runs one small Spark job now; the rest is lazy.
    """
    spark = df.sparkSession
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch_rows))
    model_name = _ship_model(spark, model_dir)
    renamed, note = reserved_renames(df.columns, OUTPUT_COLUMNS)
    for old, new in renamed.items():
        df = df.withColumnRenamed(old, new)
    text_col, id_col = (renamed.get(name, name) if name is not None else None for name in (text_col, id_col))
    extra = _RAW_FIELDS in df.columns  # CSV: cells beyond the header
    columns = [column for column in df.columns if column != _RAW_FIELDS]
    text_col, id_col, generated = resolve_columns(source_file, columns, text_col, id_col)
    partitions = partitions or max(df.rdd.getNumPartitions(), 1)

    numbered, rows_read = _numbered(df, first_row)
    if not rows_read:
        raise InputError(source_file, "the file has no rows under the header")
    prepared_schema = T.StructType(
        [T.StructField(column, T.StringType()) for column in columns]
        + ([T.StructField(id_col, T.StringType())] if generated else [])
        + [T.StructField(name, T.StringType()) for name in (_REASON, _COLUMN, _KEY)]
        + [T.StructField(_ROW, T.LongType())])
    rules = dict(columns=columns, text_col=text_col, id_col=id_col, generated=generated, encoding=encoding,
                 extra=extra)
    prepared = numbered.mapInPandas(lambda batches: _prepare(batches, **rules), prepared_schema)
    prepared = _whole_table_rules(prepared, id_col, generated)
    ordered = prepared.repartitionByRange(partitions, _ROW).sortWithinPartitions(_ROW)
    cells = [*columns, *([id_col] if generated else [])]

    kept = ordered.where(F.col(_REASON) == "")
    classified_schema = T.StructType(
        [T.StructField(column, T.StringType()) for column in cells]
        + [T.StructField(name, _OUTPUT_TYPES.get(name, T.StringType())) for name in OUTPUT_COLUMNS])
    step = dict(model_name=model_name, cells=cells, text_col=text_col, id_col=id_col, options=options,
                confidence={"min_confidence": min_confidence, "threshold": threshold}, key=pseudonymise_key)
    classified = kept.mapInPandas(lambda batches: _classify_batches(batches, **step), classified_schema)

    quarantined = ordered.where(F.col(_REASON) != "")
    quarantine_schema = T.StructType(
        [T.StructField("source_file", T.StringType()), T.StructField("source_row", T.LongType())]
        + [T.StructField(name, T.StringType()) for name in QUARANTINE_COLUMNS[2:]]
        + [T.StructField(column, T.StringType()) for column in cells])
    aside = dict(cells=cells, id_col=id_col, options=options, source_file=source_file, key=pseudonymise_key)
    quarantine = quarantined.mapInPandas(lambda batches: _quarantine_batches(batches, **aside), quarantine_schema)
    return SparkClassified(classified, quarantine, rows_read, text_col, id_col, [note] if note else [])


def _numbered(df: DataFrame, first_row: int) -> tuple[DataFrame, int]:
    """``(df with each row's number in _ROW, rows)``: the number is the offset of the row's
    partition (the rows in the partitions before, counted by one small job) plus its place in it."""
    position = F.monotonically_increasing_id()
    df = df.withColumn(_ROW, position)
    part, place = F.shiftright(F.col(_ROW), 33), F.col(_ROW).bitwiseAND((1 << 33) - 1)
    counts = dict(df.groupBy(part.alias("part")).count().collect())
    offsets, total = [], first_row
    for index in range(int(max(counts, default=-1)) + 1):
        offsets.append(total)
        total += counts.get(index, 0)
    if not offsets:
        return df, 0
    start = F.element_at(F.array(*[F.lit(offset).cast("long") for offset in offsets]), part.cast("int") + 1)
    return df.withColumn(_ROW, start + place), total - first_row


def _prepare(batches: Iterator[pd.DataFrame], columns, text_col, id_col, generated, encoding, extra):
    """Executor side: the cells as text and the per-row reasons of :func:`row_reasons`."""
    for batch in batches:
        if not len(batch):
            continue
        rows = batch.pop(_ROW).to_numpy()
        problems = None
        if extra:
            overflow = batch.pop(_RAW_FIELDS)
            problems = pd.Series(f"expected {len(columns)} fields, saw more", index=batch.index, dtype=object)
            problems[overflow.isna()] = ""
        raw = cells_as_text(batch[columns])
        reasons, problem_columns = row_reasons(raw, text_col, id_col=None if generated else id_col,
                                               encoding=encoding, problems=problems)
        if generated:
            raw[_KEY] = row_digests(raw)
            raw[id_col] = raw[_KEY]
        else:
            raw[_KEY] = raw[id_col].astype(str).str.strip()
        raw[_REASON] = reasons.to_numpy()
        raw[_COLUMN] = problem_columns.to_numpy()
        raw[_ROW] = rows
        yield raw[[*columns, *([id_col] if generated else []), _REASON, _COLUMN, _KEY, _ROW]]


def _whole_table_rules(prepared: DataFrame, id_col: str, generated: bool) -> DataFrame:
    """Generated ids numbered by occurrence over the whole table, or duplicate ids quarantined
    (the first kept, in row order), as :class:`~tousu.nlp.tables.TableReader` does streaming."""
    if generated:
        occurrence = F.row_number().over(Window.partitionBy(_KEY).orderBy(_ROW))
        separator = content_id("D", 2)[1:-1]  # the local engine's form: digest, separator, occurrence
        return prepared.withColumn(id_col, F.when(occurrence == 1, F.col(_KEY))
                                   .otherwise(F.concat(F.col(_KEY), F.lit(separator), occurrence.cast("string"))))
    first = F.min(_ROW).over(Window.partitionBy(_KEY, F.col(_REASON) == ""))
    duplicate = (F.col(_REASON) == "") & (F.col(_ROW) != first)
    before, after = duplicate_id_reason(-1).split("-1")  # the local engine's words, the row spliced in
    reason = F.concat(F.lit(before), F.col("_tousu_first").cast("string"), F.lit(after))
    return (prepared.withColumn("_tousu_first", first)
            .withColumn(_COLUMN, F.when(duplicate, F.lit(id_col)).otherwise(F.col(_COLUMN)))
            .withColumn(_REASON, F.when(duplicate, reason).otherwise(F.col(_REASON)))
            .drop("_tousu_first"))


def _classify_batches(batches, model_name, cells, text_col, id_col, options, confidence, key):
    """Executor side: clean, mask (and pseudonymise) and classify each batch of kept rows."""
    model = None
    for batch in batches:
        if not len(batch):
            continue
        if model is None:
            model = _model(model_name, confidence)
        kept = clean_kept(batch[cells].reset_index(drop=True), text_col, id_col, options)
        if key is not None:
            from tousu.nlp.personal_data import pseudonymise

            kept = pseudonymise(kept, key, named=[id_col])
        texts = kept[text_col].tolist()
        predicted = model.predict(texts, embeddings=model.embed(texts))
        yield pd.concat([kept.reset_index(drop=True), predicted], axis=1)


def _quarantine_batches(batches, cells, id_col, options, source_file, key):
    """Executor side: the quarantine table's rows, as the local engine writes them."""
    for batch in batches:
        if not len(batch):
            continue
        raw = batch[cells].set_index(batch[_ROW].to_numpy())
        bad = pd.Series(True, index=raw.index)
        reasons = pd.Series(batch[_REASON].to_numpy(), index=raw.index, dtype=object)
        columns = pd.Series(batch[_COLUMN].to_numpy(), index=raw.index, dtype=object)
        part = clean_quarantine(quarantine_rows(raw, bad, reasons, columns, source_file), id_col, options)
        if key is not None:
            from tousu.nlp.personal_data import pseudonymise

            part = pseudonymise(part, key, named=[id_col])
        yield part


def _model(model_name: str, confidence: dict):
    """The model shipped as ``model_name``, loaded once per Python process (and per confidence)."""
    from pyspark import SparkFiles

    from tousu.models.pipeline import ComplaintModel

    path = SparkFiles.get(model_name)
    cache_key = (path, confidence["min_confidence"], confidence["threshold"])
    if cache_key not in _MODELS:
        model = ComplaintModel.load(path, cache=False)
        model.classifier_.set_params(**{name: value for name, value in confidence.items() if value is not None})
        _MODELS[cache_key] = model
    return _MODELS[cache_key]


def _ship_model(spark: SparkSession, model_dir: str | Path) -> str:
    """Ship the model directory to the executors once per SparkContext; the name it goes by there.

    A copy named by the directory's path and manifest checksum is shipped, so two models whose
    folders share a name (``v1``) do not collide."""
    from tousu.models.store import read_manifest

    model_dir = Path(model_dir).resolve()
    read_manifest(model_dir)  # refuse a directory that is no tousu model here, not on an executor
    sc = spark.sparkContext
    shipped = _SHIPPED.setdefault(sc.applicationId, {})
    if str(model_dir) not in shipped:
        checksum = model_dir / "manifest.sha256"
        stamp = checksum.read_bytes() if checksum.exists() else (model_dir / "manifest.json").read_bytes()
        name = "tousu-model-" + hashlib.sha256(str(model_dir).encode() + stamp).hexdigest()[:16]
        copy = Path(tempfile.mkdtemp(prefix="tousu-spark-")) / name
        shutil.copytree(model_dir, copy)
        atexit.register(shutil.rmtree, copy.parent, ignore_errors=True)
        sc.addFile(str(copy), recursive=True)
        shipped[str(model_dir)] = name
    return shipped[str(model_dir)]


# ----- the job behind `tousu classify --engine spark` -----
def session(master: str | None = None, app_name: str = "tousu classify") -> SparkSession:
    """The active SparkSession, or a new one on ``master`` (default: ``spark-submit``'s
    ``--master``, else ``local[*]``). Python workers run this interpreter unless
    ``PYSPARK_PYTHON`` says otherwise."""
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    if master is not None:
        builder = builder.master(master)
    for name, value in {**local_only_settings(master), "spark.sql.execution.arrow.maxRecordsPerBatch": str(BATCH_ROWS)}.items():
        builder = builder.config(name, value)
    return builder.getOrCreate()


def local_only_settings(master: str | None) -> dict[str, str]:
    """What keeps a session on this machine off the network: the driver on loopback and no web
    UI (Spark's defaults bind the driver to the host's address and the UI to every interface).
    For a local master, or none outside ``spark-submit`` (which hands its session over through
    the gateway, with the cluster's settings); a cluster master gets its own."""
    submitted = master is None and "PYSPARK_GATEWAY_PORT" in os.environ
    if submitted or not (master is None or master.startswith("local")):
        return {}
    return {"spark.driver.bindAddress": "127.0.0.1", "spark.driver.host": "127.0.0.1", "spark.ui.enabled": "false"}


def read_input(spark: SparkSession, input_path: str | Path, header: bool = True) -> tuple[DataFrame, int, str | None]:
    """``(frame, number of its first row, encoding)`` for a Parquet file or directory or a CSV
    file or directory (UTF-8; ``header``: whether each file's first line names the columns)."""
    path = str(input_path)
    local = Path(path) if _on_this_machine(spark, path) else None
    if local is not None and not local.exists():
        raise InputError(path, "file not found")
    suffix = Path(path.rstrip("/")).suffix.lower()
    if local is not None and local.is_dir() and suffix not in SPARK_INPUTS:
        found = {p.suffix.lower() for p in local.rglob("*") if p.is_file() and not p.name.startswith((".", "_"))}
        suffix = ".parquet" if ".parquet" in found else ".csv" if ".csv" in found else suffix
    if suffix not in SPARK_INPUTS:
        raise InputError(path, f"the Spark engine reads Parquet (a file or a directory) or CSV, not "
                               f"{suffix or 'files without extension'}; use --engine local for other formats")
    if suffix == ".parquet":
        try:
            return spark.read.parquet(path), 1, None
        except Exception as error:  # AnalysisException and friends
            raise InputError(path, f"not a readable Parquet file ({str(error).splitlines()[0]})") from None
    options = dict(multiLine=True, escape='"', quote='"', encoding="UTF-8", mode="PERMISSIVE")
    first = spark.read.csv(path, header=False, **options).limit(1).collect()
    if not first:
        raise InputError(path, "the file is empty")
    cells = [("" if value is None else value) for value in first[0]]
    if cells and cells[0].startswith("\ufeff"):
        cells[0] = cells[0][1:]
    names = ([cell or f"column_{i}" for i, cell in enumerate(cells, start=1)] if header
             else [f"column_{i}" for i in range(1, len(cells) + 1)])
    schema = T.StructType([T.StructField(name, T.StringType()) for name in names]
                          + [T.StructField(_RAW_FIELDS, T.StringType())])
    if len(set(names)) < len(names):
        resolve_columns(path, names)  # names the repeated ones
    frame = spark.read.csv(path, header=header, schema=schema, enforceSchema=True, **options)
    return frame, 2 if header else 1, "utf-8"


def _on_this_machine(spark: SparkSession, path: str) -> bool:
    """Whether ``path`` is a file of this machine that the executors see too: a path without a
    scheme (or ``file:``) under a local master. On a cluster a plain path is on its file system."""
    return spark.sparkContext.master.startswith("local") and ("://" not in path or path.startswith("file:"))


def _uri_quarantine_path(output: str) -> str:
    """:func:`~tousu.nlp.tables.quarantine_path` of an output URI (``hdfs://…``), kept a string."""
    head, _, name = output.rstrip("/").rpartition("/")
    stem, dot, suffix = name.rpartition(".") if "." in name else (name, "", "")
    return f"{head}/{stem}.quarantine{dot}{suffix}"


def _write_parquet(frame: DataFrame, path: str | Path, local: bool) -> int:
    """Write ``frame`` as a Parquet directory at ``path``; the number of rows written. A local
    one is written under a temporary name beside it and renamed at the end, so a failed job
    leaves no partial output."""
    import pyarrow.parquet as pq

    if not local:
        frame.write.mode("overwrite").parquet(str(path))
        return frame.sparkSession.read.parquet(str(path)).count()
    path = Path(str(path).removeprefix("file://"))
    partial = partial_path(path)
    try:
        frame.write.mode("overwrite").parquet(str(partial))
        # Spark skips a path whose name starts with a dot: the footers are counted here instead.
        rows = sum(pq.ParquetFile(part).metadata.num_rows for part in partial.glob("part-*.parquet"))
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    partial.replace(path)
    return rows


def classify_file(
    model_dir: str | Path, input_path: str | Path, output_path: str | Path, *, master: str | None = None,
    partitions: int | None = None, spark: SparkSession | None = None, options: CleanOptions = CleanOptions(),
    text_col: str | None = None, id_col: str | None = None, header: bool = True,
    min_confidence: float | None = None, threshold: float | None = None,
    pseudonymise_ids: str | Path | None = None,
) -> JobSummary:
    """``tousu classify --engine spark``: classify ``input_path`` (Parquet file or directory, or
    CSV) into the Parquet directory ``output_path``; the quarantine goes to
    :func:`~tousu.nlp.tables.quarantine_path` of it (removed when nothing is quarantined)."""
    from tousu.models.pipeline import ComplaintModel
    from tousu.nlp.personal_data import read_pseudonym_key

    key = read_pseudonym_key(pseudonymise_ids) if pseudonymise_ids is not None else None
    ComplaintModel.load(model_dir, cache=False)  # a damaged model stops here, with the local message
    spark = spark or session(master)
    summary = JobSummary(str(input_path), str(output_path))
    local = _on_this_machine(spark, str(output_path))
    quarantine = quarantine_path(output_path) if local else _uri_quarantine_path(str(output_path))
    with output_lock(output_path) if local else nullcontext():
        frame, first_row, encoding = read_input(spark, input_path, header=header)
        result = classify(frame, model_dir, text_col, id_col, options=options, min_confidence=min_confidence,
                          threshold=threshold, pseudonymise_key=key, partitions=partitions,
                          source_file=str(input_path), first_row=first_row, encoding=encoding)
        summary.rows_kept = _write_parquet(result.classified, output_path, local)
        summary.rows_quarantined = _write_parquet(result.quarantine, quarantine, local)
        if summary.rows_quarantined:
            summary.quarantine_file = str(quarantine)
        else:
            if local:
                shutil.rmtree(quarantine, ignore_errors=True)
            else:  # an empty table at a URI: removed through Spark's file system
                jvm = spark.sparkContext._jvm
                uri = jvm.org.apache.hadoop.fs.Path(str(quarantine))
                uri.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).delete(uri, True)
    summary.rows_read = result.rows_read
    summary.notes += result.notes
    if summary.rows_read != summary.rows_kept + summary.rows_quarantined:
        raise RuntimeError(f"{input_path}: {summary.rows_read} rows read but {summary.rows_kept} kept and "
                           f"{summary.rows_quarantined} quarantined; this is a bug in tousu's Spark engine")
    summary.details.update(model=str(model_dir), text_column=result.text_col, id_column=result.id_col,
                           engine=f"spark ({spark.sparkContext.master})")
    return summary
