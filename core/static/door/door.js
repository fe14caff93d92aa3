// The door page: a device signs in with its token, scans tickets (typed, from a keyboard-like
// barcode reader, or with the camera through jsQR) and shows the verdict. Offline, a ticket is
// judged here (its signature, with the event's public key when the browser verifies Ed25519; the
// withdrawn tickets; the tickets this page let in) and queued for the batch endpoint, which
// gets the queue as soon as the network returns.
"use strict";

const API = "/api/events/";
const BATCH_SIZE = 500;
const SYNC_SECONDS = 10;
const REVOKED_SECONDS = 60;
const store = window.localStorage;

const state = {
  event: store.getItem("door.event"),
  token: store.getItem("door.token"),
  key: store.getItem("door.key"),
  queue: JSON.parse(store.getItem("door.queue") || "[]"),
  revoked: new Set(JSON.parse(store.getItem("door.revoked") || "[]")),
  since: store.getItem("door.since"),
  // Tickets this page admitted (online or off): a second scan while offline is refused here.
  admitted: new Set(JSON.parse(store.getItem("door.admitted") || "[]")),
};

const $ = (id) => document.getElementById(id);

function save() {
  store.setItem("door.queue", JSON.stringify(state.queue));
  store.setItem("door.revoked", JSON.stringify([...state.revoked]));
  store.setItem("door.admitted", JSON.stringify([...state.admitted]));
  if (state.since) store.setItem("door.since", state.since);
}

function headers() {
  return { "Content-Type": "application/json", Authorization: `Bearer ${state.token}` };
}

function show(kind, text, detail) {
  const verdict = $("verdict");
  verdict.className = kind;
  verdict.textContent = text;
  if (detail) {
    const small = document.createElement("small");
    small.textContent = detail;
    verdict.appendChild(small);
  }
}

function status() {
  const queued = state.queue.length;
  $("status").textContent = `${navigator.onLine ? "Online" : "Offline"}` +
    (queued ? ` · ${queued} scan${queued === 1 ? "" : "s"} waiting to sync` : "");
}

function time(iso) {
  return new Date(iso).toLocaleTimeString();
}

const REFUSALS = {
  already_checked_in: "ALREADY CHECKED IN",
  not_admitted: "NOT ADMITTED",
  wrong_event: "WRONG EVENT",
  invalid_ticket: "INVALID TICKET",
  nonce_reused: "SCAN AGAIN",
};

async function scan(ticket) {
  ticket = ticket.trim();
  if (!ticket) return;
  const nonce = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
  let response;
  try {
    response = await fetch(`${API}${state.event}/checkins/`, {
      method: "POST", headers: headers(), body: JSON.stringify({ ticket, nonce }),
    });
  } catch (error) {
    return scanOffline(ticket, nonce);
  }
  const body = await response.json().catch(() => ({}));
  if (response.status === 201) {
    state.admitted.add(ticket);
    save();
    return show("admitted", "ADMITTED", body.name);
  }
  if (body.code === "already_checked_in" && body.first) {
    const where = body.first.device ? ` at ${body.first.device.name}` : "";
    return show("refused", REFUSALS.already_checked_in,
      `${body.first.name}, first at ${time(body.first.checked_in_at)}${where}`);
  }
  if (response.status === 401) return show("refused", "SIGNED OUT", "The device token works no more.");
  if (response.status >= 500) return scanOffline(ticket, nonce);
  show("refused", REFUSALS[body.code] || `ERROR ${response.status}`, body.detail);
}

async function scanOffline(ticket, nonce) {
  const verdict = await judgeOffline(ticket);
  if (verdict) return show("refused", REFUSALS[verdict], "Offline");
  state.admitted.add(ticket);
  state.queue.push({ ticket, nonce, scanned_at: new Date().toISOString() });
  save();
  status();
  show("queued", "ADMITTED (OFFLINE)", "Will sync when the network returns");
}

function decode(ticket) {
  const text = ticket.replace(/-/g, "+").replace(/_/g, "/");
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch (error) {
    return null;
  }
}

