"""Versioned category taxonomies, read from YAML files.

A taxonomy file looks like this (``children`` and ``miit`` are optional)::

    name: telecom-cn
    version: 1
    categories:
      - code: BIL
        name: 资费计费争议
        name_en: Billing disputes
        miit: 资费
        description: 对话费、流量、套餐、增值业务扣费有异议，要求核查或退费
        keywords: [扣费, 乱扣费, 话费, 退费]
        children: []        # same shape, one level down

Users bring their own files; every problem is reported with the file and the
path of the offending entry (``categories[3].children[0].code``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tousu.nlp.paths import data_dir

OTHER_CODE = "OTH"
MIIT_CLASSES = ("服务", "资费", "营销", "网络", "安全")
_ALLOWED_KEYS = {"code", "name", "name_en", "description", "keywords", "children", "miit"}


class TaxonomyError(ValueError):
    def __init__(self, file, where: str, message: str):
        super().__init__(f"{file}: {where}: {message}" if where else f"{file}: {message}")


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    name_en: str = ""
    description: str = ""
    keywords: tuple[str, ...] = ()
    miit: str = ""
    parent: str | None = None
    children: tuple[Category, ...] = field(default=(), repr=False)

    @property
    def level(self) -> int:
        return 1 if self.parent is None else 2

    def prompt(self) -> str:
        """What zero-shot matching compares a complaint with."""
        parts = [self.name, self.description, "、".join(self.keywords)]
        return "：".join(p for p in parts if p)


@dataclass(frozen=True)
class Taxonomy:
    name: str
    version: str
    categories: tuple[Category, ...]
    sha256: str
    source: str = ""

    @property
    def all_categories(self) -> list[Category]:
        """Level-1 categories each followed by its children."""
        return [c for top in self.categories for c in (top, *top.children)]

    @property
    def codes(self) -> list[str]:
        return [c.code for c in self.categories]

    def __getitem__(self, code: str) -> Category:
        for category in self.all_categories:
            if category.code == code:
                return category
        raise KeyError(f"taxonomy {self.name} v{self.version} has no category {code!r}")

    def __contains__(self, code: str) -> bool:
        return any(c.code == code for c in self.all_categories)

    def name_of(self, code: str) -> str:
        return self[code].name if code in self else code

    @property
    def other_code(self) -> str | None:
        """The catch-all category for low-confidence complaints, if the file has one."""
        return OTHER_CODE if OTHER_CODE in self else None

    def seed_words(self) -> list[list[str]]:
        """Each level-1 category's keywords with its children's, the catch-all left out:
        seed topics for keyword-guided topic discovery."""
        seeds = []
        for category in self.categories:
            words = [*category.keywords, *(k for child in category.children for k in child.keywords)]
            if category.code != self.other_code and words:
                seeds.append(list(dict.fromkeys(words)))
        if len(seeds) < 2:
            raise ValueError(f"taxonomy {self.source}: keyword-guided topics need keywords on at least two categories")
        return seeds

    def to_dict(self) -> dict:
        def entry(category: Category) -> dict:
            out = {"code": category.code, "name": category.name, "name_en": category.name_en,
                   "description": category.description, "keywords": list(category.keywords)}
            if category.miit:
                out["miit"] = category.miit
            out["children"] = [entry(child) for child in category.children]
            return out

        return {"name": self.name, "version": self.version, "categories": [entry(c) for c in self.categories]}


def default_taxonomy_path() -> Path:
    return data_dir() / "taxonomy" / "telecom.yaml"


def load_reference_taxonomy(spec: str) -> Taxonomy:
    """The reference taxonomy a ``reference_taxonomy`` parameter names: ``"default"`` is the
    shipped telecom taxonomy, anything else a YAML path."""
    return load_taxonomy(None if spec == "default" else spec)


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    path = Path(path) if path is not None else default_taxonomy_path()
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError:
        raise TaxonomyError(path, "", "taxonomy file not found") from None
    try:
        document = yaml.safe_load(raw_bytes.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise TaxonomyError(path, "", f"not valid UTF-8 YAML ({error})") from None
    return parse_taxonomy(document, source=str(path), sha256=hashlib.sha256(raw_bytes).hexdigest())


def parse_taxonomy(document, source: str = "<taxonomy>", sha256: str | None = None) -> Taxonomy:
    if not isinstance(document, dict):
        raise TaxonomyError(source, "", "expected a mapping with name, version and categories")
    for key in ("name", "version", "categories"):
        if key not in document:
            raise TaxonomyError(source, "", f"missing top-level key {key!r}")
    categories = document["categories"]
    if not isinstance(categories, list) or not categories:
        raise TaxonomyError(source, "categories", "expected a non-empty list")
    seen: dict[str, str] = {}
    parsed = tuple(
        _parse_category(entry, f"categories[{i}]", None, source, seen) for i, entry in enumerate(categories)
    )
    if sha256 is None:
        sha256 = hashlib.sha256(yaml.safe_dump(document, allow_unicode=True, sort_keys=True).encode()).hexdigest()
    return Taxonomy(str(document["name"]), str(document["version"]), parsed, sha256, source)


def _parse_category(entry, where: str, parent: str | None, source: str, seen: dict[str, str]) -> Category:
    if not isinstance(entry, dict):
        raise TaxonomyError(source, where, "expected a mapping with at least code and name")
    unknown = set(entry) - _ALLOWED_KEYS
    if unknown:
        raise TaxonomyError(source, where, f"unknown keys {sorted(unknown)}; allowed: {sorted(_ALLOWED_KEYS)}")
    for key in ("code", "name"):
        if not entry.get(key) or not isinstance(entry[key], (str, int)):
            raise TaxonomyError(source, f"{where}.{key}", "required and must be a non-empty string")
    code = str(entry["code"]).strip()
    if code in seen:
        raise TaxonomyError(source, f"{where}.code", f"duplicate code {code!r} (also at {seen[code]})")
    seen[code] = where
    keywords = entry.get("keywords") or []
    if not isinstance(keywords, list) or not all(isinstance(k, (str, int)) for k in keywords):
        raise TaxonomyError(source, f"{where}.keywords", "expected a list of words")
    miit = str(entry.get("miit") or "")
    if miit and miit not in MIIT_CLASSES:
        raise TaxonomyError(source, f"{where}.miit", f"{miit!r} is not one of {', '.join(MIIT_CLASSES)}")
    children_raw = entry.get("children") or []
    if not isinstance(children_raw, list):
        raise TaxonomyError(source, f"{where}.children", "expected a list")
    if parent is not None and children_raw:
        raise TaxonomyError(source, f"{where}.children", "only two levels are supported")
    children = tuple(
        _parse_category(child, f"{where}.children[{i}]", code, source, seen) for i, child in enumerate(children_raw)
    )
    return Category(
        code=code,
        name=str(entry["name"]).strip(),
        name_en=str(entry.get("name_en") or ""),
        description=str(entry.get("description") or ""),
        keywords=tuple(str(k) for k in keywords),
        miit=miit,
        parent=parent,
        children=children,
    )
