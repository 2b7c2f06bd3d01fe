/* Säkert Videomöte: small progressive enhancements for staff pages (no framework). */
(function () {
  "use strict";

  // Plone's toolbar pins and unpins with named links that have no address: no role, not
  // focusable. On the add-on's pages they are made the buttons they act as.
  document.querySelectorAll("a.toolbar-collapse, a.toolbar-expand").forEach(function (a) {
    if (a.hasAttribute("href")) { return; }
    a.setAttribute("role", "button");
    a.setAttribute("tabindex", "0");
    a.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); a.click(); }
    });
  });

  // Booking dialog: show the custom contact fields only for "Anpassad".
  var custom = document.getElementById("videomote-custom");
  if (custom) {
    var radios = document.querySelectorAll('input[name="contact_choice"]');
    var sync = function () {
      var chosen = document.querySelector('input[name="contact_choice"]:checked');
      custom.hidden = !(chosen && chosen.value === "custom");
    };
    radios.forEach(function (radio) { radio.addEventListener("change", sync); });
    sync();
  }

  // Calendar: the free slots are one tab stop together (a roving tabindex), so that a
  // week of free half hours is not a hundred Tab presses. The arrow keys move to the
  // nearest free slot that way (busy cells are skipped), Page Up/Down two hours,
  // Home/End along the row (Ctrl: the whole grid); Enter follows the focused "Boka".
  var grid = document.querySelector("table.videomote-grid");
  var slots = grid ? Array.prototype.slice.call(grid.querySelectorAll("a.videomote-slot")) : [];
  if (slots.length) {
    var at = {};
    var position = function (slot) {
      var cell = slot.parentNode;
      return { row: cell.parentNode.rowIndex, col: cell.cellIndex };
    };
    slots.forEach(function (slot) {
      var p = position(slot);
      at[p.row + ":" + p.col] = slot;
    });
    var lastRow = grid.rows.length - 1;
    var lastCol = grid.rows[0].cells.length - 1;
    var current = null;
    var rove = function (slot) {
      if (current) { current.tabIndex = -1; }
      slot.tabIndex = 0;
      current = slot;
    };
    slots.forEach(function (slot) { slot.tabIndex = -1; });
    rove(grid.querySelector("a.videomote-slot[data-entry]") || slots[0]);
    // The first free slot from (row, col) on, stepping by (dr, dc), within the grid.
    var seek = function (row, col, dr, dc) {
      for (var i = 0; i < 400; i++) {
        row += dr; col += dc;
        if (row < 1 || row > lastRow || col < 1 || col > lastCol) { return null; }
        if (at[row + ":" + col]) { return at[row + ":" + col]; }
      }
      return null;
    };
    // Two hours away: that slot, else the next free one further on, else back.
    var near = function (row, col, away) {
      return at[row + ":" + col] || seek(row, col, away, 0) || seek(row, col, -away, 0);
    };
    var help = document.getElementById("videomote-grid-help");
    if (help) {
      help.hidden = false;
      grid.setAttribute("aria-describedby", "videomote-grid-help");
    }
    grid.addEventListener("focusin", function (event) {
      if (event.target.classList && event.target.classList.contains("videomote-slot")) {
        rove(event.target);
      }
    });
    grid.addEventListener("keydown", function (event) {
      var slot = event.target;
      if (!slot.classList || !slot.classList.contains("videomote-slot") || event.altKey ||
          event.metaKey) { return; }
      var p = position(slot);
      var target = null;
      switch (event.key) {
        case "ArrowUp": target = seek(p.row, p.col, -1, 0); break;
        case "ArrowDown": target = seek(p.row, p.col, 1, 0); break;
        case "ArrowLeft": target = seek(p.row, p.col, 0, -1); break;
        case "ArrowRight": target = seek(p.row, p.col, 0, 1); break;
        case "PageUp": target = near(Math.max(p.row - 4, 1), p.col, -1); break;
        case "PageDown": target = near(Math.min(p.row + 4, lastRow), p.col, 1); break;
        case "Home":
          target = event.ctrlKey ? slots[0] : seek(p.row, 0, 0, 1); break;
        case "End":
          target = event.ctrlKey ? slots[slots.length - 1] : seek(p.row, lastCol + 1, 0, -1);
          break;
        default: return;
      }
      event.preventDefault();
      if (target) {
        rove(target);
        target.focus();
      }
    });
  }

  // Calendar after "Spara": tell staff when the invitation has actually gone out.
  var toast = document.querySelector(".videomote-toast[data-status-url]");
  if (toast) {
    var url = toast.getAttribute("data-status-url");
    var deadline = Date.now() + 20000;
    var poll = function () {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          toast.textContent = data.message || "";
          toast.classList.toggle("warning", data.status === "failed");
          if ((data.status === "queued" || data.status === "none") && Date.now() < deadline) {
            window.setTimeout(poll, 400);
          }
        })
        .catch(function () { window.setTimeout(poll, 1000); });
    };
    poll();
  }
})();
