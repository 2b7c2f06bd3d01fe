/* The meeting room (staff and participants): WebRTC to the project's media server.
 *
 * One WebSocket for signalling, room events and chat; one RTCPeerConnection whose offer
 * carries our camera and microphone plus receive-only slots for the others. The server
 * says which slot (transceiver mid) shows whom. A dropped network or a restarted media
 * server brings us back with a fresh join token from Plone: no new SMS code while the
 * session is valid. The token's answer names the media node to use: a meeting whose
 * node died moves to another, and everybody in it follows there.
 *
 * Media that fails while signalling works (the node's UDP blocked, ICE failing): the
 * peer connection "failed", "disconnected" with no audio or video arriving for a few
 * seconds, or not connected at all within CONNECT_TIMEOUT_MS. The page then asks for a
 * fresh token reporting the node it failed on (in the POST body); Plone decides whether
 * the meeting moves (access/media_failover.py: not for one person's own network). When
 * it stays, the page retries there, through TURN only ("relay") when it has a TURN server.
 *
 * Screen sharing: one more video transceiver in the offer (its mid named as "screen")
 * carries our screen when we share ("Dela skärm": getDisplayMedia, then replaceTrack, no
 * renegotiation) and the room's screen share otherwise, shown large with the sharer's
 * name. The server decides who may share (staff; participants while staff allow it,
 * "Tillåt deltagare att dela skärm") and refuses the rest.
 */
