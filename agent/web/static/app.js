// The agent's page: polls the read-only JSON API and renders cameras, events, counts and anomalies.
// No build step and no framework; every text goes in through textContent (never innerHTML).
"use strict";

const POLL_MS = 3000;
const LIVE_MS = 1000;
const $ = (id) => document.getElementById(id);

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.appendChild(child);
  return node;
}

const when = (ts) => (ts == null ? "…" : new Date(ts * 1000).toLocaleString());
const seconds = (a, b) => (b == null ? "open" : `${Math.max(0, b - a).toFixed(1)} s`);

async function refreshStatus() {
  try {
    const s = await getJson("/api/status");
    $("device").textContent = s.device_id;
    const status = $("status");
    status.replaceChildren(
      el("span", { class: s.broker.connected ? "ok" : "bad", text: s.broker.connected ? "broker connected" : "broker disconnected" }),
      el("span", { class: "muted", text: `outbox ${s.broker.outbox_depth}` }),
      el("span", { class: "muted", text: `${s.model} (${s.runtime})` }),
      el("span", { class: "muted", text: `up ${Math.round(s.uptime_s)} s` }),
    );
  } catch (error) {
    $("status").textContent = `status unavailable: ${error.message}`;
  }
}

const cameraTiles = new Map();

async function refreshCameras() {
  const cameras = await getJson("/api/cameras");
  const select = $("f-camera");
  for (const cam of cameras) {
    if (!cameraTiles.has(cam.name)) {
      const img = el("img", { alt: `live view of ${cam.name}`, "data-camera": cam.name, class: "nopic" });
      const state = el("span", { class: "muted" });
      const tile = el("div", { class: "camera", id: `camera-${cam.name}` }, [
        el("div", { class: "name" }, [el("strong", { text: cam.name }), state]),
        img,
      ]);
      $("cameras").appendChild(tile);
      cameraTiles.set(cam.name, { img, state });
      select.appendChild(el("option", { value: cam.name, text: cam.name }));
    }
    const tile = cameraTiles.get(cam.name);
    tile.state.className = cam.online ? "ok" : "bad";
    tile.state.textContent = cam.online ? `online ${cam.detect_fps.toFixed(1)} det/s` : "offline";
  }
}

function refreshLive() {
  // One JPEG per camera per second: the agent copies frames only while pictures are asked for.
  for (const [name, tile] of cameraTiles) {
    const next = new Image();
    next.onload = () => { tile.img.src = next.src; tile.img.classList.remove("nopic"); };
    // no picture (a file that ended before anyone looked): the tile keeps its placeholder
    next.src = `/api/cameras/${encodeURIComponent(name)}/latest.jpg?t=${Date.now()}`;
  }
}

function eventQuery() {
  const params = new URLSearchParams({ limit: "60" });
  const camera = $("f-camera").value;
  const label = $("f-label").value.trim();
  const since = $("f-since").value;
  if (camera) params.set("camera", camera);
  if (label && /^[A-Za-z0-9_-]+$/.test(label)) params.set("label", label);
  if (since) params.set("after", String(Date.now() / 1000 - Number(since)));
  return `/api/events?${params}`;
}

let shownEvents = "";

async function refreshEvents() {
  const events = await getJson(eventQuery());
  const key = JSON.stringify(events.map((e) => [e.id, e.end_ts, e.has_snapshot, e.has_clip]));
  if (key === shownEvents) return;
  shownEvents = key;
  const items = events.map((e) => {
    const children = [];
    if (e.has_snapshot) {
      children.push(el("img", { src: `/api/events/${e.id}/snapshot.jpg`, alt: `${e.label} on ${e.camera}`, loading: "lazy" }));
    }
    const label = e.sub_label ? `${e.label} · ${e.sub_label}` : e.label;
    children.push(el("div", { class: "meta" }, [el("span", { class: "label", text: label }), el("span", { text: e.camera })]));
    children.push(el("div", { class: "meta muted" }, [
      el("span", { text: when(e.start_ts) }),
      el("span", { text: `${seconds(e.start_ts, e.end_ts)}${e.has_clip ? " ▶" : ""}` }),
    ]));
    const item = el("li", { class: "event", "data-event-id": e.id, "data-label": e.label }, children);
    if (e.has_clip) item.addEventListener("click", () => play(e));
    return item;
  });
  $("events").replaceChildren(...(items.length ? items : [el("li", { class: "muted", text: "no events" })]));
}

function play(event) {
  const video = $("clip");
  $("player").hidden = false;
  $("player-title").textContent = `${event.label} on ${event.camera}, ${when(event.start_ts)}`;
  video.src = `/api/events/${event.id}/clip.mp4`;
  video.play().catch(() => {});  // autoplay may be refused; the controls remain
}

async function refreshSide() {
  const [counts, anomalies] = await Promise.all([getJson("/api/counts"), getJson("/api/anomalies")]);
  const rows = Object.entries(counts.events_by_label).sort((a, b) => b[1] - a[1]);
  $("counts").replaceChildren(...(rows.length ? rows.map(([label, n]) => el("li", { text: `${label}: ${n}` })) : [el("li", { class: "muted", text: "none" })]));
  $("anomalies").replaceChildren(...(anomalies.length
    ? anomalies.map((a) => el("li", { class: "bad", text: `${a.kind} on ${a.camera} (${a.severity}) since ${when(a.started_ts)}` }))
    : [el("li", { class: "muted", text: "none" })]));
}

async function poll() {
  await Promise.allSettled([refreshStatus(), refreshCameras(), refreshEvents(), refreshSide()]);
}

document.addEventListener("DOMContentLoaded", () => {
  $("player-close").addEventListener("click", () => { const v = $("clip"); v.pause(); v.removeAttribute("src"); $("player").hidden = true; });
  for (const id of ["f-camera", "f-label", "f-since"]) $(id).addEventListener("change", () => { shownEvents = ""; refreshEvents(); });
  poll();
  setInterval(poll, POLL_MS);
  setInterval(refreshLive, LIVE_MS);
});