async function judgeOffline(ticket) {
  const raw = /^[A-Za-z0-9_-]{108}$/.test(ticket) ? decode(ticket) : null;
  if (!raw || raw.length !== 81 || raw[0] !== 1) return "invalid_ticket";
  const event = new DataView(raw.buffer).getBigUint64(1);
  if (String(event) !== String(state.event)) return "wrong_event";
  if (state.key && crypto.subtle) {
    try {
      const key = await crypto.subtle.importKey(
        "raw", decode(state.key), { name: "Ed25519" }, false, ["verify"]);
      const valid = await crypto.subtle.verify(
        { name: "Ed25519" }, key, raw.slice(17), raw.slice(0, 17));
      if (!valid) return "invalid_ticket";
    } catch (error) {
      // This browser verifies no Ed25519: the server judges the signature at the next sync.
    }
  }
  if (state.revoked.has(ticket)) return "not_admitted";
  if (state.admitted.has(ticket)) return "already_checked_in";
  return null;
}

async function sync() {
  status();
  if (!state.queue.length || !state.token) return;
  const scans = state.queue.slice(0, BATCH_SIZE);
  let response;
  try {
    response = await fetch(`${API}${state.event}/checkins/batch/`, {
      method: "POST", headers: headers(), body: JSON.stringify({ scans }),
    });
  } catch (error) {
    return;
  }
  if (response.status !== 200) return;
  const synced = new Set(scans.map((scan) => scan.nonce));
  state.queue = state.queue.filter((scan) => !synced.has(scan.nonce));
  save();
  status();
  if (state.queue.length) sync();
}

async function refreshRevoked() {
  if (!state.token) return;
  const query = state.since ? `?since=${encodeURIComponent(state.since)}` : "";
  try {
    const response = await fetch(`${API}${state.event}/checkin/revoked/${query}`, { headers: headers() });
    if (response.status !== 200) return;
    const body = await response.json();
    body.revoked.forEach((row) => state.revoked.add(row.ticket));
    state.since = body.next_since;
    save();
  } catch (error) {
    // Offline: the list kept from before stands.
  }
}

async function signIn(event, token) {
  const response = await fetch(`${API}${event}/checkin/key/`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  if (response.status !== 200) {
    const body = await response.json().catch(() => ({}));
    throw new Error(body.detail || `Refused (${response.status}).`);
  }
  const key = await response.json();
  Object.assign(state, { event: String(event), token, key: key.public_key });
  store.setItem("door.event", state.event);
  store.setItem("door.token", token);
  store.setItem("door.key", state.key);
}

function start() {
  $("sign-in").hidden = true;
  $("door").hidden = false;
  $("ticket").focus();
  status();
  refreshRevoked();
  sync();
}

let scanning = null;

async function camera() {
  if (scanning) return stopCamera();
  const video = $("video");
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
  video.srcObject = stream;
  video.hidden = false;
  await video.play();
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  let last = "";
  let lastAt = 0;
  scanning = stream;
  $("camera").textContent = "Stop the camera";
  const frame = () => {
    if (!scanning) return;
    if (video.readyState === video.HAVE_ENOUGH_DATA) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      context.drawImage(video, 0, 0);
      const image = context.getImageData(0, 0, canvas.width, canvas.height);
      const code = jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
      // One ticket held before the camera is scanned once, not at every frame.
      if (code && code.data && (code.data !== last || Date.now() - lastAt > 3000)) {
        last = code.data;
        lastAt = Date.now();
        scan(code.data);
      }
    }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

function stopCamera() {
  scanning.getTracks().forEach((track) => track.stop());
  scanning = null;
  $("video").hidden = true;
  $("camera").textContent = "Scan with the camera";
}

$("sign-in").addEventListener("submit", async (submitted) => {
  submitted.preventDefault();
  try {
    await signIn($("event").value.trim(), $("token").value.trim());
    start();
  } catch (error) {
    $("sign-in-error").textContent = error.message;
  }
});
$("scan").addEventListener("submit", (submitted) => {
  submitted.preventDefault();
  const input = $("ticket");
  scan(input.value);
  input.value = "";
  input.focus();
});
$("camera").addEventListener("click", () => camera().catch((error) => show("refused", "NO CAMERA", error.message)));
$("sign-out").addEventListener("click", () => {
  ["door.event", "door.token", "door.key"].forEach((name) => store.removeItem(name));
  window.location.reload();
});
window.addEventListener("online", sync);
window.addEventListener("offline", status);
setInterval(sync, SYNC_SECONDS * 1000);
setInterval(refreshRevoked, REVOKED_SECONDS * 1000);
if (state.event && state.token) start();
