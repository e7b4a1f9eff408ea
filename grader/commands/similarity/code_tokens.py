"""Python code as a normalised token stream: what stays the same when a copy is disguised.

Python's own tokenizer splits the code; then every identifier becomes `V` (except keywords, builtins and
attribute names after a dot, which a renaming leaves alone and which tell independent solutions apart), every
number `N`, every string `S`; comments, docstrings, blank lines and line breaks inside brackets disappear, and
`;` ends a statement like a line break does. Renaming variables, reformatting, rewording comments and
docstrings therefore changes nothing, and reordered functions keep their own tokens.

Each token keeps its lines (for showing the match) and the question it answers: the cell's question when the
notebook says so, otherwise the question whose checked name the enclosing top-level definition or assignment
has (`def kl_discrete(...)` belongs to the question that checks `kl_discrete`).

The tokenizer is linear in the code's length (the caller caps the length). Code it cannot tokenize (a syntax
error, an unterminated string) is split from that line on by a simple pattern instead, so nothing is dropped.
"""

from __future__ import annotations

import builtins
import io
import keyword
import re
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass, field

NAME, NUMBER, STRING = "V", "N", "S"
STATEMENT_END, INDENT, DEDENT = ";", "<indent>", "<dedent>"
# Names a renaming leaves alone: they say which operations a solution uses.
_KEPT_NAMES = frozenset(name for name in dir(builtins) if not name.startswith("_")) | {"self", "cls"}
_SKIPPED = frozenset({tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER})
# The fallback for code Python cannot tokenize: names, numbers, one-line strings, single characters.
_ROUGH_TOKEN = re.compile(r"[^\W\d]\w*|\d[\w.]*|\"[^\"\n]*\"?|'[^'\n]*'?|\S")


@dataclass
class CodeTokens:
    """A unit's normalised tokens with, per token, its first and last line and its question (or None)."""

    tokens: list[str] = field(default_factory=list)
    lines: list[tuple[int, int]] = field(default_factory=list)
    questions: list[str | None] = field(default_factory=list)
    note: str | None = None  # set when part of the code could not be tokenized as Python


def code_tokens(source: str, question_of_name: Mapping[str, str] | None = None,
                question: str | None = None) -> CodeTokens:
    """The normalised tokens of one code unit (a cell or a file).

    question_of_name maps checked names to their question (see the module docstring); `question` is the
    unit's own question, which wins over any name.
    """
    names = question_of_name or {}
    raw: list[tuple[int, str, int, int]] = []  # (token type, text, first line, last line)
    failed_at: int | None = None
    reason = ""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type not in _SKIPPED:
                raw.append((tok.type, tok.string, tok.start[0], tok.end[0]))
    except (tokenize.TokenError, SyntaxError) as exc:  # IndentationError is a SyntaxError
        failed_at = raw[-1][3] + 1 if raw else 1
        reason = exc.args[0] if exc.args else type(exc).__name__
    result = _normalise(raw, names, question)
    if failed_at is not None:
        _rough_tokens(source, failed_at, result, names, question)
        result.note = f"not valid Python from line {failed_at} ({reason}): compared as plain tokens"
    return result


def _normalise(raw: list[tuple[int, str, int, int]], names: Mapping[str, str], question: str | None) -> CodeTokens:
    out = CodeTokens()
    depth = 0
    line_start = True  # the next token starts a logical line
    statement_start = 0  # where the current logical line's tokens begin in `out`
    top = _TopLevel(names)
    index = 0
    while index < len(raw):
        kind, text, first, last = raw[index]
        if kind == tokenize.INDENT:
            depth += 1
            token = INDENT
        elif kind == tokenize.DEDENT:
            depth -= 1
            token = DEDENT
        elif kind == tokenize.NEWLINE:
            if out.tokens and out.tokens[-1] == STATEMENT_END:  # `x = 1;` ends its statement once
                index += 1
                line_start = True
                continue
            token = STATEMENT_END
        elif kind == tokenize.STRING and line_start and _ends_statement(raw, index):
            index += 2  # a docstring or a bare string: a comment in all but name
            continue
        else:
            token = _normal(kind, text, raw[index - 1][1] if index else "")
            if line_start:
                statement_start = len(out.tokens)
            if depth == 0 and top.see(kind, text, line_start) and question is None:
                # `def name`: the keywords before the name belong to its question too.
                out.questions[statement_start:] = [top.question] * (len(out.tokens) - statement_start)
        out.tokens.append(token)
        out.lines.append((first, last))
        out.questions.append(question or top.question)
        line_start = kind in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
        index += 1
    return out


class _TopLevel:
    """Which question the current top-level statement belongs to, from the name it defines or assigns."""

    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = names
        self.question: str | None = None
        self._definition = False  # after `def`/`class`: the next name is the one defined

    def see(self, kind: int, text: str, line_start: bool) -> bool:
        """Take the next top-level token; True when it was the name a `def` or `class` defines."""
        if line_start:
            self._definition = text in ("def", "class", "async")
            self.question = self.names.get(text) if kind == tokenize.NAME and not self._definition else None
        elif self._definition and kind == tokenize.NAME and text not in ("def", "class"):
            self.question = self.names.get(text)
            self._definition = False
            return True
        return False


def _ends_statement(raw: list[tuple[int, str, int, int]], index: int) -> bool:
    return index + 1 < len(raw) and raw[index + 1][0] == tokenize.NEWLINE


def _normal(kind: int, text: str, previous: str) -> str:
    if kind == tokenize.NAME:
        if keyword.iskeyword(text) or text in _KEPT_NAMES or previous == ".":
            return text
        return NAME
    if kind == tokenize.NUMBER:
        return NUMBER
    if kind == tokenize.STRING:
        return STRING
    return text


def _rough_tokens(source: str, from_line: int, out: CodeTokens, names: Mapping[str, str],
                  question: str | None) -> None:
    """Lines from `from_line` on, split by a simple linear pattern; a line end ends a statement."""
    top = _TopLevel(names)
    previous = ""
    for number, line in enumerate(source.splitlines()[from_line - 1:], start=from_line):
        pieces = _ROUGH_TOKEN.findall(line)
        if not pieces or pieces[0].startswith("#"):
            continue
        for position, piece in enumerate(pieces):
            if piece[0] in "'\"":
                token = STRING
            elif piece[0].isdigit():
                token = NUMBER
            elif piece[0].isalpha() or piece[0] == "_":
                token = piece if keyword.iskeyword(piece) or piece in _KEPT_NAMES or previous == "." else NAME
            else:
                token = piece
            if not line[:1].isspace():
                top.see(tokenize.NAME if token != piece or piece.isidentifier() else tokenize.OP, piece,
                        position == 0)
            previous = piece
            out.tokens.append(token)
            out.lines.append((number, number))
            out.questions.append(question or top.question)
        out.tokens.append(STATEMENT_END)
        out.lines.append((number, number))
        out.questions.append(question or top.question)
