/* The review page's keys. Loaded as a file (the page's Content-Security-Policy allows no inline script).
   Every action is a click on a link or a form button that is in the page anyway, so everything works without
   this script too, only slower. Keys are ignored while typing in a field. */
(function () {
  "use strict";
  function typing(target) {
    return target && target.closest && target.closest("input, textarea, select");
  }
  function follow(id) {
    var link = document.getElementById(id);
    if (link) { window.location.href = link.href; return true; }
    return false;
  }
  function toggleKeys() {
    var keys = document.getElementById("keys");
    if (keys) { keys.hidden = !keys.hidden; }
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey && event.key === "Enter" && typing(event.target)) {
      var save = document.getElementById("save");
      if (save) { event.preventDefault(); save.click(); }
      return;
    }
    if (event.key === "Escape") {
      if (typing(event.target)) { event.target.blur(); }
      var keys = document.getElementById("keys");
      if (keys) { keys.hidden = true; }
      return;
    }
    if (event.ctrlKey || event.altKey || event.metaKey || typing(event.target)) { return; }
    var key = event.key;
    var handled = true;
    if (/^[1-9]$/.test(key)) {
      var button = document.querySelector("button[data-key='" + key + "']");
      if (button) { button.click(); } else { handled = false; }
    } else if (key === "j" || key === "ArrowRight" || key === "ArrowDown") {
      handled = follow("next");
    } else if (key === "k" || key === "ArrowLeft" || key === "ArrowUp") {
      handled = follow("prev");
    } else if (key === "n") {
      handled = follow("next-ungraded");
    } else if (key === "h") {
      handled = follow("whole");
    } else if (key === "c" || key === "a") {
      var field = document.getElementById(key === "c" ? "comment" : "adjustment");
      if (field) { field.focus(); if (field.select) { field.select(); } } else { handled = false; }
    } else if (key === "?") {
      toggleKeys();
    } else {
      handled = false;
    }
    if (handled) { event.preventDefault(); }
  });
}());
