"""Reading ease of a message, by the Flesch formula adapted to its language.

Written here rather than taken from textstat: textstat now needs nltk and downloads the
CMU dictionary over the network on first use for English, and keeps the language as
module state shared by every request. Syllables are counted as vowel groups (with a
silent final "e" in English and French), which is what the adapted formulas were
calibrated on closely enough for a warning; the reviewer still reads the text.
"""

import re
from dataclasses import dataclass

# (name, base, weight of words per sentence, weight of syllables per word)
FORMULAS: dict[str, tuple[str, float, float, float]] = {
    "en": ("Flesch reading ease", 206.835, 1.015, 84.6),
    "de": ("Flesch-Amstad", 180.0, 1.0, 58.5),
    "fr": ("Kandel-Moles", 207.0, 1.015, 73.6),
    "es": ("Fernández Huerta", 206.84, 1.02, 60.0),
    "it": ("Flesch-Vacca", 217.0, 1.3, 60.0),
    "nl": ("Flesch-Douma", 206.835, 0.93, 77.0),
}
_VOWELS = "aeiouyàâäáéèêëíìîïóòôöúùûüýÿæœå"
_VOWEL_GROUP = re.compile(f"[{_VOWELS}]+")
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*")
_SENTENCE_END = re.compile(r"[.!?;:]+(?:\s|$)|\n\s*\n")


@dataclass(frozen=True)
class Readability:
    language: str
    formula: str
    score: float
    words: int
    sentences: int

    @property
    def band(self) -> str:
        if self.score >= 70:
            return "easy"
        if self.score >= 60:
            return "plain"
        if self.score >= 50:
            return "fairly difficult"
        if self.score >= 30:
            return "difficult"
        return "very difficult"


def syllables(word: str, language: str) -> int:
    lowered = word.lower()
    count = len(_VOWEL_GROUP.findall(lowered))
    if language in {"en", "fr"} and lowered.endswith("e") and not lowered.endswith("le"):
        count -= 1
    return max(count, 1)


def reading_ease(text: str, language: str) -> Readability | None:
    """The score (higher is easier, about 0-100), or None for a language with no formula
    here or a text without words."""
    primary = language.lower().replace("_", "-").split("-")[0]
    if primary not in FORMULAS:
        return None
    words = _WORD.findall(text)
    if not words:
        return None
    sentences = max(len([s for s in _SENTENCE_END.split(text.strip()) if _WORD.search(s)]), 1)
    syllable_count = sum(syllables(word, primary) for word in words)
    name, base, sentence_weight, syllable_weight = FORMULAS[primary]
    score = (
        base
        - sentence_weight * (len(words) / sentences)
        - syllable_weight * (syllable_count / len(words))
    )
    return Readability(
        language=primary,
        formula=name,
        score=round(score, 1),
        words=len(words),
        sentences=sentences,
    )
