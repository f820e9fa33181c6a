"""A note's words: normalised tokens, word and character n-grams, hashed features, and
suggested keys and names. Standard library only.

Untrusted text: only `\\w` runs become tokens, so controls, escapes, bidi and zero-width
characters and markup brackets never reach a term; what is shown still goes through
`textsafe.visible`, and a key is `[a-z0-9_]` by construction.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from array import array
from collections.abc import Iterable
from itertools import pairwise

from evaltui.textsafe import visible

# A note is a reviewer's line: its features are read from its first MAX_NOTE_CHARS
# characters, at most MAX_WORD_TERMS words and bigrams and MAX_CHAR_GRAMS character
# n-grams (a pasted page must not cost a page of n-grams; a typical note has ~30 and ~150).
# This bounds memory by the number of notes. The note itself is kept whole.
MAX_NOTE_CHARS = 500
MAX_WORD_TERMS = 64
MAX_CHAR_GRAMS = 192
MAX_TOKEN_CHARS = 40  # a longer run of word characters is a blob, not a word
BUCKETS = 1 << 20  # hashed feature space per kind (words, characters)
CHAR_NGRAMS = (3, 4, 5)
KEY_MAX = 40  # FailureClass.key's max_length
NAME_MAX = 80  # FailureClass.name's max_length

_WORD = re.compile(r"\w+")
_KEY_CHARS = re.compile(r"[^a-z0-9]+")

# English function words and reviewers' filler: they say nothing about a failure mode
STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are aren as at be because been
    before being below between both but by can cannot could did didn do does doesn doing don
    down during each either else etc even ever every few for from further get gets got had
    has hasn have haven having he her here hers herself him himself his how however i if in
    into is isn it its itself just let like ll maybe me might more most much must my myself
    no nor not now of off on once one only or other ought our ours ourselves out over own
    per quite rather re really same seems shall she should shouldn so some such than that
    the their theirs them themselves then there these they this those though through thus
    to too under until up upon us very via was wasn we were weren what when where whether
    which while who whom whose why will with within without won would wouldn ve yet you
    your yours yourself yourselves
    fyi hmm nb note ok okay pls please see thanks
    """.split()  # noqa: SIM905 (a word list reads better as words)
)


def normalise(text: str) -> str:
    """NFKC and case-folded, cut to MAX_NOTE_CHARS."""
    return unicodedata.normalize("NFKC", text[:MAX_NOTE_CHARS]).casefold()


def tokens(text: str) -> list[str]:
    """Content words of a note, in order: `\\w` runs of 2-40 characters, no stop words."""
    return [
        w
        for w in _WORD.findall(normalise(text))
        if 2 <= len(w) <= MAX_TOKEN_CHARS and w not in STOP_WORDS
    ]


def word_terms(toks: list[str]) -> list[str]:
    """Unigrams and adjacent bigrams (after stop words are dropped, as is usual)."""
    return toks + [f"{a} {b}" for a, b in pairwise(toks)]


def bucket(term: str) -> int:
    """A stable hash (CRC-32, the same in every process) into the feature space."""
    return zlib.crc32(term.encode("utf-8", "surrogatepass")) & (BUCKETS - 1)


class Featurizer:
    """Hashed word and character n-gram ids of a note, with a bounded per-token cache."""

    CACHE_MAX = 20_000  # tokens (and terms) whose ids are kept: a few MB

    def __init__(self) -> None:
        self._chars: dict[str, array[int]] = {}
        self._words: dict[str, int] = {}

    def _char_ids(self, tok: str) -> array[int]:
        ids = self._chars.get(tok)
        if ids is None:
            padded = f" {tok} "
            ids = array(
                "i",
                (
                    bucket(padded[i : i + n])
                    for n in CHAR_NGRAMS
                    for i in range(len(padded) - n + 1)
                ),
            )
            if len(self._chars) >= self.CACHE_MAX:
                self._chars.clear()
            self._chars[tok] = ids
        return ids

    def _word_id(self, term: str) -> int:
        wid = self._words.get(term)
        if wid is None:
            wid = bucket(term)
            if len(self._words) >= self.CACHE_MAX:
                self._words.clear()
            self._words[term] = wid
        return wid

    def features(self, text: str) -> tuple[array[int], array[int]]:
        """(word ids, char ids) of a note, with repeats (term frequencies), capped."""
        toks = tokens(text)
        words = array("i", (self._word_id(t) for t in word_terms(toks)[:MAX_WORD_TERMS]))
        chars = array("i")
        for t in toks:
            chars.extend(self._char_ids(t))
            if len(chars) >= MAX_CHAR_GRAMS:
                del chars[MAX_CHAR_GRAMS:]
                break
        return words, chars


# -- suggested keys and names -------------------------------------------------------------


def _ascii(word: str) -> str:
    folded = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode("ascii")
    return _KEY_CHARS.sub("", folded.lower())


def _words_of(terms: Iterable[str], limit: int = 3) -> list[str]:
    out: list[str] = []
    for term in terms:
        for w in term.split(" "):
            if w not in out:
                out.append(w)
            if len(out) == limit:
                return out
    return out


def suggest_key(terms: Iterable[str], taken: set[str]) -> str:
    """lower_snake_case from the first words of the terms (ASCII-folded; a number never
    leads), at most KEY_MAX characters, made unique against `taken` with _2, _3, ..."""
    parts = [a for a in (_ascii(w) for w in _words_of(terms)) if a]
    parts = [p for p in parts if not p[0].isdigit()] + [p for p in parts if p[0].isdigit()]
    base = "_".join(parts) or "proposal"
    if base[0].isdigit():
        base = f"n_{base}"
    base = base[:KEY_MAX].rstrip("_")
    key, n = base, 1
    while key in taken:
        n += 1
        suffix = f"_{n}"
        key = base[: KEY_MAX - len(suffix)].rstrip("_") + suffix
    return key


def suggest_name(terms: Iterable[str]) -> str:
    """A name from the same words, as they were written (visible, at most NAME_MAX)."""
    words = _words_of(terms)
    if not words:
        return "Proposed class"
    text = visible(" ".join(words), limit=None)
    return (text[:1].upper() + text[1:])[:NAME_MAX]


def excerpt(text: str, width: int = 200) -> str:
    """A note as one visible line, cut to `width` characters."""
    line = visible(text, limit=width * 2)
    return line if len(line) <= width else line[: width - 1] + "…"
