"""Build the labelled question pairs for the semantic-matching benchmark.

    uv run python tests/benchmarks/semantic_pairs/build_pairs.py

writes ``pairs.jsonl`` next to this file: one JSON object a line with ``a``, ``b``,
``label`` (``match`` or ``no-match``), ``kind`` (``paraphrase``, ``number``,
``negation``, ``entity``, ``unrelated``), ``rule`` (which rule made ``b``), ``source``
(where the sentence comes from) and ``split`` (``dev`` or ``test``, by a hash of the
source: tune on dev only, report test).

The text is real and none of it is written here: first sentences of docstrings in the
standard library and in Django (read with ``ast``, nothing is imported), and sentences of
the language reference that ships in ``pydoc_data.topics``. Sentences become questions,
and questions become pairs, by the fixed rules below, written before anything was
measured. Nothing here looks at an embedding or at the guard; the output depends only on
the installed Python and Django (locked) and on ``SEED``.

Questions from sentences
------------------------
``imperative``  a docstring that opens with a base-form verb of ``VERBS``:
                "Return a random int in the range [0, n)." ->
                "How do I get a random int in the range [0, n)?" ("Return" becomes
                "get", every other verb is kept).
``declarative`` a sentence "<subject> <aux> <rest>." with a subject of at most five
                words and ``aux`` in is/are/can/must/should/will/may:
                "The star subpattern may occur in any position." ->
                "May the star subpattern occur in any position?"; a longer subject ->
                "Is it true that <sentence>?". "Changed in version 3.7: S." and
                "New in version 3.3: S." become "Since Python 3.7, S." first.

Paraphrases (label match), one rule per pair, picked by the seeded generator among
those that apply
----------------------------------------------------------------------------------
``way``         "How do I X?" -> "What is the way to X?"
``how-can``     "How do I X?" -> "How can I X?"
``best-way``    "How do I X?" -> "What's the best way to X?"
``tell-me``     "How do I X?" -> "Can you tell me how to X?"
``true-that``   "<Aux> S R?" -> "Is it true that S <aux> R?"; "Is it true that S?" ->
                "Is it correct that S?"
``confirm``     "<Aux> S R?" / "Is it true that S?" -> "Can you confirm that S?"
``front``       a trailing phrase " in/for/with/from/using/on/into ..." (no "or"/"and"
                in it, not after "or"/"and"/"of"/an article) of a how-to question moves
                to the front: "How do I X in Y?" -> "In Y, how do I X?"
``synonym``     one word replaced from ``SYNONYMS`` (get/obtain, create/make, ...)
``contraction`` "what is"/"do not"/"is not"/"cannot"/"does not"/"it is" <-> contracted,
                on top of "way" when nothing else applies

Near-misses (label no-match); half of them also get a paraphrase rule, so the two
texts differ by the near-miss and the wording
--------------------------------------------------------------------------------
``number``      one standalone number (digits, or an English number word two..twenty)
                is replaced by a different number of the same shape (same count of
                digits and dots) taken from the numbers of the whole corpus; a word
                number by another word number.
``negation``    a declarative question gets "not" after its auxiliary ("Is X Y?" ->
                "Is X not Y?"; "Is it true that S is R?" -> "... S is not R?"), or loses
                the "not"/"n't"/"never" it has.
``entity``      one name is replaced by another name of the same class from the corpus:
                a dotted or snake_case identifier, a CamelCase identifier, an acronym
                (all capitals), or a capitalised word not opening the sentence.
``unrelated``   two questions from different sources (label no-match).
"""

from __future__ import annotations

import ast
import hashlib
import json
import random
import re
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SEED = 20250515
HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "pairs.jsonl"
COUNTS = {"paraphrase": 280, "number": 90, "negation": 110, "entity": 110, "unrelated": 60}

