"""The lexical guard: differences that embeddings miss, checked before a stored answer
is served for a question that only embeds alike.

Averaged or pooled sentence embeddings score a changed number ("Python 3.11" and
"Python 3.12"), an added negation or another name as high as a true paraphrase, so a
semantic hit is served only when :func:`mismatch` finds none of these differences:

======================  ===========================================================
rule                    the two texts differ when
======================  ===========================================================
numbers                 their numbers differ as multisets: digit runs in any script
                        (``\\d`` is Unicode: ٣ is 3), with decimals, thousands
                        separators and a sign; English number words (``two``,
                        ``twenty-five``, ``three hundred``) count as their value.
                        "one" counts only inside a compound, it is mostly a pronoun.
negation                they hold a different count of negation markers: English
                        words (``not``, ``no``, ``never``, ``without``, ``n't``,
                        ``cannot``, ...), the usual markers of German, French,
                        Spanish, Italian, Portuguese, Dutch and Russian, and
                        substrings for Chinese, Japanese and Korean. "whether or
                        not" and "or not" at the end of a question are not
                        negations.
opposite words          a word of one text has its opposite in the other (a fixed
                        English table: ascending/descending, add/remove, min/max,
                        ...), or one is the other with a negating prefix
                        (valid/invalid, enable/disable, serialize/deserialize)
names                   names differ: capitalised words not opening a sentence,
                        acronyms, code identifiers (``select_related``,
                        ``QuerySet``, ``os.path``, ``len()``) and quoted or
                        backticked terms. Each side is compared, case-insensitively,
                        with all the words of the other. It is a difference when
                        both sides have a name the other lacks (a substitution), or
                        one side has an identifier, acronym or quoted term the other
                        lacks. Scripts without capitals (Chinese, Japanese, ...)
                        get only the identifier and quote rules.
======================  ===========================================================

Words are compared after a light stemming (``-s``, ``-es``, ``-ed``, ``-ing``), so
"sort"/"sorted" never counts as a difference. The guard can only refuse a match; it
never makes two texts match. Each text's analysis is cached, so checking a question
against stored ones costs a few microseconds each (well under 0.1 ms for two short
questions; ``tests/benchmarks/bench_semantic_matching.py`` measures it).
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import NamedTuple

# From the precision/recall curve of 650 labelled pairs built from real text
# (`uv run python tests/benchmarks/bench_semantic_matching.py`, WordLlama + this guard):
# at 0.79 precision 0.993, recall 1.000 (test half: 0.986 / 1.000); recall is 1.000 from
# 0.70 to 0.79, so the highest of those; 0.83 and up: precision 0.996, recall 0.996 -> 0.95
# at 0.90. The embedding alone never passes precision 0.57 at any threshold: near-misses
# embed as close as paraphrases, so the guard is what keeps precision up.
DEFAULT_SIMILARITY_THRESHOLD = 0.79


def mismatch(question: str, stored: str) -> str | None:
    """Why ``question`` must not be answered with the answer stored for ``stored``.

    Returns a short reason ("different numbers: 3.11 vs 3.12", "negation differs",
    "opposite words: ascending vs descending", "different names: France vs Germany")
    or ``None`` when no rule finds a difference. Call it after the embedding
    similarity passed the threshold; it is symmetric and never raises.
    """
    if question == stored:
        return None
    a, b = _analyse(question), _analyse(stored)
    if a.numbers != b.numbers:
        left, right = Counter(a.numbers), Counter(b.numbers)
        return "different numbers: " + _versus(left - right, right - left)
    if a.negations != b.negations:
        return "negation differs"
    if a.stems.keys() != b.stems.keys():
        opposite = _opposite(a, b) or _opposite(b, a)
        if opposite is not None:
            return f"opposite words: {opposite[0]} vs {opposite[1]}"
    return _different_names(a, b) if a.names or b.names else None


class _Name(NamedTuple):
    display: str
    lower: str
    strong: bool  # an identifier, an acronym or a quoted term: differs even unpaired


class _Analysis(NamedTuple):
    numbers: tuple[str, ...]  # sorted
    negations: int
    stems: dict[str, str]  # stem -> the word as written, for the reason
    names: tuple[_Name, ...]
    words: frozenset[str]  # lower case; dotted tokens also split; possessive 's dropped
    lower_text: str


# A word, a dotted name (os.path.join, 3.11, e.g) or a call (len()), with the gap before it.
_TOKEN = re.compile(r"(\W*)(\w+(?:[.'’]\w+)*(?:\(\))?)")
_NUMBER = re.compile(r"(?<![\w.,])[-−](?=\d)|\d+(?:[.,]\d+)*")
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+")
_QUOTED = re.compile(r"`([^`]+)`|\"([^\"]+)\"|“([^”]+)”|«([^»]+)»")
_QUOTES = ("`", '"', "“", "«")
_CAMEL = re.compile(r"[a-z][A-Z]")
_SPLIT = re.compile(r"[.()]+")
_OR_NOT = re.compile(r"\b(?:whether or not|or not(?=\W*$))")
_SENTENCE_END = frozenset(".!?:;\n")

# fmt: off
_NEGATION_WORDS = frozenset({
    "not", "no", "never", "none", "nothing", "nobody", "nowhere", "neither", "nor",
    "without", "cannot",
    # German, Dutch
    "nicht", "kein", "keine", "keinen", "keinem", "keiner", "keines", "nie", "niemals",
    "ohne", "niet", "geen", "nooit", "zonder",
    # French (ne/n' left out: spoken French drops them), Spanish, Italian, Portuguese
    "pas", "jamais", "aucun", "aucune", "rien", "sans",
    "nunca", "sin", "ningún", "ninguno", "ninguna", "nada",
    "non", "mai", "senza", "nessun", "nessuno", "nessuna", "niente",
    "não", "nem", "sem", "nenhum", "nenhuma",
    # Russian
    "не", "нет", "никогда", "ни", "без",
})
_NEGATION_SUFFIXES = ("n't", "n’t")
# Chinese, Japanese and Korean write negation inside words: counted as substrings.
_NEGATION_SUBSTRINGS = (
    "不", "没", "沒", "無", "无", "别", "未", "ない", "ません", "않", "없", "못",
)
# fmt: on

_UNITS = {
    "zero": 0, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}

_OPPOSITES = [
    ("ascending", "descending"), ("ascend", "descend"), ("increase", "decrease"),
    ("increment", "decrement"), ("add", "remove"), ("insert", "delete"),
    ("before", "after"), ("first", "last"), ("min", "max"), ("minimum", "maximum"),
    ("upper", "lower"), ("uppercase", "lowercase"), ("open", "close"), ("start", "stop"),
    ("begin", "end"), ("true", "false"), ("input", "output"), ("import", "export"),
    ("encode", "decode"), ("encrypt", "decrypt"), ("read", "write"), ("push", "pull"),
    ("left", "right"), ("above", "below"), ("inner", "outer"), ("public", "private"),
    ("synchronous", "asynchronous"), ("sync", "async"), ("server", "client"),
    ("more", "less"), ("more", "fewer"), ("higher", "lower"), ("larger", "smaller"),
    ("bigger", "smaller"), ("longest", "shortest"), ("oldest", "newest"),
    ("earliest", "latest"), ("success", "failure"), ("succeed", "fail"),
    ("accept", "reject"), ("allow", "deny"), ("include", "exclude"), ("show", "hide"),
    ("get", "set"), ("enable", "disable"), ("lock", "unlock"), ("compress", "decompress"),
    ("horizontal", "vertical"), ("local", "remote"), ("static", "dynamic"),
    ("explicit", "implicit"), ("absolute", "relative"), ("always", "never"),
    ("inside", "outside"), ("top", "bottom"), ("next", "previous"),
    ("forward", "backward"), ("up", "down"), ("in", "out"), ("on", "off"),
    ("maximize", "minimize"), ("upload", "download"), ("send", "receive"),
    ("buy", "sell"), ("cheap", "expensive"), ("fast", "slow"), ("faster", "slower"),
    ("old", "new"), ("young", "old"), ("north", "south"), ("east", "west"),
]  # fmt: skip
_NEGATING_PREFIXES = ("un", "in", "im", "il", "ir", "dis", "non", "de", "anti")


_NUMBER_WORDS = frozenset(_UNITS) | frozenset(_SCALES)
_NEGATING_PREFIXES = ("un", "in", "im", "il", "ir", "dis", "non", "de", "anti")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def _opposite_table() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for left, right in _OPPOSITES:
        table.setdefault(_stem(left), set()).add(_stem(right))
        table.setdefault(_stem(right), set()).add(_stem(left))
    return {word: frozenset(others) for word, others in table.items()}


_OPPOSITE = _opposite_table()


def _canonical_number(token: str) -> str:
    digits = token if token.isascii() else "".join(str(int(c)) if c.isdigit() else c for c in token)
    if _THOUSANDS.fullmatch(digits):
        digits = digits.replace(",", "")
    digits = digits.replace(",", ".")
    return digits if "." in digits else str(int(digits))


def _numbers(text: str, words: list[str]) -> tuple[str, ...]:
    found: list[str] = []
    sign = ""
    for token in _NUMBER.findall(text):
        if token in ("-", "−"):
            sign = "-"
        else:
            found.append(sign + _canonical_number(token))
            sign = ""
    if _NUMBER_WORDS.isdisjoint(words):
        return tuple(sorted(found))
    total = current = 0
    active = lone_one = False
    for word in [*words, ""]:
        if word in _UNITS:
            current += _UNITS[word]
            active, lone_one = True, False
        elif word == "one" and active and current % 100 >= 20 and current % 10 == 0:
            current += 1  # twenty-one
        elif word in _SCALES and (active or lone_one):
            total += max(current, 1) * _SCALES[word]
            current, active, lone_one = 0, True, False
        elif word == "and" and active:
            continue
        else:
            if active:
                found.append(str(total + current))
            total = current = 0
            active, lone_one = False, word == "one"  # "one hundred" counts, "one" alone not
    return tuple(sorted(found))


def _negations(text: str, words: list[str]) -> int:
    count = sum(1 for w in words if w in _NEGATION_WORDS or w.endswith("n't"))
    if count and "or not" in text:
        count -= len(_OR_NOT.findall(text))
    if not text.isascii():
        count += sum(text.count(s) for s in _NEGATION_SUBSTRINGS)
    return count


@lru_cache(maxsize=4096)
def _analyse(text: str) -> _Analysis:
    text = text.replace("’", "'")
    names: dict[str, _Name] = {}
    words: list[str] = []
    for index, (gap, token) in enumerate(_TOKEN.findall(text)):
        if token.endswith("'s"):
            token = token[:-2]
        lower = token.lower()
        if "." in token or "(" in token:
            parts = [p for p in _SPLIT.split(lower) if p]
            words.extend(parts)
            if len(parts) > 1 or token.endswith("()"):
                words.append(lower)
            if any(len(p) > 1 and not p.isdigit() for p in parts):
                names.setdefault(token, _Name(token, lower, True))  # os.path.join, len()
            continue
        words.append(lower)
        if lower == token and "_" not in token:
            continue  # the common case: a plain lower-case word
        if "_" in token or (len(token) > 1 and token.isupper()) or _CAMEL.search(token):
            if len(token) > 1 and not token.isdigit():
                names.setdefault(token, _Name(token, lower, True))  # select_related, SQL
        elif token != "I" and index and _SENTENCE_END.isdisjoint(gap):
            names.setdefault(token, _Name(token, lower, False))  # France, not a sentence start
    if any(q in text for q in _QUOTES):
        for match in _QUOTED.finditer(text):
            term = next(g for g in match.groups() if g is not None).strip()
            if term:
                names.setdefault(term, _Name(term, term.lower(), True))
    lower_text = text.lower()
    return _Analysis(
        numbers=_numbers(text, words),
        negations=_negations(lower_text, words),
        stems={_stem(w): w for w in reversed(words)},
        names=tuple(names.values()),
        words=frozenset(words),
        lower_text=lower_text,
    )


def _opposite(a: _Analysis, b: _Analysis) -> tuple[str, str] | None:
    only_a = sorted(a.stems.keys() - b.stems.keys())
    only_b = b.stems.keys() - a.stems.keys()
    for word in only_a:
        for other in sorted(_OPPOSITE.get(word, ())):
            if other in only_b:
                return a.stems[word], b.stems[other]
        if len(word) >= 4:
            for prefix in _NEGATING_PREFIXES:
                if prefix + word in only_b:
                    return a.stems[word], b.stems[prefix + word]
    return None


def _missing(a: _Analysis, b: _Analysis) -> list[_Name]:
    """``a``'s names that ``b`` does not mention."""
    return [
        name
        for name in a.names
        if name.lower not in b.words and (name.lower.isalnum() or name.lower not in b.lower_text)
    ]


def _different_names(a: _Analysis, b: _Analysis) -> str | None:
    only_a, only_b = _missing(a, b), _missing(b, a)
    if (only_a and only_b) or any(name.strong for name in only_a + only_b):
        left = Counter(name.display for name in only_a)
        right = Counter(name.display for name in only_b)
        return "different names: " + _versus(left, right)
    return None


def _versus(left: Counter[str], right: Counter[str]) -> str:
    def side(values: Counter[str]) -> str:
        return ", ".join(sorted(values)) or "none"

    return f"{side(left)} vs {side(right)}"
