"""A cheap guess of a text's language from its Unicode scripts.

No language-identification model is installed with llmopt, and chunking only needs the
language for two things: to pick sentence rules (sentencex's per-language abbreviations
and punctuation) and to label chunks. So this counts letters per script in a sample of
the text: Hiragana or Katakana means Japanese, Han alone Chinese, Hangul Korean, and so
on for the scripts one language dominates. Latin text is told apart by its commonest
function words (English, French, German, Spanish, Italian, Portuguese, Dutch), and
defaults to English; Cyrillic is Russian and Arabic script Arabic, which is wrong for
Ukrainian, Persian or Urdu. ``"und"`` (undetermined) means no letters at all.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Final

_SAMPLE: Final = 2_000

# The first word of a character's Unicode name, for the scripts with one main language.
_SCRIPT_LANGUAGE: Final = {
    "HIRAGANA": "ja",
    "KATAKANA": "ja",
    "CJK": "zh",
    "HANGUL": "ko",
    "THAI": "th",
    "LAO": "lo",
    "KHMER": "km",
    "MYANMAR": "my",
    "ARABIC": "ar",
    "HEBREW": "he",
    "CYRILLIC": "ru",
    "GREEK": "el",
    "DEVANAGARI": "hi",
    "BENGALI": "bn",
    "TAMIL": "ta",
    "TELUGU": "te",
    "GUJARATI": "gu",
    "GURMUKHI": "pa",
    "KANNADA": "kn",
    "MALAYALAM": "ml",
    "GEORGIAN": "ka",
    "ARMENIAN": "hy",
    "ETHIOPIC": "am",
    "LATIN": "latin",
}

_FUNCTION_WORDS: Final = {
    "en": {"the", "and", "of", "to", "is", "in", "that", "it", "with", "for"},
    "fr": {"le", "la", "les", "et", "des", "est", "une", "dans", "que", "pour"},
    "de": {"der", "die", "und", "das", "ist", "nicht", "mit", "ein", "eine", "zu"},
    "es": {"el", "los", "las", "y", "es", "una", "por", "con", "para", "del"},
    "it": {"il", "di", "che", "è", "per", "una", "non", "con", "gli", "della"},
    "pt": {"o", "os", "e", "não", "uma", "com", "para", "do", "da", "em"},
    "nl": {"de", "het", "een", "en", "van", "is", "niet", "dat", "op", "te"},
}
_WORD: Final = re.compile(r"[^\W\d_]+")


def detect_language(text: str) -> str:
    """An ISO 639-1 code for ``text``'s main language by script, or ``"und"``."""
    sample = text[:_SAMPLE]
    scripts: Counter[str] = Counter()
    for char in sample:
        if char.isalpha():
            name = unicodedata.name(char, "")
            scripts[_SCRIPT_LANGUAGE.get(name.split(" ", 1)[0], "other")] += 1
    if not scripts:
        return "und"
    if scripts["ja"]:  # kana appear in any Japanese sentence, with Han around them
        return "ja"
    script, _ = scripts.most_common(1)[0]
    if script == "latin":
        return _latin_language(sample)
    return "und" if script == "other" else script


def _latin_language(sample: str) -> str:
    words = Counter(word.lower() for word in _WORD.findall(sample))
    scores = {
        code: sum(words[word] for word in vocabulary)
        for code, vocabulary in _FUNCTION_WORDS.items()
    }
    best = max(scores, key=lambda code: scores[code])
    return best if scores[best] > scores["en"] else "en"
