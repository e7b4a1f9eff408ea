"""Word-level text normalisation shared by extraction, hints and similarity.

Everything here works on plain strings and knows no course: folding (case, umlauts,
hyphenation), tokenising, a tolerant notion of "the same word" (inflections in English
and German, OCR noise) and a rough English/German language guess.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from functools import lru_cache

_FOLD_MAP = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "œ": "oe"})
# A word broken by a line-end hyphen ("vanish-\ning") is one word.
# Linear: blanks without a newline, the first newline, then possessively the rest (the old `-\s*\n\s*` tried every
# split of a run of newlines: quadratic).
_LINE_BREAK_HYPHEN = re.compile(r"(\w)-[^\S\n]*+\n\s*+(\w)")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
_MARKUP = re.compile(r"(\*\*|__|<\/?[a-zA-Z][^<>]*+>|`)")  # a tag ends before the next '<': linear

# Short words that are complete words, not cut-off fragments, in English and German.
# Used to tell fragments ("Ne", "tor", "ing") from ordinary prose.
EN_FUNCTION_WORDS = frozenset(
    """a an the and or but nor of to in on at by for from with as is are was were be been
    being am it its this that these those there here than then so not no yes do does did
    done can could may might must shall should will would has have had having we you he she
    they them their our your his her him i me my us if else when where which who whom whose
    what why how all any each few more most other some such only own same too very just
    also into onto over under up down out off about above below again once both via per
    new one two six ten use used get got let set put end way due one's ie eg vs etc non
    pre post yet far top low high big own few now own old key act run see say try fit map
    sum max min log exp add mix cut""".split()
)
DE_FUNCTION_WORDS = frozenset(
    """der die das den dem des ein eine einer einen einem eines und oder aber nicht kein
    keine keinen ist sind war waren wird werden wurde wurden sein hat haben hatte mit von
    zu zum zur auf aus bei nach vor über unter für um an am im in ins als wie wenn dass
    da so auch noch nur schon sehr mehr man sich es er sie wir ihr ich du je ab bis durch
    gegen ohne pro dann denn doch weil was wer wo dies diese dieser dieses jede jeder jedes
    kann können muss müssen soll sollte darf ja nein neu alle viel wenig beim vom hier dort
    mal gut eher oft""".split()
)
FUNCTION_WORDS = EN_FUNCTION_WORDS | DE_FUNCTION_WORDS

# Words a phrasing may leave out or word differently without changing what it says
# (folded spelling). Negations are not among them: "ohne Labels" is not "Labels".
STOPWORDS = frozenset(
    """a an the of to in on at by for from with as is are was were be been being and or
    this that these those it its into via der die das den dem des ein eine einer einen
    einem eines und oder ist sind wird werden wurde zu zum zur im am an auf von vom mit
    fuer bei beim durch""".split()
)

# Endings by which inflected forms of one word differ (English and German, after folding).
_INFLECTIONS = frozenset(
    """s es ed d ing ings er ers est en ern em e et t te ten tes ter st n nd nde nden ndes
    ndem nder end ende enden endes endem ender ly ies y ie ion ions ung ungen""".split()
) | {""}
_MIN_STEM = 4
_OCR_MIN_LEN = 5
_OCR_RATIO = 0.85


def fold(text: str) -> str:
    """Lower-case, NFKC, umlauts spelled out (ä -> ae), line-end hyphenation joined."""
    text = _LINE_BREAK_HYPHEN.sub(r"\1\2", text)
    text = unicodedata.normalize("NFKC", text).casefold()
    return text.translate(_FOLD_MAP)


def strip_markup(text: str) -> str:
    """Remove inline markdown/HTML emphasis that converters and students leave around words."""
    return _MARKUP.sub("", text)


# $$...$$, $...$, \[...\], \(...\): found by remove_spans, in linear time (a lazy `.*?` per opener is quadratic
# in a text of many openers without a closer).
_MATH_DELIMITERS = (("$$", "$$"), ("$", "$"), ("\\[", "\\]"), ("\\(", "\\)"))
# What is left of a formula a PDF line cut in two: commands, sub/superscripts, dollars.
_LATEX_PIECES = re.compile(r"\\[A-Za-z]+(?:\{[^{}]*\})?|[_^]\{[^{}]*\}|[_^]\w|[${}]")


def remove_spans(text: str, delimiters: tuple[tuple[str, str], ...], replacement: str = "") -> str:
    """`text` with every span from an opener to the next matching closer replaced, scanning left to right and
    trying the delimiter pairs in order at each position, as an alternation of lazy patterns would; in linear
    time: once a closer is missing after some position it is missing after every later one."""
    missing: set[str] = set()
    upcoming = {opener: -1 for opener, _ in delimiters}  # where each opener occurs next (from `position` on)
    parts, start, position = [], 0, 0
    while True:
        for opener in upcoming:
            if 0 <= upcoming[opener] < position or upcoming[opener] == -1 and opener not in missing:
                upcoming[opener] = text.find(opener, position)
                if upcoming[opener] < 0:
                    missing.add(opener)  # and so never searched again
        found = [index for opener, index in upcoming.items() if index >= 0 and opener not in missing]
        if not found:
            break
        index = min(found)
        end = -1
        for opener, closer in delimiters:
            if opener in missing or not text.startswith(opener, index):
                continue
            close = text.find(closer, index + len(opener))
            if close < 0:
                missing.add(opener)
                continue
            end = close + len(closer)
            break
        if end < 0:
            position = index + 1
            continue
        parts += [text[start:index], replacement]
        start = position = end
    parts.append(text[start:])
    return "".join(parts)


def strip_math(text: str) -> tuple[str, bool]:
    """The text with formulas blanked out, and whether there were any.

    Handles whole formulas ($...$, $$...$$, \\[...\\]) and the halves of one that a line
    break cut, which still show LaTeX commands.
    """
    blanked = remove_spans(text, _MATH_DELIMITERS, " ")
    had_math = blanked != text or bool(re.search(r"\\[A-Za-z]{2,}", text))
    if had_math:
        blanked = _LATEX_PIECES.sub(" ", blanked)
    return blanked, had_math


def words(text: str) -> list[str]:
    """The words of `text` as written (no folding); hyphenated compounds split."""
    return _WORD.findall(strip_markup(text))


def folded_words(text: str) -> list[str]:
    """Folded words; in-word hyphens are dropped so "back-propagation" is one word."""
    joined = re.sub(r"(\w)-(\w)", r"\1\2", fold(strip_markup(text)))
    return _WORD.findall(joined)


# A word as written, hyphenated compounds whole: what folded_word_spans folds one at a time.
_WRITTEN_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")


def folded_word_spans(text: str) -> list[tuple[str, int, int]]:
    """The words of folded_words, each with where it stands in `text` (start and end offsets).

    For showing matched words in the original text. Markup is skipped without moving offsets; each written
    word is folded on its own, so only a line-end hyphenation ("vanish-\\ning") stays two words here.
    """
    blanked = _MARKUP.sub(lambda m: " " * len(m.group()), text)
    spans = []
    for match in _WRITTEN_WORD.finditer(blanked):
        spans.extend((word, match.start(), match.end()) for word in _folded_word(match.group()))
    return spans


@lru_cache(maxsize=65536)
def _folded_word(written: str) -> tuple[str, ...]:
    """A written word folded as folded_words folds it (cached: texts repeat their words)."""
    return tuple(_WORD.findall(re.sub(r"(\w)-(\w)", r"\1\2", fold(written))))


@lru_cache(maxsize=65536)
def same_word(a: str, b: str) -> bool:
    """Whether two folded words are the same word up to inflection or OCR noise.

    Inflection: both share a stem of at least four letters and differ only by endings
    from a small English/German list ("gradient"/"gradienten", "verschwindet"/
    "verschwindende", "vanishes"/"vanishing"). OCR noise: words of five letters or more
    whose difflib ratio is at least 0.85 ("vanishinq"/"vanishing").
    """
    if a == b:
        return True
    shared = 0
    for x, y in zip(a, b):
        if x != y:
            break
        shared += 1
    # Try every split point down to the minimal stem: "gradient|en" vs "gradient|".
    for cut in range(shared, _MIN_STEM - 1, -1):
        if a[cut:] in _INFLECTIONS and b[cut:] in _INFLECTIONS:
            return True
    if len(a) >= _OCR_MIN_LEN and len(b) >= _OCR_MIN_LEN:
        matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
        return matcher.real_quick_ratio() >= _OCR_RATIO and matcher.quick_ratio() >= _OCR_RATIO and matcher.ratio() >= _OCR_RATIO
    return False


def stem(word: str) -> str:
    """A folded word without its longest inflectional ending, keeping at least four letters."""
    for cut in range(_MIN_STEM, len(word)):
        if word[cut:] in _INFLECTIONS:
            return word[:cut]
    return word


def guess_language(text: str) -> str | None:
    """'en', 'de' or None, from function words and umlauts; None when there is no evidence."""
    raw = [w.casefold() for w in words(text)]
    en = sum(w in EN_FUNCTION_WORDS for w in raw)
    de = sum(w in DE_FUNCTION_WORDS for w in raw)
    if re.search(r"[äöüß]", text.casefold()):
        de += 1
    if en == de:
        return None
    return "en" if en > de else "de"
