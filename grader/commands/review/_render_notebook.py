"""Child process: ran.ipynb (path in argv[1]) as sanitised HTML on stdout. Run by grader.commands.review.notebook only.

The notebook holds what a hand-in's code printed and drew; nbconvert parses its Markdown and outputs, so this
runs in its own process under CPU and memory limits (set by the parent before this module is imported), and
the HTML it writes is cleaned by nh3 (an allow-list: no script, no event handler, no style sheet, no URL but
anchors and data: images) before it leaves this process.
"""

from __future__ import annotations

import sys


def main(path: str) -> None:
    import nbformat
    import nh3
    from nbconvert import HTMLExporter

    notebook = nbformat.read(path, as_version=4)
    exporter = HTMLExporter(template_name="basic")
    exporter.exclude_input_prompt = False
    body, _ = exporter.from_notebook_node(notebook)
    attributes = {tag: {"class", "id"} for tag in ("div", "span", "pre", "code", "table", "td", "th", "tr", "p",
                                                    "h1", "h2", "h3", "h4", "h5", "h6")}
    attributes["img"] = {"src", "alt", "width", "height", "class"}
    attributes["a"] = {"href", "class"}
    clean = nh3.clean(body, attributes=attributes, url_schemes={"data"}, link_rel="noopener noreferrer",
                      strip_comments=True, attribute_filter=_only_local)
    sys.stdout.write(clean)


def _only_local(tag: str, attribute: str, value: str) -> str | None:
    """Images only from the notebook itself (data:image/...), links only to anchors in it: nothing is fetched."""
    if attribute == "src":
        return value if value.startswith("data:image/") else None
    if attribute == "href":
        return value if value.startswith("#") else None
    return value


if __name__ == "__main__":
    main(sys.argv[1])
