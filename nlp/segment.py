"""Chinese word segmentation with jieba, a telecom user dictionary and stopwords.

The segmenter owns a private ``jieba.Tokenizer`` so loading our dictionary does
not change the global ``jieba`` that a user's own code may rely on.  It is built
once per process and shared.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tousu.nlp.clean import MASK_TOKENS
from tousu.nlp.paths import data_dir
from tousu.nlp.versioned_file import read_versioned_lines

_MASK_SPLIT = re.compile("(" + "|".join(re.escape(t) for t in MASK_TOKENS) + r"|\*{3,})")
# A token worth keeping has at least one CJK character, Latin letter or digit.
_CONTENT = re.compile(r"[\u4e00-\u9fff A-Za-z0-9]")
_SPACES_ONLY = re.compile(r"^\s*$")
_NUMBER_OR_CODE = re.compile(r"[0-9A-Za-z._%-]*[0-9][0-9A-Za-z._%-]*")


def default_dictionary_path() -> Path:
    return data_dir() / "jieba" / "telecom_dict.txt"


def default_stopwords_path() -> Path:
    return data_dir() / "stopwords" / "zh_complaints.txt"


@dataclass(frozen=True)
class Lexicon:
    """The versioned resources a segmenter was built from."""

    dictionary_version: str
    stopwords_version: str
    user_words: tuple[str, ...]
    stopwords: frozenset[str]


#: Texts whose cuts :meth:`Segmenter.cut` keeps: a classify chunk (5,000 rows by default) and
#: some; about 3 kB a work order.
CUT_CACHE_TEXTS = 6_000


class Segmenter:
    """jieba segmentation tuned for complaints; see :func:`get_segmenter`."""

    def __init__(self, dictionary: Path, stopwords: Path):
        import jieba

        self._sources = (str(dictionary), str(stopwords))
        jieba.setLogLevel(logging.WARNING)
        dictionary_version, dictionary_lines = read_versioned_lines(dictionary)
        stopwords_version, stopword_lines = read_versioned_lines(stopwords)
        self._tokenizer = jieba.Tokenizer()
        self._tokenizer.initialize()
        # One classify chunk segments each text for the category model's words, the subcategory
        # model's and the topics' (about 0.6 ms a text each time): the cuts of the last chunk
        # are kept so that only the first of them pays.
        self._cached_cut = lru_cache(maxsize=CUT_CACHE_TEXTS)(self._cut)
        user_words = []
        for line_number, line in dictionary_lines:
            word, *rest = line.split()
            frequency = int(rest[0]) if rest and rest[0].isdigit() else None
            tag = rest[-1] if rest and not rest[-1].isdigit() else None
            self._tokenizer.add_word(word, freq=frequency, tag=tag)
            user_words.append(word)
        self._user_word_set = frozenset(user_words)
        self.lexicon = Lexicon(
            dictionary_version,
            stopwords_version,
            tuple(user_words),
            frozenset(line.strip() for _, line in stopword_lines),
        )

    def cut(self, text: str) -> list[str]:
        """All tokens, in order; mask tokens such as ``<PHONE>`` stay whole."""
        return list(self._cached_cut(text))

    def _cut(self, text: str) -> tuple[str, ...]:
        tokens = []
        for piece in _MASK_SPLIT.split(text):
            if not piece:
                continue
            if _MASK_SPLIT.fullmatch(piece):
                tokens.append(piece)
            else:
                tokens.extend(t for t in self._tokenizer.cut(piece) if not _SPACES_ONLY.match(t))
        return tuple(tokens)

    def tokens(self, text: str) -> list[str]:
        """Content words: no stopwords, punctuation or mask tokens; pure-Latin words lower-cased."""
        return [
            token
            for token in (t.lower() if t.isascii() and t.isalpha() else t for t in self.cut(text))
            if token not in self.lexicon.stopwords and _CONTENT.search(token) and token not in MASK_TOKENS
        ]

    def terms(self, text: str) -> list[str]:
        """Descriptive words for topic labels: content words of two or more characters, and no
        bare numbers or codes (``2017``, ``0.00``) unless the user dictionary names them (``10086``)."""
        return [
            token for token in self.tokens(text)
            if len(token) > 1 and (not _NUMBER_OR_CODE.fullmatch(token) or token in self._user_word_set)
        ]

    def __call__(self, text: str) -> list[str]:
        """Makes the segmenter usable as a scikit-learn ``tokenizer``/``analyzer``."""
        return self.tokens(text)

    def __reduce__(self):
        # Pickled pipelines (joblib workers) rebuild the shared instance instead of copying jieba's trie.
        return (get_segmenter, self._sources)


@lru_cache(maxsize=None)
def _segmenter_for(dictionary: str, stopwords: str) -> Segmenter:
    return Segmenter(Path(dictionary), Path(stopwords))


def get_segmenter(dictionary: str | Path | None = None, stopwords: str | Path | None = None) -> Segmenter:
    """The process-wide segmenter for these resource files (loaded on first call)."""
    return _segmenter_for(
        str(dictionary or default_dictionary_path()), str(stopwords or default_stopwords_path())
    )


def segment(text: str) -> list[str]:
    """Content words of ``text`` with the default telecom resources."""
    return get_segmenter().tokens(text)