# fmt: off
STDLIB_MODULES = (
    "argparse", "asyncio/base_events", "asyncio/streams", "base64", "bisect", "calendar",
    "configparser", "contextlib", "copy", "csv", "dataclasses", "datetime", "difflib",
    "email/utils", "enum", "fractions", "ftplib", "functools", "getpass", "gettext", "glob",
    "gzip", "hashlib", "heapq", "hmac", "html/__init__", "http/client", "http/cookies",
    "imaplib", "inspect", "ipaddress", "json/__init__", "locale", "logging/__init__",
    "logging/handlers", "mailbox", "mimetypes", "netrc", "ntpath", "operator", "os",
    "pathlib", "pickle", "platform", "plistlib", "poplib", "posixpath", "pprint", "queue",
    "quopri", "random", "shlex", "shutil", "smtplib", "socket", "socketserver",
    "sqlite3/__init__", "ssl", "statistics", "string", "subprocess", "tarfile", "tempfile",
    "textwrap", "threading", "timeit", "tokenize", "traceback", "typing", "unittest/case",
    "urllib/parse", "urllib/request", "uuid", "warnings", "weakref", "zipfile",
)
# fmt: on
# fmt: off
DJANGO_FOLDERS = (
    "core", "db/models", "forms", "http", "middleware", "template", "urls", "utils",
    "views", "contrib/auth", "contrib/admin", "contrib/sessions", "contrib/staticfiles",
    "contrib/contenttypes",
)
# fmt: on

# fmt: off
VERBS = (
    "return", "get", "set", "create", "convert", "encode", "decode", "parse", "copy",
    "split", "find", "compare", "generate", "remove", "delete", "add", "make", "build",
    "open", "close", "read", "write", "check", "validate", "load", "save", "send", "format",
    "compute", "calculate", "register", "render", "handle", "join", "clear", "reset",
    "update", "sort", "escape", "quote", "unquote", "strip", "replace", "print", "run",
    "start", "stop", "wait", "raise", "count", "test", "normalize", "serialize",
    "deserialize", "resolve", "apply", "list", "fetch", "insert", "append", "extend",
    "install", "configure", "initialize", "call", "construct", "wrap",
)
# fmt: on
AUXILIARIES = ("is", "are", "can", "must", "should", "will", "may")
SYNONYMS = {
    "get": "obtain", "create": "make", "make": "create", "remove": "delete",
    "delete": "remove", "convert": "turn", "find": "locate", "check": "verify",
    "directory": "folder", "build": "construct", "show": "display", "start": "begin",
    "large": "big", "small": "little", "error": "failure", "function": "routine",
    "list": "sequence", "value": "item", "given": "specified", "object": "instance",
    "returns": "gives back", "used": "employed", "called": "invoked",
}  # fmt: skip
CONTRACTIONS = {
    "what is": "what's", "do not": "don't", "is not": "isn't", "cannot": "can't",
    "does not": "doesn't", "it is": "it's", "are not": "aren't", "will not": "won't",
}  # fmt: skip
# fmt: off
WORD_NUMBERS = (
    "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen", "twenty",
)
# fmt: on
TRAILING_PHRASE = re.compile(r"^(.{12,}?) ((?:in|for|with|from|using|on|into) [^,?]{4,40})\?$")


@dataclass(frozen=True)
class Question:
    text: str
    form: str  # imperative | inverted | true-that
    source: str
    subject: str = ""  # declarative forms: the subject and the auxiliary
    aux: str = ""
    rest: str = ""


# -- reading the real text ----------------------------------------------------------


def _clean(text: str) -> str:
    text = re.sub(r":\w+:`~?([^`]+)`", r"\1", text)  # :func:`x` -> x
    text = re.sub(r"``([^`]+)``", r"\1", text)
    text = text.replace("`", "").replace("\n", " ").replace("*", "")
    text = re.sub(r"^(?:Note|Notes|Warning|See also): ", "", text.strip())
    return re.sub(r"\s+", " ", text).strip()


def _first_sentence(doc: str) -> str:
    paragraph = _clean(doc.strip().split("\n\n")[0])
    return re.split(r"(?<=[a-z0-9)\]'\"])\.(?:\s|$)", paragraph)[0].strip()


def _docstrings(path: Path, label: str) -> Iterator[tuple[str, str]]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            doc = ast.get_docstring(node)
            if doc and not node.name.startswith("_"):
                yield f"{label}.{node.name}", _first_sentence(doc)


