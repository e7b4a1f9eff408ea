"""A large folder of sheet 02 hand-ins for the similarity benchmark: each group's own code and prose, plus
planted copies.

Every hand-in is the released template (the master without its solutions) with each solution filled in by
a randomly generated function body (statements over the function's parameters and numpy/torch calls, cheap
to run: no products that grow with the input), one or two extra cells of the group's own experiments, and
written answers made of sentences drawn from the course's own vocabulary (the template's and the model
answers' words, weighted by a Zipf law, so common words are common). Planted among them:

- code copies: another group's solution cells with every local name replaced and the cells in another order;
- prose copies: another group's answers with two sentences replaced;
- a ring of four groups handing in the same notebook (under their own names).

Everything is seeded: the same N gives the same zips. Names are invented.
"""

from __future__ import annotations

import copy
import csv
import io
import random
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.rubric.model_answers import load_model_answers
from grader.rubric.notebooks import cell_meta, make_template

_ZIP_TIME = (2025, 1, 27, 12, 0, 0)
_FUNCTIONS = ("np.exp", "np.tanh", "np.abs", "np.sqrt", "np.log1p", "np.square", "np.negative", "np.sin",
              "np.cos", "np.clip", "np.maximum", "np.minimum", "np.where", "np.expm1", "np.arctan", "np.sign",
              "np.floor", "np.ceil", "np.round", "np.cbrt", "np.reciprocal", "np.fabs", "np.hypot", "np.fmax",
              "np.fmin", "np.logaddexp", "np.arcsinh", "np.sinh", "np.cosh", "np.nan_to_num", "np.atleast_1d",
              "np.ravel", "np.copy", "np.positive", "np.float64")
_REDUCTIONS = ("np.sum", "np.mean", "np.max", "np.min", "np.prod", "np.std", "np.median", "np.var", "np.ptp",
               "np.nansum", "np.nanmean", "np.amax", "np.amin", "np.average", "np.linalg.norm", "np.count_nonzero")
_METHODS = (".sum()", ".mean()", ".ravel()", ".copy()", ".max()", ".min()", ".flatten()", ".squeeze()",
            ".astype(float)", ".clip(-5, 5)", ".cumsum()", ".round(3)", "[::-1]", "[1:]", "[:-1]", "[..., None]")
_NAMES = ("acc", "tmp", "val", "res", "part", "scale", "weight", "term", "shift", "norm", "ratio", "piece",
          "left", "right", "mid", "step", "factor", "total", "base", "delta", "gain", "mask_val", "offset")
_FIRST = ("Mara", "Tomas", "Ilse", "Kwame", "Noor", "Oskar", "Priya", "Ruben", "Sanna", "Teo", "Ugo", "Vera",
          "Wanda", "Xaver", "Yara", "Zeno", "Alma", "Bodo", "Cleo", "Dario")
_LAST = ("Lindqvist", "Baumgart", "Okonkwo", "Haddad", "Strand", "Varga", "Iyer", "Moreau", "Kettunen", "Abara",
         "Castell", "Dorn", "Esposito", "Falk", "Gruber", "Holm", "Ibsen", "Jansen", "Kovac", "Larsen")


@dataclass
class Plan:
    """What the generated set holds: the zips, and which pairs were planted as copies."""

    zips: list[Path] = field(default_factory=list)
    code_copies: list[tuple[str, str]] = field(default_factory=list)
    prose_copies: list[tuple[str, str]] = field(default_factory=list)
    ring: list[str] = field(default_factory=list)

    @property
    def planted(self) -> set[frozenset[str]]:
        pairs = {frozenset(p) for p in self.code_copies + self.prose_copies}
        pairs |= {frozenset({a, b}) for i, a in enumerate(self.ring) for b in self.ring[i + 1:]}
        return pairs


