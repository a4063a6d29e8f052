// Dockyard console: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  function copyText(text, button) {
    function done(ok) {
      var label = button.textContent;
      button.textContent = ok ? "Copied" : "Press Ctrl+C";
      button.classList.toggle("copied", ok);
      setTimeout(function () { button.textContent = label; button.classList.remove("copied"); }, 1500);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { fallback(); });
    } else {
      fallback();
    }
    function fallback() {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(area);
      done(ok);
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.copy");
    if (button) {
      copyText(button.getAttribute("data-copy") || "", button);
      return;
    }
    var confirmButton = event.target.closest("button[data-confirm]");
    if (confirmButton && !window.confirm(confirmButton.getAttribute("data-confirm"))) {
      event.preventDefault();
      return;
    }
    var tab = event.target.closest("[data-tab]");
    if (tab) {
      var list = tab.parentElement;
      list.querySelectorAll("[data-tab]").forEach(function (other) {
        var selected = other === tab;
        other.setAttribute("aria-selected", selected ? "true" : "false");
        var panel = document.getElementById(other.getAttribute("data-tab"));
        if (panel) { panel.hidden = !selected; }
      });
      return;
    }
    var reload = event.target.closest("[data-reload]");
    if (reload) { event.preventDefault(); window.location.reload(); }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    if (submitter && submitter.hasAttribute("data-confirm")) { return; } // asked on click
    var message = form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
      return;
    }
    form.querySelectorAll("textarea[data-mirror]").forEach(function (mirror) {
      var source = document.getElementById(mirror.getAttribute("data-mirror"));
      if (source) { mirror.value = source.value; }
    });
  });

  // Tabs: arrow keys move between tabs of a tablist made of buttons.
  document.addEventListener("keydown", function (event) {
    var tab = event.target.closest && event.target.closest("[data-tab]");
    if (!tab || (event.key !== "ArrowRight" && event.key !== "ArrowLeft")) { return; }
    var tabs = Array.prototype.slice.call(tab.parentElement.querySelectorAll("[data-tab]"));
    var next = tabs[(tabs.indexOf(tab) + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
    next.focus();
    next.click();
  });

  // "Select all" checkboxes.
  document.addEventListener("change", function (event) {
    var all = event.target.closest("[data-select-all]");
    if (all) {
      var name = all.getAttribute("data-select-all");
      document.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (box) {
        box.checked = all.checked;
      });
    }
    var select = event.target.closest("select[data-exclusions]");
    if (select) { toggleExclusions(select); }
  });

  function toggleExclusions(select) {
    var row = document.getElementById(select.getAttribute("data-exclusions"));
    if (row) { row.hidden = select.value.indexOf("WITH_EXCLUSION") < 0; }
  }
  document.querySelectorAll("select[data-exclusions]").forEach(toggleExclusions);

  // Tab panels are all shown without JavaScript; with it, only the selected one is.
  document.querySelectorAll("[data-tab]").forEach(function (tab) {
    var panel = document.getElementById(tab.getAttribute("data-tab"));
    if (panel) {
      panel.hidden = tab.getAttribute("aria-selected") !== "true";
      var title = panel.querySelector(".panel-title");
      if (title) { title.hidden = true; }
    }
  });
})();
