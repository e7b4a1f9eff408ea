"""Which language a notebook is written in, from its own metadata (nothing is run).

Jupyter records the kernel a notebook was saved from (`metadata.kernelspec`: name, display_name, language) and
the language it ran (`metadata.language_info.name`). R and Julia notebooks were run as Python before, a dozen
failing cells and not a word about the language. Now a notebook whose metadata names another language is not
run: it gets the flag `other_kernel` naming the kernel, and its written answers are still read for the tutors.
A notebook that says nothing (hand-written JSON, nbformat 3 files) is taken to be Python, as Jupyter does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Kernel names whose language is clear even when the notebook does not name it (IRkernel, IJulia, ...).
_KERNEL_LANGUAGES = (("ir", "R"), ("julia", "Julia"), ("scala", "Scala"), ("javascript", "JavaScript"),
                     ("typescript", "TypeScript"), ("bash", "Bash"), ("octave", "Octave"), ("matlab", "MATLAB"),
                     ("sas", "SAS"), ("xcpp", "C++"), ("cling", "C++"), ("java", "Java"), ("go", "Go"),
                     ("rust", "Rust"), ("sos", "SoS"), ("haskell", "Haskell"))


@dataclass(frozen=True)
class NotebookLanguage:
    language: str  # "python", "R", "Julia", ... as the notebook names it
    kernel: str  # the kernel's display name or name, "" when the notebook names none

    @property
    def is_python(self) -> bool:
        return self.language.strip().casefold() in ("python", "python3", "python2", "ipython", "")

    def describe(self) -> str:
        kernel = f"the {self.kernel} kernel" if self.kernel else "a kernel"
        return f"{kernel} ({self.language})" if self.language.casefold() not in self.kernel.casefold() else kernel


def notebook_language(raw: dict) -> NotebookLanguage:
    """The language of a notebook's JSON (a dict): language_info.name, else kernelspec.language, else what the
    kernel's name says; Python when nothing says otherwise."""
    metadata = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
    spec = metadata.get("kernelspec") if isinstance(metadata.get("kernelspec"), dict) else {}
    info = metadata.get("language_info") if isinstance(metadata.get("language_info"), dict) else {}
    kernel = _text(spec.get("display_name")) or _text(spec.get("name"))
    language = _text(info.get("name")) or _text(spec.get("language"))
    if not language:
        name = _text(spec.get("name")).casefold()
        language = next((lang for prefix, lang in _KERNEL_LANGUAGES if re.match(rf"{prefix}(?![a-z])", name)), "")
    return NotebookLanguage(language=language or "python", kernel=kernel)


def _text(value: object) -> str:
    return value.strip()[:80] if isinstance(value, str) else ""
