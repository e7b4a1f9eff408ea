"""Choosing the one file of a hand-in that gets graded, by a rule the feedback states.

Notebooks come first, Python scripts only when there is no notebook. PDFs, Markdown and text
files are listed apart as written answers. The reason returned is shown to students verbatim.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.intake.flags import Flag

NOTEBOOK_SUFFIX = ".ipynb"
SCRIPT_SUFFIX = ".py"
WRITTEN_ANSWER_SUFFIXES = (".pdf", ".md", ".txt")

SELECTION_RULE = (
    "Among several candidates the grader passes over scripts that another script of the hand-in imports "
    "(they are its helper modules), prefers a name that mentions the sheet or says solution or "
    "submission, then avoids names that look like a template, a copy or Untitled, then takes the one "
    "with the most code, then the one nearest the top folder, then the first in alphabetical order."
)

# Letters around a word must not continue it ("bold" is not "old", "domain" is not "main");
# '_', '-', '.', digits may.
_HAND_IN_RE = re.compile(r"(?<![a-zäöü])(solutions?|submissions?|lösung(?:en)?|loesung(?:en)?|abgabe|main)(?![a-zäöü])")
_LEFTOVER_RE = re.compile(
    r"(?<![a-zäöü])(template|vorlage|copy|kopie|untitled|unbenannt|backup|old|checkpoint)(?![a-zäöü])"
)
# Notebooks larger than this are not parsed for ranking; they count as having no code.
_MAX_RANKING_READ = 50 * 1024 * 1024


@dataclass(frozen=True)
class MainFileChoice:
    """The file to grade (relative path inside the hand-in) and why, in a sentence for students."""

    path: str | None
    reason: str
    candidates: tuple[str, ...]
    written_answers: tuple[str, ...]
    flags: tuple[Flag, ...]


@dataclass(frozen=True)
class _Candidate:
    path: str
    name: str  # lower-case file name, for the name rules
    code: int
    depth: int
    imports: frozenset[str] = frozenset()  # top-level modules a script imports


def choose_main_file(root: Path, files: Sequence[str], sheet_hint: str | None = None) -> MainFileChoice:
    """Pick the notebook (else script) to grade among `files`, relative paths under `root`.

    `sheet_hint` is the sheet's number or id ("11"); a name that mentions it is preferred.
    Nothing is executed: notebooks are only read as JSON to count their code cells.
    """
    written = tuple(sorted(f for f in files if f.lower().endswith(WRITTEN_ANSWER_SUFFIXES)))
    notebooks = sorted(f for f in files if f.lower().endswith(NOTEBOOK_SUFFIX))
    scripts = sorted(f for f in files if f.lower().endswith(SCRIPT_SUFFIX))
    paths, kind = (notebooks, "notebook") if notebooks else (scripts, "script")

    if not paths:
        reason = "No notebook (.ipynb) or Python script (.py) was found in the hand-in, so there is no code to grade."
        if written:
            reason += f" Written answers found: {_quoted(written)}."
        return MainFileChoice(None, reason, (), written, (Flag("no_notebook", reason),))

    if len(paths) == 1:
        only = paths[0]
        if kind == "notebook":
            reason = f"'{only}' is the only notebook in the hand-in, so it was graded."
        else:
            reason = f"There is no notebook in the hand-in; the only Python script, '{only}', was graded."
        return MainFileChoice(only, reason, (only,), written, ())

    candidates = [_describe(root, path, kind) for path in paths]
    chosen, why = _rank(candidates, kind, sheet_hint)
    main = next(c for c in candidates if c.path == chosen)
    helpers = [c.path for c in candidates if PurePosixPath(c.path).stem in main.imports]
    if kind == "script" and len(helpers) == len(paths) - 1:
        # Nothing to choose between: the other scripts are the hand-in's own modules, imported by this one.
        reason = f"There is no notebook in the hand-in; '{chosen}' was graded, and it imports {_quoted(helpers)}."
        return MainFileChoice(chosen, reason, tuple(paths), written, ())
    found = f"{len(paths)} {kind}s were found ({_quoted(paths)})"
    reason = f"{found}; '{chosen}' was graded because {why}. {SELECTION_RULE}"
    flag = Flag("several_notebooks", f"{found}; '{chosen}' was graded because {why}")
    return MainFileChoice(chosen, reason, tuple(paths), written, (flag,))


def _rank(candidates: list[_Candidate], kind: str, sheet_hint: str | None) -> tuple[str, str]:
    """Apply the rules in order; the rule that leaves one candidate is the reason given."""
    code_unit = "non-empty code cells" if kind == "notebook" else "lines of code"
    hint_re = re.compile(rf"(?<!\d){re.escape(sheet_hint.lower())}(?!\d)") if sheet_hint else None

    def hand_in_word(candidate: _Candidate) -> str | None:
        if hint_re is not None and hint_re.search(candidate.name):
            return f"the sheet ({sheet_hint})"
        match = _HAND_IN_RE.search(candidate.name)
        return f"'{match.group(1)}'" if match else None

    imported = {name for c in candidates for name in c.imports}

    def helper(candidate: _Candidate) -> bool:
        module = PurePosixPath(candidate.path).stem
        return any(module in other.imports for other in candidates if other is not candidate)

    rules: list[tuple[Callable[[_Candidate], object], Callable[[_Candidate, list[_Candidate]], str]]] = [
        (
            lambda c: not (kind == "script" and imported and helper(c)),
            lambda c, rest: "the other scripts are helper modules that a script of the hand-in imports ("
            + _quoted([r.path for r in rest if r is not c]) + ")",
        ),
        (
            lambda c: hand_in_word(c) is not None,
            lambda c, rest: f"its name mentions {hand_in_word(c)}",
        ),
        (
            lambda c: _LEFTOVER_RE.search(c.name) is None,
            lambda c, rest: "its name does not look like a template, a copy or a draft, unlike "
            + _quoted([r.path for r in rest if r is not c]),
        ),
        (
            lambda c: c.code,
            lambda c, rest: f"it has the most {code_unit} ({c.code}, the next has "
            f"{max(r.code for r in rest if r is not c)})",
        ),
        (lambda c: -c.depth, lambda c, rest: "it sits nearest the top folder"),
    ]
    remaining = candidates
    for score, explain in rules:
        best = max(score(c) for c in remaining)  # type: ignore[type-var]
        kept = [c for c in remaining if score(c) == best]
        if len(kept) == 1:
            return kept[0].path, explain(kept[0], remaining)
        remaining = kept
    first = min(remaining, key=lambda c: (c.path.casefold(), c.path))
    return first.path, "the candidates tie on every other rule and it comes first in alphabetical order"


def _describe(root: Path, path: str, kind: str) -> _Candidate:
    pure = PurePosixPath(path)
    count = _count_code(root / path, kind)
    imports = _script_imports(root / path) if kind == "script" else frozenset()
    return _Candidate(path=path, name=pure.name.lower(), code=count, depth=len(pure.parts) - 1, imports=imports)


def _script_imports(path: Path) -> frozenset[str]:
    """The modules a script imports (first part of each name, and names imported from the current package)."""
    try:
        if path.stat().st_size > _MAX_RANKING_READ:
            return frozenset()
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError, RecursionError):
        return frozenset()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.module and not node.level:
                names.add(node.module.split(".")[0])
            elif node.level:
                names.update(alias.name for alias in node.names)
                if node.module:
                    names.add(node.module.split(".")[0])
    return frozenset(names)


def _count_code(path: Path, kind: str) -> int:
    try:
        if path.stat().st_size > _MAX_RANKING_READ:
            return 0
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return 0
    if kind == "script":
        return sum(1 for line in text.splitlines() if line.strip() and not line.strip().startswith("#"))
    try:
        notebook = json.loads(text)
    except ValueError:
        return 0  # not valid JSON: it will fail later with a clear error; here it just ranks last
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        return 0
    return sum(
        1
        for cell in cells
        if isinstance(cell, dict) and cell.get("cell_type") == "code" and _source_text(cell.get("source")).strip()
    )


def _source_text(source: object) -> str:
    if isinstance(source, str):
        return source
    if isinstance(source, list):
        return "".join(part for part in source if isinstance(part, str))
    return ""


def _quoted(paths: Sequence[str]) -> str:
    return ", ".join(f"'{p}'" for p in paths)


def chosen_but_not_graded(reason: str) -> str:
    """The main-file sentence for a hand-in whose chosen file could not be graded (over the size cap, not a
    notebook): "... so it was graded." would contradict the "not graded" beside it."""
    return reason.replace("was graded", "was chosen for grading")