def sentences() -> Iterator[tuple[str, str]]:
    """(source, sentence) from the standard library, Django and the language reference."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for module in STDLIB_MODULES:
        path = stdlib / f"{module}.py"
        yield from _docstrings(path, "stdlib:" + module.replace("/", "."))
    import django

    root = Path(django.__file__).parent
    for folder in DJANGO_FOLDERS:
        for path in sorted((root / folder).rglob("*.py")):
            if "migrations" not in path.parts:
                label = "django:" + ".".join(path.relative_to(root).with_suffix("").parts)
                yield from _docstrings(path, label)
    from pydoc_data.topics import topics

    for topic in sorted(topics):
        text = _clean(topics[topic])
        for index, sentence in enumerate(re.split(r"(?<=[a-z0-9)\"])\.\s+(?=[A-Z])", text)):
            yield f"pydoc:{topic}#{index}", sentence.strip().rstrip(".")


# -- sentences to questions ---------------------------------------------------------

_SUBJECT = re.compile(
    r"^((?:[\w\"'()-]+ ){0,4}?[\w\"'()-]+) (is|are|can|must|should|will|may) (.+)$"
)
_VERSIONED = re.compile(r"^(?:Changed|New) in version (\d+\.\d+): (.+)$")


def _usable(sentence: str) -> bool:
    words = sentence.split()
    return (
        5 <= len(words) <= 22
        and not re.search(r"[|{}<>=#@]|->|-->|\s[:;]\s|\.\.\.|\betc\b|\be\.?g\b|\bi\.e\b", sentence)
        and sentence[:1].isupper()
        and "(" not in words[0]
        and sentence.count('"') % 2 == 0
        and sentence.count("(") == sentence.count(")")
    )


def _lower_first(text: str) -> str:
    word = text.split(" ", 1)[0]
    if word[1:2].islower() or len(word) == 1 and word not in ("I",):
        return text[:1].lower() + text[1:]
    return text  # an acronym or an identifier keeps its case


def question(source: str, sentence: str) -> Question | None:
    versioned = _VERSIONED.match(sentence)
    if versioned:
        sentence = f"Since Python {versioned.group(1)}, {_lower_first(versioned.group(2))}"
    sentence = sentence.rstrip(".:; ")
    if not _usable(sentence):
        return None
    first, _, rest = sentence.partition(" ")
    if first.lower() in VERBS and first[1:].islower() and rest:
        verb = "get" if first.lower() == "return" else first.lower()
        return Question(f"How do I {verb} {rest}?", "imperative", source)
    match = _SUBJECT.match(sentence)
    if match and not versioned and not match.group(1).lower().startswith(("if ", "when ")):
        subject, aux, rest = match.groups()
        text = f"{aux.capitalize()} {_lower_first(subject)} {rest}?"
        return Question(text, "inverted", source, _lower_first(subject), aux, rest)
    if re.search(r"\b(is|are|can|must|should|will|may|does|do)\b", sentence):
        match = re.search(r"^(.*?)\b(is|are|can|must|should|will|may)\b (.+)$", sentence)
        subject, aux, rest = match.groups() if match else (sentence, "", "")
        text = f"Is it true that {_lower_first(sentence)}?"
        return Question(text, "true-that", source, _lower_first(subject.strip()), aux, rest)
    return None


# -- paraphrase rules ---------------------------------------------------------------


def _body(q: Question) -> str:
    return q.text.removeprefix("How do I ").removesuffix("?")


def _that_clause(q: Question) -> str:
    if q.form == "inverted":
        return f"{q.subject} {q.aux} {q.rest}"
    return q.text.removeprefix("Is it true that ").removesuffix("?")


def _replace_word(text: str, table: dict[str, str], rng: random.Random) -> str | None:
    found = [
        (m.start(), m.group())
        for m in re.finditer(r"\b[a-z]+(?: [a-z]+)?\b", text)
        if m.group() in table
    ]
    found += [
        (m.start(), m.group()) for m in re.finditer(r"\b[a-z]+\b", text) if m.group() in table
    ]
    if not found:
        return None
    start, word = rng.choice(sorted(set(found)))
    return text[:start] + table[word] + text[start + len(word) :]


def paraphrases(q: Question, rng: random.Random) -> dict[str, str]:
    """Every paraphrase rule that applies to ``q``, by rule name."""
    out: dict[str, str] = {}
    if q.form == "imperative":
        body = _body(q)
        out["way"] = f"What is the way to {body}?"
        out["how-can"] = f"How can I {body}?"
        out["best-way"] = f"What's the best way to {body}?"
        out["tell-me"] = f"Can you tell me how to {body}?"
    else:
        clause = _that_clause(q)
        out["confirm"] = f"Can you confirm that {clause}?"
        out["true-that"] = (
            f"Is it true that {clause}?"
            if q.form == "inverted"
            else f"Is it correct that {clause}?"
        )
    trailing = TRAILING_PHRASE.match(q.text)
    if trailing and q.form == "imperative":
        head, phrase = trailing.groups()
        if not re.search(r"\b(?:or|and|of|the|a|an)$", head) and not re.search(
            r"\b(?:or|and)\b", phrase
        ):
            out["front"] = f"{phrase[0].upper()}{phrase[1:]}, {_lower_first(head)}?"
    synonym = _replace_word(q.text, SYNONYMS, rng)
    if synonym:
        out["synonym"] = synonym
    base = out.get("way", q.text)
    contracted = _replace_word(base[:1].lower() + base[1:], CONTRACTIONS, rng)
    if contracted:
        out["contraction"] = contracted[:1].upper() + contracted[1:]
    return out


# -- near-miss rules ----------------------------------------------------------------

_NUMBER = re.compile(r"(?<![\w.\-])\d+(?:\.\d+)?(?![\w-]|\.\d)")
_WORD_NUMBER = re.compile(r"\b(" + "|".join(WORD_NUMBERS) + r")\b")
_IDENTIFIER = re.compile(r"\b[A-Za-z]\w*(?:\.\w+)+(?:\(\))?|\b[a-z]+_\w+(?:\(\))?|\b\w+\(\)")
_CAMEL = re.compile(r"\b[A-Z][a-z]+[A-Z]\w*\b")
_ACRONYM = re.compile(r"\b[A-Z]{2,}\d*\b")
_CAPITALISED = re.compile(r"(?<=[a-z,] )[A-Z][a-z]{2,}\b")
ENTITY_CLASSES = {
    "identifier": _IDENTIFIER,
    "camel": _CAMEL,
    "acronym": _ACRONYM,
    "capitalised": _CAPITALISED,
}


def _shape(number: str) -> tuple[int, ...]:
    return tuple(len(part) for part in number.split("."))


def change_number(text: str, pool: list[str], rng: random.Random) -> str | None:
    digits = list(_NUMBER.finditer(text))
    words = list(_WORD_NUMBER.finditer(text))
    if not digits and not words:
        return None
    match = rng.choice(digits + words)
    old = match.group()
    if old in WORD_NUMBERS:
        new = rng.choice([w for w in WORD_NUMBERS if w != old])
    else:
        same = sorted({n for n in pool if _shape(n) == _shape(old) and n != old})
        new = rng.choice(same) if same else str(int(old.split(".")[0]) + 1)
    return text[: match.start()] + new + text[match.end() :]


def change_negation(q: Question) -> str | None:
    text = q.text
    removed = re.sub(r"\b(not|never) ", "", text, count=1)
    if removed != text:
        return removed
    removed = re.sub(r"n't\b", "", text, count=1)
    if removed != text and "can't" not in text and "won't" not in text:
        return removed
    if q.form == "inverted":
        return f"{q.aux.capitalize()} {q.subject} not {q.rest}?"
    if q.form == "true-that" and q.aux:
        return re.sub(rf"\b{q.aux}\b", f"{q.aux} not", text, count=1)
    return None


def change_entity(
    text: str, pools: dict[str, list[str]], rng: random.Random
) -> tuple[str, str] | None:
    found = [(kind, m) for kind, pattern in ENTITY_CLASSES.items() for m in pattern.finditer(text)]
    if not found:
        return None
    kind, match = rng.choice(found)
    old = match.group()
    words = {w.lower() for w in re.findall(r"\w+", text)}
    choices = [n for n in pools[kind] if n.lower() != old.lower() and n.lower() not in words]
    if not choices:
        return None
    new = rng.choice(choices)
    return text[: match.start()] + new + text[match.end() :], kind


# -- assembling the set -------------------------------------------------------------


def _split(source: str) -> str:
    digest = hashlib.sha256(source.split("#")[0].encode()).digest()
    return "dev" if digest[0] % 2 == 0 else "test"


def build() -> list[dict[str, str]]:
    rng = random.Random(SEED)
    questions: list[Question] = []
    seen: set[str] = set()
    for source, sentence in sentences():
        q = question(source, sentence)
        if q is not None and q.text.lower() not in seen:
            seen.add(q.text.lower())
            questions.append(q)
    numbers = sorted({n for q in questions for n in _NUMBER.findall(q.text)})
    pools = {
        kind: sorted({m.group() for q in questions for m in pattern.finditer(q.text)})
        for kind, pattern in ENTITY_CLASSES.items()
    }
    rng.shuffle(questions)
    pairs: list[dict[str, str]] = []
    used: dict[str, int] = dict.fromkeys(COUNTS, 0)

    def emit(q: Question, b: str, label: str, kind: str, rule: str) -> None:
        pairs.append(
            {
                "a": q.text,
                "b": b,
                "label": label,
                "kind": kind,
                "rule": rule,
                "source": q.source,
                "split": _split(q.source),
            }  # fmt: skip
        )
        used[kind] += 1

    def reworded(b: str, q: Question) -> tuple[str, str]:
        """Half the near-misses also get a paraphrase rule applied to b."""
        if rng.random() < 0.5:
            changed = Question(b, q.form, q.source, q.subject, q.aux, q.rest)
            options = paraphrases(changed, rng)
            options.pop("true-that", None)  # would need the changed subject/aux split
            options.pop("confirm", None)
            if options:
                rule = rng.choice(sorted(options))
                return options[rule], "+" + rule
        return b, ""

    for q in questions:
        # each question serves one pair; the scarce kinds are served first
        number = change_number(q.text, numbers, rng)
        if number and used["number"] < COUNTS["number"]:
            b, extra = reworded(number, q)
            emit(q, b, "no-match", "number", "number" + extra)
            continue
        if q.form != "imperative" and used["negation"] < COUNTS["negation"]:
            negated = change_negation(q)
            if negated:
                b, extra = reworded(negated, q)
                emit(q, b, "no-match", "negation", "negation" + extra)
                continue
        entity = change_entity(q.text, pools, rng)
        if entity and used["entity"] < COUNTS["entity"]:
            b, extra = reworded(entity[0], q)
            emit(q, b, "no-match", "entity", f"entity:{entity[1]}{extra}")
            continue
        if used["paraphrase"] < COUNTS["paraphrase"]:
            options = paraphrases(q, rng)
            rule = rng.choice(sorted(options))
            emit(q, options[rule], "match", "paraphrase", rule)
            continue
        if used["unrelated"] < COUNTS["unrelated"]:
            other = rng.choice(questions)
            if other.source.split(":")[0] != q.source.split(":")[0]:
                emit(q, other.text, "no-match", "unrelated", "unrelated")
    return pairs


def main() -> None:
    pairs = build()
    with OUTPUT.open("w", encoding="utf-8") as out:
        for pair in pairs:
            out.write(json.dumps(pair, ensure_ascii=False) + "\n")
    kinds: dict[str, int] = {}
    for pair in pairs:
        kinds[pair["kind"]] = kinds.get(pair["kind"], 0) + 1
    print(f"{len(pairs)} pairs -> {OUTPUT.relative_to(Path.cwd())}", kinds, file=sys.stderr)


if __name__ == "__main__":
    main()
