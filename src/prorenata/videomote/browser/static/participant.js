/* The participant's pages: link token, browser check, device check, waiting for start. */
(function () {
  "use strict";

  // Texts come translated from the page (participant_layout.pt, data-texts).
  var T = JSON.parse(document.body.getAttribute("data-texts") || "{}");

  // 1. The invitation link carries its token in the fragment, which never reaches the
  //    server's logs: post it, then forget it.
  var tokenForm = document.getElementById("pv-token-form");
  if (tokenForm) {
    var token = window.location.hash.replace(/^#/, "");
    history.replaceState(null, "", window.location.pathname);
    if (token) {
      document.getElementById("pv-token").value = token;
      tokenForm.submit();
    } else {
      document.getElementById("pv-link-wait").hidden = true;
      document.getElementById("pv-no-link").hidden = false;
    }
  }

  // 2. A computer with Chrome, Firefox or Edge 83+ is needed.
  var warning = document.getElementById("pv-browser-warning");
  var ua = navigator.userAgent;
  var mobile = /Android|iPhone|iPad|iPod|Mobile/i.test(ua) ||
    (navigator.userAgentData && navigator.userAgentData.mobile);
  var edge = ua.match(/Edg(?:e|A|iOS)?\/(\d+)/);
  var supported = !!(window.RTCPeerConnection && navigator.mediaDevices &&
    navigator.mediaDevices.getUserMedia) && !/Trident|MSIE/.test(ua) &&
    !(edge && parseInt(edge[1], 10) < 83) && !/Edge\//.test(ua);
  if (warning && (mobile || !supported)) {
    // Why, what to do instead (and whom to call) stay; the forms and buttons, which
    // would lead nowhere on this device, go.
    document.getElementById("pv-browser-warning-text").textContent =
      mobile ? T.phone : T.browser;
    warning.hidden = false;
    // (Array's forEach: old browsers' NodeLists have none, and they are the ones here.)
    Array.prototype.forEach.call(
      document.querySelectorAll(".pv-form, .pv-step, .pv-check, .pv-join"),
      function (element) { element.hidden = true; });
    if (tokenForm) {
      document.getElementById("pv-link-wait").hidden = true;
    }
  }

  // 3. Waiting room: device check, and "Gå med nu" as soon as staff have started.
  var check = document.getElementById("pv-check");
  if (check) {
    check.addEventListener("click", function () {
      var result = document.getElementById("pv-check-result");
      navigator.mediaDevices.getUserMedia({ video: true, audio: true }).then(function (stream) {
        document.getElementById("pv-preview").srcObject = stream;
        result.textContent = T.devicesok;
      }).catch(function () {
        result.textContent = T.devicesfailed;
      });
    });
  }
  var join = document.getElementById("pv-join");
  if (join) {
    var statusUrl = join.getAttribute("data-status-url");
    // A button (Enter and Space work): it opens the room once staff have started.
    join.addEventListener("click", function () {
      if (join.getAttribute("aria-disabled") === "false") {
        window.location.href = join.getAttribute("data-href");
      }
    });
    var poll = function () {
      fetch(statusUrl, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          var text = document.getElementById("pv-wait-text");
          if (data.started) {
            join.setAttribute("aria-disabled", "false");
            text.textContent = T.started;
            return;
          }
          if (data.state === "moved") {  // signed in for the time before a move
            text.textContent = T.moved;
            return;
          }
          if (data.state === "ended" || data.state === "signed_out") {
            text.textContent = T.ended;
            return;
          }
          window.setTimeout(poll, 1000);
        })
        .catch(function () { window.setTimeout(poll, 2000); });
    };
    poll();
  }
})();