(function () {
  "use strict";

  // Not started yet: opening the room from the journal or a calendar starts it by
  // pressing "Starta mötet" (a POST with the CSRF token); a GET never starts it, and
  // when another site sent staff here the server leaves the button to them.
  var start = document.getElementById("vm-start-form");
  if (start) {
    if (start.getAttribute("data-autostart") === "true") {
      // Once this page has loaded: a navigation during loading leaves it half done.
      window.addEventListener("load", function () { start.submit(); });
    }
    return;
  }

  var root = document.getElementById("vm-room");
  if (!root) { return; }
  var T = JSON.parse(root.getAttribute("data-texts"));
  var SLOTS = 3;               // a room holds four people: three others at most
  var MAX_ATTEMPTS = 40;       // about five minutes of trying, then ask for a reload
  var CONNECT_TIMEOUT_MS = 12000;  // answer given, media not connected: it failed here
  var SILENT_MS = 4000;        // "disconnected" and nothing arriving this long: failed
  var el = function (id) { return document.getElementById(id); };
  var room = {
    token: root.getAttribute("data-join-token"),
    // The media node the meeting lives on; each fresh token names it anew (another
    // one when the meeting's node stopped answering).
    server: root.getAttribute("data-media-server"),
    ws: null, pc: null, stream: null,
    ended: false, leaving: false, attempts: 0, retry: null,
    // The node our media just failed on (told to Plone with the next token request),
    // and whether to retry through TURN only (Plone kept the meeting there).
    failedOn: null, relay: false, connectTimer: null,
    people: {}, tiles: {},
    role: root.getAttribute("data-role"), me: null,
    // Our screen: its track while we share, the transceiver it goes out on, whether the
    // server accepted it; whether participants may share; the share we are shown.
    screenTrack: null, screenTx: null, sharing: false, mayShare: false, screenTile: null
  };
  window.videomoteRoom = room;  // for the browser tests and for support staff's console

  // -- state line ---------------------------------------------------------------------
  function setState(key) {
    var line = el("vm-state");
    line.setAttribute("data-state", key);
    line.textContent = T[key] || key;
    root.setAttribute("data-state", key);
  }

  // -- local media --------------------------------------------------------------------
  function localTrack(kind) {
    if (!room.stream) { return null; }
    var tracks = kind === "audio" ? room.stream.getAudioTracks() : room.stream.getVideoTracks();
    return tracks.length ? tracks[0] : null;
  }

  function startLocalMedia() {
    return navigator.mediaDevices.getUserMedia({ video: true, audio: true })
      .then(function (stream) {
        room.stream = stream;
        el("vm-self").srcObject = stream;
      })
      .catch(function () {
        // Chat and the others' video still work; say why we are not seen or heard.
        addNotice(T.nodevices);
      });
  }

  // -- signalling -----------------------------------------------------------------------
  function send(message) {
    if (room.ws && room.ws.readyState === WebSocket.OPEN) {
      room.ws.send(JSON.stringify(message));
    }
  }

  function connect() {
    if (room.ended || room.leaving) { return; }
    var ws = room.ws = new WebSocket(room.server);
    ws.onopen = function () {
      ws.send(JSON.stringify({
        type: "join", meeting: root.getAttribute("data-meeting"), token: room.token
      }));
    };
    ws.onmessage = function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      handle(data);
    };
    ws.onclose = function (event) {
      if (ws !== room.ws || room.ended || room.leaving) { return; }
      if (event.code === 4410) { return ended(); }
      if (event.code === 4403) { return setState("full"); }
      if (event.code === 4409) { return replaced(); }
      if (event.code === 4411) { return removed(); }
      reconnect();
    };
  }

  function handle(data) {
    switch (data.type) {
      case "welcome":
        // Signalling (and chat) works again: a network where only audio and video fail
        // (UDP blocked, no TURN) must not end in "lost" after a few dozen rounds.
        room.attempts = 0;
        Object.keys(room.tiles).forEach(removeTile);  // the server says anew who is here
        removeScreen();
        room.people = {};
        room.me = data.you;
        room.sharing = false;  // a new connection: asked again once it has media
        showPermission(!!data.screenPermission, false);
        (data.people || []).forEach(function (p) { room.people[p.id] = p; });
        // Coming back with the microphone or camera off: tell the others again.
        var mic = localTrack("audio"), cam = localTrack("video");
        if (mic && !mic.enabled) { send({ type: "muted", on: true }); }
        if (cam && !cam.enabled) { send({ type: "camera", on: false }); }
        negotiate(data.iceServers || []);
        break;
      case "answer":
        if (room.pc) {
          room.pc.setRemoteDescription({ type: "answer", sdp: data.sdp })
            .then(function () {
              // Still sharing from before a reconnect: ask again on the new connection.
              if (liveScreen()) { send({ type: "screen", on: true }); }
            })
            .catch(mediaFailed);
        }
        break;
      case "screen":
        screenState(data);
        break;
      case "screen-refused":
        stopShare(false);
        addNotice(data.reason === "busy" ? T.sharebusy : T.sharerefused);
        break;
      case "screen-permission":
        showPermission(!!data.on, true);
        break;
      case "slots":
        showSlots(data.slots || []);
        break;
      case "joined":
        room.people[data.id] = data;
        addNotice(T.joined.replace("{name}", data.name));
        break;
      case "left":
        delete room.people[data.id];
        removeTile(data.id);
        addNotice(T.left.replace("{name}", data.name));
        break;
      case "chat":
        addChat(data);
        break;
      case "muted":
      case "camera":
        var person = room.people[data.id] || {};
        person[data.type] = data.on;
        room.people[data.id] = person;
        updateTile(data.id);
        break;
      case "media":
        if (data.state === "failed") { mediaLost(); }
        break;
      case "ended":
        ended(data.reason);
        break;
      case "error":
        if (data.reason === "bad offer") { mediaFailed(); }
        break;
    }
  }

  // -- media ------------------------------------------------------------------------------
  function preferVp8(transceiver) {
    if (!transceiver.setCodecPreferences || !window.RTCRtpReceiver.getCapabilities) { return; }
    var codecs = RTCRtpReceiver.getCapabilities("video").codecs;
    var first = codecs.filter(function (c) { return /video\/vp8/i.test(c.mimeType); });
    var rest = codecs.filter(function (c) { return !/video\/vp8/i.test(c.mimeType); });
    try { transceiver.setCodecPreferences(first.concat(rest)); } catch (e) { /* keep defaults */ }
  }

  function negotiate(iceServers) {
    closePeer();
    var relay = room.relay && iceServers.length > 0;
    var pc = room.pc = new RTCPeerConnection({
      iceServers: iceServers, bundlePolicy: "max-bundle", iceTransportPolicy: relay ? "relay" : "all"
    });
    var video = localTrack("video"), audio = localTrack("audio");
    var streams = room.stream ? [room.stream] : [];
    preferVp8(pc.addTransceiver(video || "video",
      { direction: video ? "sendrecv" : "recvonly", streams: streams }));
    pc.addTransceiver(audio || "audio",
      { direction: audio ? "sendrecv" : "recvonly", streams: streams });
    for (var i = 1; i < SLOTS; i++) {
      preferVp8(pc.addTransceiver("video", { direction: "recvonly" }));
      pc.addTransceiver("audio", { direction: "recvonly" });
    }
    // The screen transceiver: ours out (once we share), the room's share in.
    var screen = liveScreen() ? room.screenTrack : null;
    room.screenTx = pc.addTransceiver(screen || "video", { direction: "sendrecv" });
    preferVp8(room.screenTx);
    var watch = function () {
      if (pc !== room.pc) { return; }
      var state = pc.connectionState, ice = pc.iceConnectionState;
      if (state === "connected") {
        window.clearTimeout(room.connectTimer);
        room.attempts = 0;
        setState("connected");
      } else if (state === "failed" || ice === "failed") {
        mediaLost();
      } else if (state === "disconnected" || ice === "disconnected") {
        setState("unstable");
        stillSilent(pc, SILENT_MS).then(function (silent) {
          if (silent) { mediaLost(); }
        });
      }
    };
    pc.onconnectionstatechange = watch;
    pc.oniceconnectionstatechange = watch;
    pc.createOffer()
      .then(function (offer) { return pc.setLocalDescription(offer); })
      .then(function () { return gathered(pc); })
      .then(function () {
        send({ type: "offer", sdp: pc.localDescription.sdp, screen: room.screenTx.mid });
        // Signalling works (the offer went out): media that does not connect in time
        // failed on this node.
        window.clearTimeout(room.connectTimer);
        room.connectTimer = window.setTimeout(function () {
          if (pc === room.pc && pc.connectionState !== "connected") { mediaLost(); }
        }, CONNECT_TIMEOUT_MS);
      })
      .catch(mediaFailed);
  }

  // Bytes of audio and video that arrived on ``pc`` so far (getStats' inbound RTP).
  function inboundBytes(pc) {
    return pc.getStats().then(function (stats) {
      var bytes = 0;
      stats.forEach(function (s) { if (s.type === "inbound-rtp") { bytes += s.bytesReceived || 0; } });
      return bytes;
    }).catch(function () { return -1; });
  }

  // Whether ``pc`` is still not connected after ``ms`` and nothing arrived meanwhile
  // (a short dip of the network recovers by itself: no report, no reconnect).
  function stillSilent(pc, ms) {
    return inboundBytes(pc).then(function (before) {
      return new Promise(function (resolve) { window.setTimeout(resolve, ms); })
        .then(function () { return inboundBytes(pc); })
        .then(function (after) {
          return pc === room.pc && pc.connectionState !== "connected" &&
            (pc.connectionState !== "disconnected" || after <= before);
        });
    });
  }

  // Our media failed on this node while its WebSocket works: ask for a fresh token,
  // telling Plone where it failed (it may move the meeting, or tell us to use TURN).
  function mediaLost() {
    if (room.ended || room.leaving || room.retry || !room.pc) { return; }
    room.failedOn = room.server;
    reconnect();
  }

  function gathered(pc) {
    // The server takes one complete offer (no trickle): wait for the candidates.
    return new Promise(function (resolve) {
      if (pc.iceGatheringState === "complete") { return resolve(); }
      var done = function () {
        if (pc.iceGatheringState === "complete") { resolve(); }
      };
      pc.addEventListener("icegatheringstatechange", done);
      window.setTimeout(resolve, 3000);
    });
  }

  function mediaFailed() {
    if (!room.ended) { setState("mediafailed"); }
  }

  function closePeer() {
    window.clearTimeout(room.connectTimer);
    if (room.pc) {
      try { room.pc.close(); } catch (e) { /* already closed */ }
      room.pc = null;
    }
  }

  function reconnect() {
    if (room.ended || room.leaving || room.retry) { return; }
    closePeer();
    if (room.ws) { room.ws.onclose = null; room.ws.close(); room.ws = null; }
    if (room.attempts >= MAX_ATTEMPTS) { return setState("lost"); }
    setState("reconnecting");
    var delay = Math.min(500 * Math.pow(2, room.attempts), 8000);
    room.attempts += 1;
    room.retry = window.setTimeout(function () {
      room.retry = null;
      freshToken().then(connect).catch(function (reason) {
        if (reason === "ended" || reason === "moved") { return ended(reason); }
        if (reason === "signedout") { return setState("signedout"); }
        reconnect();
      });
    }, delay);
  }

  function freshToken() {
    // Where our media failed, if it did: in the body, never in the URL.
    var failed = room.failedOn;
    room.failedOn = null;
    return fetch(root.getAttribute("data-token-url"), {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: {
        "X-CSRF-TOKEN": root.getAttribute("data-csrf") || "",
        Accept: "application/json",
        "Content-Type": "application/json"
      },
      body: JSON.stringify(failed ? { failed: failed } : {})
    }).then(function (response) {
      if (response.status === 409) { throw "ended"; }
      if (response.status === 410) { throw "moved"; }  // signed in for the time before a move
      if (response.status === 401 || response.status === 403) { throw "signedout"; }
      if (!response.ok) { throw "retry"; }
      return response.json();
    }).then(function (data) {
      room.token = data.token;
      if (data.server) { room.server = data.server; }
      // Kept on the node our media failed on (our own network, it seems): try TURN.
      room.relay = !!data.relay;
    });
  }

  // -- tiles: one per other person ------------------------------------------------------
  function trackOf(mid) {
    if (!room.pc) { return null; }
    var t = room.pc.getTransceivers().filter(function (x) { return x.mid === mid; })[0];
    return t ? t.receiver.track : null;
  }

  function showSlots(slots) {
    var present = {};
    slots.forEach(function (slot) {
      present[slot.id] = true;
      room.people[slot.id] = Object.assign(room.people[slot.id] || {}, slot);
      var tile = room.tiles[slot.id] || makeTile(slot.id);
      var tracks = [trackOf(slot.video), trackOf(slot.audio)].filter(Boolean);
      var current = tile.video.srcObject ? tile.video.srcObject.getTracks() : [];
      var same = current.length === tracks.length && tracks.every(function (t) {
        return current.indexOf(t) >= 0;
      });
      if (!same) {
        tile.video.srcObject = new MediaStream(tracks);
        tile.video.play().catch(function () { tile.sound.hidden = false; });
      }
      tile.video.setAttribute("data-mid", slot.video);
      tile.video.setAttribute("data-audio-mid", slot.audio);
      updateTile(slot.id);
    });
    Object.keys(room.tiles).forEach(function (id) { if (!present[id]) { removeTile(id); } });
    el("vm-alone").hidden = Object.keys(room.tiles).length > 0 || room.ended || room.leaving;
  }

  function makeTile(id) {
    var figure = document.createElement("figure");
    figure.className = "vm-tile";
    var video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    var caption = document.createElement("figcaption");
    var name = document.createElement("span");
    name.className = "vm-name";
    var flags = document.createElement("span");
    flags.className = "vm-flags";
    var sound = document.createElement("button");
    sound.type = "button";
    sound.hidden = true;
    sound.textContent = T.sound;
    sound.addEventListener("click", function () { video.play(); sound.hidden = true; });
    caption.appendChild(name);
    caption.appendChild(flags);
    figure.appendChild(video);
    figure.appendChild(caption);
    figure.appendChild(sound);
    el("vm-remotes").appendChild(figure);
    room.tiles[id] = { figure: figure, video: video, name: name, flags: flags, sound: sound };
    el("vm-alone").hidden = true;
    return room.tiles[id];
  }

  function updateTile(id) {
    var tile = room.tiles[id], person = room.people[id];
    if (!tile || !person) { return; }
    tile.name.textContent = person.name || "";
    var flags = [];
    if (person.muted) { flags.push(T.micoff); }
    if (person.camera === false) { flags.push(T.camoff); }
    tile.flags.textContent = flags.join(" · ");
    tile.figure.setAttribute("data-muted", person.muted ? "true" : "false");
    tile.figure.setAttribute("data-camera", person.camera === false ? "off" : "on");
    tile.figure.setAttribute("aria-label", person.name + (flags.length ? " (" + flags.join(", ") + ")" : ""));
  }

  function removeTile(id) {
    var tile = room.tiles[id];
    if (tile) {
      tile.figure.remove();
      delete room.tiles[id];
    }
    el("vm-alone").hidden = Object.keys(room.tiles).length > 0 || room.ended || room.leaving;
  }

  // -- screen sharing ---------------------------------------------------------------------
  function liveScreen() {
    return !!room.screenTrack && room.screenTrack.readyState === "live";
  }

  function startShare() {
    if (liveScreen()) { return; }
    navigator.mediaDevices.getDisplayMedia({ video: true, audio: false })
      .then(function (stream) {
        var track = stream.getVideoTracks()[0];
        if (!track) { return; }
        track.contentHint = "detail";  // text on a screen: sharp rather than smooth
        // The browser's own "stop sharing" ends the track: stop for everyone.
        track.addEventListener("ended", function () {
          if (track === room.screenTrack) { stopShare(true); }
        });
        room.screenTrack = track;
        showShare(true);
        // Between connections (no transceiver): the next offer carries it.
        var ready = room.screenTx && room.pc ?
          room.screenTx.sender.replaceTrack(track).catch(function () { /* closed */ }) :
          Promise.resolve();
        return ready.then(function () { send({ type: "screen", on: true }); });
      })
      .catch(function (error) {
        // Cancelled in the browser's picker: nothing to say.
        if (!error || error.name !== "NotAllowedError") { addNotice(T.sharefailed); }
        stopShare(false);
      });
  }

  // ``tell``: whether the server (and so the others) should hear of it; not when the
  // server stopped or refused the share itself.
  function stopShare(tell) {
    var track = room.screenTrack;
    room.screenTrack = null;
    room.sharing = false;
    if (track) { track.stop(); }
    if (room.screenTx && room.pc && room.pc.signalingState !== "closed") {
      room.screenTx.sender.replaceTrack(null).catch(function () { /* closed */ });
    }
    if (tell) { send({ type: "screen", on: false }); }
    showShare(false);
  }

  function showShare(on) {
    var button = el("vm-share");
    if (!button) { return; }
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.classList.toggle("vm-active", on);
    button.title = on ? T.sharestop : T.sharestart;
  }

  // Whether participants may share: staff's toggle shows it, participants' button
  // appears and goes with it (the server refuses them either way).
  function showPermission(on, announce) {
    var changed = room.mayShare !== on;
    room.mayShare = on;
    var toggle = el("vm-share-allow");
    if (toggle) { toggle.setAttribute("aria-pressed", on ? "true" : "false"); }
    if (room.role !== "staff") {
      var button = el("vm-share");
      if (button) { button.hidden = !on || !canShare(); }
    }
    if (announce && changed) { addNotice(on ? T.shareallowed : T.sharenotallowed); }
  }

  function canShare() {
    return !!(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);
  }

  // The server says who shares (and on which of our transceivers we see it).
  function screenState(data) {
    var mine = !!data.id && data.id === room.me;
    if (mine) {
      room.sharing = true;
    } else if (room.sharing) {
      // Ours was accepted and is over by the server's decision (permission taken back).
      stopShare(false);
      addNotice(T.sharestopped);
    }
    if (data.id && data.mid && !mine) {
      showScreen(data);
    } else {
      removeScreen();
    }
  }

  function showScreen(data) {
    var track = trackOf(data.mid);
    if (!track) { return; }
    var tile = room.screenTile;
    var fresh = !tile || tile.id !== data.id;
    if (!tile) {
      var figure = document.createElement("figure");
      figure.className = "vm-tile vm-screen";
      var video = document.createElement("video");
      video.autoplay = true;
      video.playsInline = true;
      video.muted = true;
      var caption = document.createElement("figcaption");
      var name = document.createElement("span");
      name.className = "vm-name";
      var flags = document.createElement("span");
      flags.className = "vm-flags";  // as on the people's tiles (empty: a picture only)
      caption.appendChild(name);
      caption.appendChild(flags);
      figure.appendChild(video);
      figure.appendChild(caption);
      var remotes = el("vm-remotes");
      remotes.insertBefore(figure, remotes.firstChild);
      tile = room.screenTile = { figure: figure, video: video, name: name, id: null };
    }
    var label = T.screenof.replace("{name}", data.name || "");
    tile.name.textContent = label;
    tile.figure.setAttribute("aria-label", label);
    tile.video.setAttribute("data-mid", data.mid);
    tile.figure.setAttribute("data-sharer", data.id);
    if (!tile.video.srcObject || tile.video.srcObject.getTracks()[0] !== track) {
      tile.video.srcObject = new MediaStream([track]);
      tile.video.play().catch(function () { /* muted: plays */ });
    }
    if (fresh) { addNotice(T.sharing.replace("{name}", data.name || "")); }
    tile.id = data.id;
    el("vm-alone").hidden = true;
  }

  function removeScreen() {
    if (!room.screenTile) { return; }
    room.screenTile.figure.remove();
    room.screenTile = null;
    el("vm-alone").hidden = Object.keys(room.tiles).length > 0 || room.ended || room.leaving;
  }

  if (el("vm-share")) {
    if (!canShare()) { el("vm-share").hidden = true; }
    el("vm-share").addEventListener("click", function () {
      if (liveScreen()) { stopShare(true); } else { startShare(); }
    });
  }
  if (el("vm-share-allow")) {
    el("vm-share-allow").addEventListener("click", function () {
      send({ type: "screen-permission", on: !room.mayShare });
    });
  }
  room.startShare = startShare;  // for the browser tests (a page that skips its own checks)

  // -- chat -------------------------------------------------------------------------------
  function addChat(data) {
    var item = document.createElement("li");
    var head = document.createElement("span");
    head.className = "vm-chat-from";
    head.textContent = data.name || data.from || "";
    var time = document.createElement("time");
    time.setAttribute("datetime", data.time);
    var at = new Date(data.time);
    time.textContent = isNaN(at) ? "" : at.toLocaleTimeString("sv-SE", { hour: "2-digit", minute: "2-digit" });
    var text = document.createElement("p");
    text.textContent = data.text;  // text, never markup
    item.appendChild(head);
    item.appendChild(time);
    item.appendChild(text);
    el("vm-chat-messages").appendChild(item);
    item.scrollIntoView({ block: "end" });
  }

  function addNotice(message) {
    var item = document.createElement("li");
    item.className = "vm-chat-notice";
    item.textContent = message;
    el("vm-chat-messages").appendChild(item);
  }

  el("vm-chat-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var field = el("vm-chat-text");
    var text = field.value.trim().slice(0, 1000);
    if (text) {
      send({ type: "chat", text: text });
      field.value = "";
    }
    field.focus();
  });
  el("vm-chat-text").addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      el("vm-chat-form").requestSubmit();
    }
  });

  // -- controls ---------------------------------------------------------------------------
  function toggle(button, kind) {
    var track = localTrack(kind);
    if (!track) { return; }
    track.enabled = !track.enabled;
    var off = !track.enabled;
    showDevice(button, kind, off);
    button.title = kind === "audio" ? (off ? T.micon : T.micoffaction) : (off ? T.camon : T.camoffaction);
    if (kind === "audio") { send({ type: "muted", on: off }); } else { send({ type: "camera", on: !off }); }
  }
  // The name says the state ("Mikrofon av"), the look too (red, slashed icon); the
  // title says what a click does. No aria-pressed: with a changing name it would be read
  // as the opposite state.
  function showDevice(button, kind, off) {
    var label = button.querySelector(".vm-label");
    if (kind === "audio") { label.textContent = off ? T.miclabeloff : T.miclabelon; }
    else { label.textContent = off ? T.camlabeloff : T.camlabelon; }
    button.setAttribute("data-state", off ? "off" : "on");
    button.classList.toggle("vm-off", off);
  }
  el("vm-mic").addEventListener("click", function () { toggle(el("vm-mic"), "audio"); });
  el("vm-cam").addEventListener("click", function () { toggle(el("vm-cam"), "video"); });

  // "Lämna" leaves (staff: back to the meeting's page, the meeting goes on; participants:
  // the leave page, from where they may come back while the meeting is on). Staff's
  // "Avsluta för alla" ends the meeting for everyone, after a confirmation.
  el("vm-hangup").addEventListener("click", function () {
    room.leaving = true;
    stopAll();
    var url = root.getAttribute("data-leave-url");
    if (url) { window.location.href = url; } else { el(root.getAttribute("data-leave-form")).submit(); }
  });
  if (el("vm-end")) {
    el("vm-end").addEventListener("click", function () {
      if (!window.confirm(T.confirmend)) { return; }
      room.leaving = true;
      send({ type: "end" });
      window.setTimeout(function () {
        stopAll();
        el(root.getAttribute("data-leave-form")).submit();
      }, 150);
    });
  }

  function stopAll() {
    closePeer();
    if (room.ws) { room.ws.onclose = null; room.ws.close(1000); }
    if (room.stream) { room.stream.getTracks().forEach(function (t) { t.stop(); }); }
    if (room.screenTrack) { room.screenTrack.stop(); room.screenTrack = null; }
  }

  function stopped(state) {
    // Over for this page: the state line and the chat stay, the controls, the self view
    // and "waiting for others" go.
    stopAll();
    setState(state);
    ["vm-mic", "vm-cam", "vm-share", "vm-share-allow", "vm-hangup", "vm-end"].forEach(function (id) {
      if (el(id)) { el(id).disabled = true; }
    });
    Object.keys(room.tiles).forEach(removeTile);
    removeScreen();
    ["vm-alone", "vm-controls", "vm-self-view"].forEach(function (id) { el(id).hidden = true; });
  }

  function replaced() {
    // The room is open in another window now (a second "Gå med nu", the calendar link
    // again): this one stops for good, camera and microphone too. Reconnecting would
    // take the room back and the two windows would throw each other out in turn.
    room.leaving = true;
    stopped("replaced");
  }

  function removed() {
    // The journal took us out of the meeting (removed from it, or no longer allowed to
    // see the student's record): stop for good and say so; coming back is refused.
    room.leaving = true;
    stopped("removed");
  }

  function ended(reason) {
    room.ended = true;
    stopped(reason === "moved" ? "moved" : "ended");
  }

  window.addEventListener("pagehide", function () { room.leaving = true; stopAll(); });
  // Back from the browser's back/forward cache the page looks alive but is stopped.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { window.location.reload(); }
  });

  function showMissingDevices() {
    // No microphone or camera (or not allowed): the button says it is off, and is off.
    [["vm-mic", "audio", T.nomic], ["vm-cam", "video", T.nocam]].forEach(function (b) {
      if (localTrack(b[1])) { return; }
      var button = el(b[0]);
      button.disabled = true;
      showDevice(button, b[1], true);
      button.title = b[2];
    });
  }

  setState("connecting");
  startLocalMedia().then(function () { showMissingDevices(); connect(); });
})();
