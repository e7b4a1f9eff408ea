/* Typesets the LaTeX in the grader's pages, in the browser, with the KaTeX copy beside this file.

   Only elements of class "math" are typeset: the course's own text (questions, model answers, key points).
   Text from hand-ins never gets that class, so a student's "$...$" is shown as typed. Even so the options
   are the safe ones: trust is off (no \href, \url, \includegraphics, \htmlClass/Id/Style/Data), sizes and
   macro expansion are capped, and a LaTeX error is shown in red instead of stopping the page.
   Written for `defer`: it runs once the page is parsed, after katex.min.js and auto-render.min.js. */
(function () {
  "use strict";
  var options = {
    delimiters: [
      {left: "$$", right: "$$", display: true},
      {left: "\\[", right: "\\]", display: true},
      {left: "$", right: "$", display: false},
      {left: "\\(", right: "\\)", display: false}
    ],
    throwOnError: false,
    trust: false,
    strict: "ignore",
    maxSize: 10,
    maxExpand: 200
  };
  var root = document.documentElement;
  if (typeof window.renderMathInElement !== "function") {
    root.setAttribute("data-math", "unavailable");  // assets missing: the LaTeX source stays readable
    return;
  }
  var parts = document.querySelectorAll(".math");
  for (var i = 0; i < parts.length; i++) {
    window.renderMathInElement(parts[i], options);
  }
  root.setAttribute("data-math", "typeset");
}());
