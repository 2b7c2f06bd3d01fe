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
