"""The ``tousu`` command line."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nlp.clean import CleanOptions
from nlp.embed import DEFAULT_EMBEDDER, EMBEDDER_NAMES
from nlp.tables import InputError


def _add_reader_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--text-col", help="text column (default: text, content, 内容, 投诉内容, 工单内容 …)")
    parser.add_argument("--id-col", help="id column (default: id/工单号 if present, else a stable id from the row)")
    parser.add_argument("--sheet", help="XLSX sheet name (default: the first sheet)")
    parser.add_argument("--no-header", action="store_true", help="the first row is data; columns become column_1 …")


def _add_clean_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-mask", action="store_true", help="do not mask phone/ID/card numbers and e-mail")
    parser.add_argument("--keep-boilerplate", action="store_true", help="keep work-order boilerplate phrases")
    parser.add_argument("--keep-traditional", action="store_true", help="do not convert 繁体 to 简体")


def _reader_options(args) -> dict:
    return dict(text_col=args.text_col, id_col=args.id_col, sheet=args.sheet, header=not args.no_header)


def _clean_options(args) -> CleanOptions:
    return CleanOptions(simplify=not args.keep_traditional, mask=not args.no_mask,
                        strip_boilerplate=not args.keep_boilerplate)


def _cmd_clean(args) -> None:
    from nlp.jobs import clean_file

    summary = clean_file(args.input, args.output, _clean_options(args), **_reader_options(args))
    print("\n".join(summary.lines()))


def _cmd_embed(args) -> None:
    from nlp.jobs import embed_file

    summary = embed_file(
        args.input, args.output, embedder=args.embedder, center=args.center, batch_size=args.batch_size,
        cache=not args.no_cache, options=_clean_options(args), **_reader_options(args),
    )
    print("\n".join(summary.lines()))


def _cmd_demo(args) -> None:
    from tousu.demo import run_demo

    run_demo(Path(args.out), embedder=args.embedder)


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
    embed.add_argument("--embedder", default=DEFAULT_EMBEDDER, help=f"one of {', '.join(EMBEDDER_NAMES)}")
    embed.add_argument("--center", action="store_true", help="subtract the corpus mean and re-normalise")
    embed.add_argument("--batch-size", type=int, help="texts per batch")
    embed.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    _add_reader_options(embed)
    _add_clean_options(embed)
    embed.set_defaults(run=_cmd_embed)

    demo = commands.add_parser("demo", help="run the pipeline on the bundled sample data")
    demo.add_argument("--out", default="out/demo", help="folder for the demo outputs (default: out/demo)")
    demo.add_argument("--embedder", default=DEFAULT_EMBEDDER, help=f"one of {', '.join(EMBEDDER_NAMES)}")
    demo.set_defaults(run=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (InputError, FileNotFoundError, ValueError, ImportError) as error:
        print(f"tousu: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