def generate(count: int, dest: Path, course: Path, seed: int = 20) -> Plan:
    rng = random.Random(seed)
    master = nbformat.read(str(course / "reference" / "notebooks" / "sheet02_master.ipynb"), as_version=4)
    template = make_template(master)
    vocabulary = _vocabulary(course, template)
    groups: list[tuple[list[str], dict[str, str], list[str]]] = []  # (solution cells, answers, extra cells)
    for _ in range(count):
        groups.append((_solutions(template, rng), _answers(template, vocabulary, rng), _extra_cells(rng)))
    plan = Plan()
    names = [_team_name(number) for number in range(count)]
    copies = max(2, count // 50)
    # Planted copies: later groups copy earlier ones (never another copy).
    for number in range(copies):
        source, copier = 2 * number, count - 1 - 2 * number
        solutions = [_renamed(cell, rng) for cell in groups[source][0]]
        groups[copier] = (solutions, groups[copier][1], groups[copier][2][::-1])
        plan.code_copies.append((names[source], names[copier]))
        source, copier = 2 * number + 1, count - 2 - 2 * number
        answers = _two_sentences_changed(groups[source][1], vocabulary, rng)
        groups[copier] = (groups[copier][0], answers, groups[copier][2])
        plan.prose_copies.append((names[source], names[copier]))
    ring = list(range(count // 2, count // 2 + 4))
    for member in ring[1:]:
        groups[member] = groups[ring[0]]
    plan.ring = [names[m] for m in ring]
    dest.mkdir(parents=True, exist_ok=True)
    for number, (solutions, answers, extra) in enumerate(groups):
        notebook = _notebook(template, solutions, answers, extra, shuffle=number in {c for _, c in
                                                                                     plan.code_copies})
        path = dest / names[number]
        path.write_bytes(_zip(nbformat.writes(notebook).encode("utf-8")))
        plan.zips.append(path)
    with (dest / "manifest.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "timestamp"])
        writer.writerows([p.name, "2025-01-29T20:00:00+01:00"] for p in plan.zips)
    return plan


def _team_name(number: int) -> str:
    first = f"{_LAST[number % 20]}{_FIRST[(number // 20) % 20]}"
    return f"{first}_{2400000 + 2 * number}_{_LAST[(number * 7 + 3) % 20]}_{2400001 + 2 * number}.zip"


def _vocabulary(course: Path, template: nbformat.NotebookNode) -> list[str]:
    answers = load_model_answers(course / "reference" / "answers" / "sheet02.yaml")
    text = " ".join([a.model_answer + " " + a.question for a in answers.questions.values()]
                    + [c.source for c in template.cells if c.cell_type == "markdown"])
    words = sorted(set(re.findall(r"[A-Za-z][a-z]{2,}", text)))
    return words


# --- code ----------------------------------------------------------------------------------------------


def _solutions(template: nbformat.NotebookNode, rng: random.Random) -> list[str]:
    """Each solution cell of the template, filled in with a generated body."""
    cells = []
    for cell in template.cells:
        if cell.cell_type != "code" or cell_meta(cell).get("role") != "solution":
            continue
        params = re.findall(r"def \w+\(([^)]*)\)", cell.source)
        names = [p.strip() for p in params[0].split(",")] if params else []
        # A region inside a function gets a body over its parameters; one at the top level an assignment.
        cells.append(re.sub(r"(?m)^(\s*)# YOUR CODE HERE\n\s*raise NotImplementedError\(\)",
                            lambda m, n=names: _body(n if m.group(1) else [], rng, m.group(1)), cell.source))
    return cells


def _body(params: list[str], rng: random.Random, indent: str) -> str:
    if not params:  # a top-level answer (1c's flag, 3c's P and Q)
        return f"{indent}answer_{rng.randrange(1000)} = [{rng.random():.3f}, {rng.random():.3f}]"
    known = [f"np.asarray({p}, dtype=float)" for p in params]
    lines = []
    for step in range(rng.randint(3, 9)):
        name = f"{rng.choice(_NAMES)}_{step}"
        lines.append(f"{name} = {_expression(known, rng, 2)}")
        known.append(name)
        if rng.random() < 0.2:
            lines.append(f"if np.all(np.isfinite({name})):\n    {name} = {name} * {rng.random():.2f}")
    lines.append(f"return {rng.choice(_REDUCTIONS)}({_expression(known, rng, 1)})")
    return "\n".join(indent + line.replace("\n", "\n" + indent) for line in lines)


def _expression(known: list[str], rng: random.Random, depth: int) -> str:
    roll = rng.random()
    if depth == 0 or roll < 0.3:
        return rng.choice(known) if rng.random() < 0.7 else f"{rng.uniform(-3, 3):.2f}"
    if roll < 0.45:
        return f"np.asarray({_expression(known, rng, depth - 1)}){rng.choice(_METHODS)}"
    if roll < 0.65:
        function = rng.choice(_FUNCTIONS)
        arguments = {"np.clip": 3, "np.maximum": 2, "np.minimum": 2, "np.where": 3, "np.hypot": 2, "np.fmax": 2,
                     "np.fmin": 2, "np.logaddexp": 2}.get(function, 1)
        if function == "np.where":
            return f"np.where({_expression(known, rng, depth - 1)} > 0, {_expression(known, rng, depth - 1)}, " \
                   f"{_expression(known, rng, depth - 1)})"
        return f"{function}({', '.join(_expression(known, rng, depth - 1) for _ in range(arguments))})"
    if roll < 0.8:
        return f"{rng.choice(_REDUCTIONS)}({_expression(known, rng, depth - 1)})"
    operator = rng.choice(["+", "-", "*"])
    return f"({_expression(known, rng, depth - 1)} {operator} {_expression(known, rng, depth - 1)})"


def _extra_cells(rng: random.Random) -> list[str]:
    cells = []
    for _ in range(rng.randint(1, 2)):
        known = ["np.linspace(0.0, 1.0, 16)"]
        lines = []
        for step in range(rng.randint(4, 10)):
            name = f"{rng.choice(_NAMES)}_x{step}"
            lines.append(f"{name} = {_expression(known, rng, 2)}")
            known.append(name)
        lines.append(f"print({', '.join(rng.sample(known[1:], min(3, len(known) - 1)))})")
        cells.append("\n".join(lines))
    return cells


def _renamed(cell: str, rng: random.Random) -> str:
    """The cell with every generated local name replaced (what a copier does first)."""
    return re.sub(r"\b(" + "|".join(_NAMES) + r")_(x?\d+)\b",
                  lambda m: f"{m.group(1)[::-1]}{m.group(2)}", cell)


# --- prose ---------------------------------------------------------------------------------------------


def _answers(template: nbformat.NotebookNode, vocabulary: list[str], rng: random.Random) -> dict[str, str]:
    answers = {}
    for cell in template.cells:
        cell_id = cell_meta(cell).get("id")
        if cell.cell_type == "markdown" and "YOUR ANSWER HERE" in cell.source and rng.random() < 0.85:
            answers[cell_id] = " ".join(_sentence(vocabulary, rng) for _ in range(rng.randint(2, 6)))
    return answers


def _sentence(vocabulary: list[str], rng: random.Random) -> str:
    # Zipf weights over a fixed random order of the vocabulary: a few words are frequent, most are rare.
    order = _zipf_order(vocabulary)
    words = rng.choices(order[0], weights=order[1], k=rng.randint(8, 20))
    return " ".join(words).capitalize() + "."


_ZIPF: dict[int, tuple[list[str], list[float]]] = {}


def _zipf_order(vocabulary: list[str]) -> tuple[list[str], list[float]]:
    key = id(vocabulary)
    if key not in _ZIPF:
        shuffled = vocabulary[:]
        random.Random(7).shuffle(shuffled)
        _ZIPF[key] = (shuffled, [1.0 / (rank + 1) for rank in range(len(shuffled))])
    return _ZIPF[key]


def _two_sentences_changed(answers: dict[str, str], vocabulary: list[str], rng: random.Random) -> dict[str, str]:
    changed = dict(answers)
    for cell_id in rng.sample(sorted(changed), min(2, len(changed))):
        sentences = changed[cell_id].split(". ")
        sentences[rng.randrange(len(sentences))] = _sentence(vocabulary, rng).rstrip(".")
        changed[cell_id] = ". ".join(sentences)
    return changed


# --- the hand-in ---------------------------------------------------------------------------------------


def _notebook(template: nbformat.NotebookNode, solutions: list[str], answers: dict[str, str], extra: list[str],
              *, shuffle: bool) -> nbformat.NotebookNode:
    notebook = copy.deepcopy(template)
    fill = iter(solutions)
    for cell in notebook.cells:
        meta = cell_meta(cell)
        if cell.cell_type == "code" and meta.get("role") == "solution":
            cell.source = next(fill)
        elif cell.cell_type == "markdown" and meta.get("id") in answers:
            cell.source = cell.source.replace("YOUR ANSWER HERE", answers[meta["id"]])
        cell.get("metadata", {}).pop("grader", None)
    notebook.cells.extend(nbformat.v4.new_code_cell(source) for source in extra)
    if shuffle:  # the copier moved the code cells around
        code = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
        moved = [notebook.cells[i] for i in code[::-1]]
        for i, cell in zip(code, moved):
            notebook.cells[i] = cell
    return notebook


def _zip(notebook: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("sheet02.ipynb", date_time=_ZIP_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, notebook)
    return buffer.getvalue()

