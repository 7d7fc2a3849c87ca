// facemask live page: polls the JSON API and draws the chart (no library, no CDN).
"use strict";

const COLORS = ["#4fc3f7", "#ffb74d", "#ba68c8", "#81c784", "#f06292", "#fff176"];
const STATE_TEXT = {
  starting: "starting", running: "live", reconnecting: "reconnecting", restarting: "restarting", error: "error",
  ended: "ended", stopped: "stopped",
};
const $ = (sel, root = document) => root.querySelector(sel);
const fmt = (v, digits = 0) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));
const pctText = (v) => (v === null || v === undefined ? "–" : `${fmt(v, 1)} %`);
// Below 1 fps one decimal reads "0.0": show two, so a slow camera is not taken for a stopped one.
const fpsText = (v) => (v === null || v === undefined ? "–" : v > 0 && v < 1 ? Number(v).toFixed(2) : fmt(v, 1));
const single = document.body.dataset.single || null; // the page of one camera (/camera/NAME)

let lastEventId = 0;
let offline = false;
let history = {};
let serverTime = 0; // seconds, from the latest /api/stats (the chart's "now")
const cameraNames = [...document.querySelectorAll(".camera")].map((el) => el.dataset.camera);

async function getJSON(url) {
  const resp = await fetch(url, { cache: "no-store", credentials: "same-origin" });
  if (!resp.ok) throw new Error(`${url}: HTTP ${resp.status}`);
  return resp.json();
}

function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

function setOnline(ok) {
  const conn = $("#conn");
  if (ok && offline) {
    // The server came back: reopen the video streams it dropped.
    document.querySelectorAll(".camera img").forEach((img) => {
      img.src = img.src.replace(/(\?.*)?$/, `?r=${Date.now()}`);
    });
  }
  offline = !ok;
  setText(conn, ok ? "connected" : "server unreachable");
  conn.className = `badge ${ok ? "running" : "error"}`;
}

function renderCamera(cam, color) {
  const root = document.querySelector(`.camera[data-camera="${CSS.escape(cam.name)}"]`);
  if (!root) return;
  const badge = $(".state", root);
  setText(badge, STATE_TEXT[cam.state] || cam.state);
  badge.className = `badge state ${cam.state}`;
  root.dataset.state = cam.state;
  root.style.setProperty("--cam-color", color);
  setText($(".source", root), cam.source);
  const msg = $(".message", root);
  setText(msg, cam.message);
  msg.hidden = !cam.message;
  const c = cam.counters;
  for (const key of ["people", "masked", "unmasked", "undecided"]) {
    setText($(`[data-key="${key}"]`, root), cam.tracking || c.people ? fmt(c[key]) : "–");
  }
  setText($('[data-key="pct_masked"]', root), pctText(c.pct_masked));
  setText($('[data-key="capture_fps"]', root), fpsText(cam.capture_fps));
  setText($('[data-key="process_fps"]', root), fpsText(cam.process_fps));
  setText($('[data-key="busy"]', root), fmt(cam.busy_pct, 0));
  setText($('[data-key="detect"]', root), fmt(cam.latency_ms.detect, 0));
  setText($('[data-key="classify"]', root), fmt(cam.latency_ms.classify, 0));
  const v = cam.in_view;
  setText($('[data-key="in_view"]', root), `${v.faces} face${v.faces === 1 ? "" : "s"} (${v.masked} masked)`);
  // Capture to the page, of the frame shown (the API's lag_s; shown_capture_time is its capture time).
  setText($('[data-key="lag"]', root), fmt(cam.lag_s, 2));
  setText($('[data-key="restarts"]', root), cam.restarts ? ` · restarted ${cam.restarts}×` : "");
}

async function refreshStats() {
  try {
    const stats = await getJSON("/api/stats");
    setOnline(true);
    const mine = single ? stats.cameras.find((c) => c.name === single) : null;
    const t = mine ? mine.counters : stats.totals;
    setText($("#total-people"), fmt(t.people));
    setText($("#total-masked"), fmt(t.masked));
    setText($("#total-unmasked"), fmt(t.unmasked));
    setText($("#total-undecided"), fmt(t.undecided));
    setText($("#total-pct"), pctText(t.pct_masked));
    stats.cameras.forEach((cam) => renderCamera(cam, colorOf(cam.name)));
    serverTime = stats.time;
    setText($("#clock"), new Date(stats.time * 1000).toLocaleTimeString());
  } catch (err) {
    setOnline(false);
  }
}

function colorOf(name) {
  const i = cameraNames.indexOf(name);
  return COLORS[(i < 0 ? 0 : i) % COLORS.length];
}

// ------------------------------------------------------------------ events

const DECISION_TEXT = { mask: "masked", no_mask: "unmasked", mask_incorrect: "mask worn incorrectly", undecided: "undecided" };

const byPerson = new Map(); // camera/person -> its <li> (one entry per person, updated in place)

function personKey(ev) {
  return `${ev.camera}|${(ev.data && ev.data.person) || ev.track_id}`;
}

function eventItem(ev, li) {
  li = li || document.createElement("li");
  li.className = `event ${ev.label || ""}`;
  li.replaceChildren();
  const person = ev.data && ev.data.person;
  if (person) {
    const img = document.createElement("img");
    img.className = "thumb";
    img.alt = `snapshot of person #${ev.track_id}`;
    img.loading = "lazy";
    img.src = `/api/snapshots/${person.split("/").map(encodeURIComponent).join("/")}.jpg?d=${ev.label}`;
    img.addEventListener("error", () => img.remove(), { once: true });
    li.append(img);
  }
  const time = document.createElement("time");
  time.textContent = new Date(ev.ts * 1000).toLocaleTimeString();
  const what = document.createElement("span");
  const who = ev.track_id === null ? "person" : `person #${ev.track_id}`;
  const label = DECISION_TEXT[ev.label] || ev.label || ev.kind;
  const prev = li.dataset.label && li.dataset.label !== ev.label ? li.dataset.label : null;
  what.textContent = `${ev.camera} · ${who}: ${label}${prev ? ` (was ${DECISION_TEXT[prev] || prev})` : ""}`;
  li.dataset.label = ev.label;
  li.append(time, what);
  return li;
}

// A decision about a counted person: "decided" / "decision_changed" of a person, or the moment a
// track that was already decided becomes a person (posters and short tracks are left out).
// One person gets one entry: its "person" and "decided" events are the same decision.
function isDecision(ev) {
  const d = ev.data || {};
  return ["decided", "decision_changed", "person"].includes(ev.kind) && d.status === "person" && ev.label && ev.label !== "undecided"
    && (!single || ev.camera === single);
}

async function refreshEvents() {
  try {
    const data = await getJSON(`/api/events?since=${lastEventId}&limit=200`);
    if (!data.events.length) return;
    lastEventId = data.events[data.events.length - 1].id;
    const list = $("#events");
    const fresh = data.events.filter(isDecision);
    if (!fresh.length) return;
    $(".empty", list)?.remove();
    for (const ev of fresh) {
      const key = personKey(ev);
      const known = byPerson.get(key);
      if (known && known.dataset.label === ev.label) continue; // the same decision again
      const li = eventItem(ev, known);
      byPerson.set(key, li);
      list.prepend(li);
    }
    while (list.children.length > 30) {
      const last = list.lastElementChild;
      for (const [k, v] of byPerson) if (v === last) byPerson.delete(k);
      last.remove();
    }
  } catch (err) {
    /* shown by the connection badge */
  }
}

// ------------------------------------------------------------------ alerts

let lastAlertId = -1; // -1: the first poll only learns where the list ends (old alerts are not news)

function beep() {
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    osc.frequency.value = 880;
    osc.connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.25);
  } catch (err) {
    /* no audio without a user gesture: the banner is enough */
  }
}

function showAlert(alert) {
  const banner = $("#alert-banner");
  setText($("#alert-text"), `${alert.camera}: ${alert.message}`);
  setText($("#alert-time"), new Date(alert.time * 1000).toLocaleTimeString());
  banner.dataset.type = alert.type;
  banner.hidden = false;
  if (alert.sound) beep();
}

async function refreshAlerts() {
  try {
    const since = Math.max(lastAlertId, 0);
    const data = await getJSON(`/api/alerts?since=${since}&limit=50`);
    const alerts = data.alerts.filter((a) => !single || a.camera === single);
    if (lastAlertId < 0) {
      lastAlertId = data.alerts.length ? data.alerts[data.alerts.length - 1].id : 0;
      const recent = alerts.filter((a) => Date.now() / 1000 - a.time < 300);
      if (recent.length) showAlert(recent[recent.length - 1]);
      return;
    }
    if (!data.alerts.length) return;
    lastAlertId = data.alerts[data.alerts.length - 1].id;
    if (alerts.length) showAlert(alerts[alerts.length - 1]);
  } catch (err) {
    /* shown by the connection badge */
  }
}

// ------------------------------------------------------------------ line crossings

async function refreshLine() {
  try {
    const lines = await getJSON("/api/line");
    for (const [name, counts] of Object.entries(lines)) {
      const root = document.querySelector(`.camera[data-camera="${CSS.escape(name)}"]`);
      if (!root) continue;
      $(".line", root).hidden = false;
      setText($('[data-key="line_in"]', root), fmt(counts.in));
      setText($('[data-key="line_out"]', root), fmt(counts.out));
      const zones = Object.entries(counts.zones || {}).filter(([z]) => z !== "-");
      setText($(".zones", root), zones.map(([z, c]) => `${z}: in ${c.in} · out ${c.out}`).join(" | "));
    }
  } catch (err) {
    /* shown by the connection badge */
  }
}

// ------------------------------------------------------------------ chart

const SVG_NS = "http://www.w3.org/2000/svg";

function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

const chartHours = () => Number($("#chart-hours").value);
const chartMode = () => $("#chart-mode").value;
// Interval of the per-interval chart: about 60 points over the range.
const bucketSeconds = () => Math.max(60, (chartHours() * 3600) / 60);

// Rows are cumulative counters ([ts, people, masked, unmasked, mask_incorrect], see /api/history columns).
function cumulative(rows) {
  return rows.map(([ts, , masked, unmasked]) => {
    const decided = masked + unmasked; // unmasked includes masks worn incorrectly
    return [ts, decided ? (100 * masked) / decided : null];
  });
}

// % masked among the people decided within each interval: differences of consecutive samples.
function perInterval(rows, bucket) {
  const sums = new Map();
  for (let i = 1; i < rows.length; i++) {
    const dm = rows[i][2] - rows[i - 1][2];
    const du = rows[i][3] - rows[i - 1][3];
    if (dm < 0 || du < 0) continue; // the database was reset
    const key = Math.floor(rows[i][0] / bucket) * bucket;
    const s = sums.get(key) || [0, 0];
    s[0] += dm;
    s[1] += du;
    sums.set(key, s);
  }
  return [...sums.entries()].sort((a, b) => a[0] - b[0])
    .map(([t, [m, u]]) => [t + bucket / 2, m + u ? (100 * m) / (m + u) : null]);
}

function drawChart() {
  const svg = $("#chart");
  const w = Math.max(svg.clientWidth, 200);
  const h = Math.max(svg.clientHeight, 120);
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.replaceChildren();
  const pad = { l: 52, r: 12, t: 12, b: 24 };
  const series = Object.entries(history).filter(([name]) => !single || name === single).map(([name, rows]) => [
    name, chartMode() === "cumulative" ? cumulative(rows) : perInterval(rows, bucketSeconds()),
  ]);
  const times = series.flatMap(([, pts]) => pts.map((p) => p[0]));
  const now = serverTime || Date.now() / 1000;
  const x1 = Math.max(now, ...times);
  const x0 = x1 - chartHours() * 3600;
  const X = (t) => pad.l + ((t - x0) / (x1 - x0)) * (w - pad.l - pad.r);
  const Y = (p) => pad.t + (1 - p / 100) * (h - pad.t - pad.b);
  for (const p of [0, 25, 50, 75, 100]) {
    svg.append(svgEl("line", { x1: pad.l, x2: w - pad.r, y1: Y(p), y2: Y(p), class: "grid" }));
    svg.append(svgEl("text", { x: pad.l - 6, y: Y(p) + 4, class: "axis", "text-anchor": "end" }, `${p}%`));
  }
  const span = x1 - x0;
  const timeOpts = span < 600 ? { hour: "2-digit", minute: "2-digit", second: "2-digit" } : { hour: "2-digit", minute: "2-digit" };
  const ticks = Math.max(2, Math.min(6, Math.floor((w - pad.l) / 110)));
  for (let i = 0; i <= ticks; i++) {
    const t = x0 + (span * i) / ticks;
    const d = new Date(t * 1000);
    const label = span > 86400 ? `${d.toLocaleDateString()} ${d.toLocaleTimeString([], timeOpts)}` : d.toLocaleTimeString([], timeOpts);
    const anchor = i === 0 ? "start" : i === ticks ? "end" : "middle";
    svg.append(svgEl("text", { x: X(t), y: h - 6, class: "axis", "text-anchor": anchor }, label));
  }
  const legend = $("#legend");
  legend.replaceChildren();
  for (const [name, pts] of series) {
    let d = "";
    let pen = false;
    const step = chartMode() === "interval" ? bucketSeconds() : 0;
    for (const [t, p] of pts) {
      if (p === null || t < x0) { pen = false; continue; }
      if (step) {
        // one level per interval, from its start to its end (the latest one ends now)
        const a = X(Math.max(t - step / 2, x0));
        const b = X(Math.min(t + step / 2, x1));
        d += `${pen ? "L" : "M"}${a.toFixed(1)},${Y(p).toFixed(1)}L${b.toFixed(1)},${Y(p).toFixed(1)}`;
        const top = Math.min(Y(p), Y(0) - 2); // a bar even at 0 %
        svg.append(svgEl("rect", { x: a, y: top, width: Math.max(b - a - 1, 2), height: Y(0) - top, class: "bar",
                                   fill: colorOf(name) }));
      } else {
        d += `${pen ? "L" : "M"}${X(t).toFixed(1)},${Y(p).toFixed(1)}`;
      }
      pen = true;
    }
    if (d) svg.append(svgEl("path", { d, class: "line", stroke: colorOf(name) }));
    const item = document.createElement("span");
    item.style.setProperty("--cam-color", colorOf(name));
    item.textContent = name;
    legend.append(item);
  }
  if (!series.some(([, pts]) => pts.some((p) => p[1] !== null))) {
    svg.append(svgEl("text", { x: w / 2, y: h / 2, class: "axis", "text-anchor": "middle" }, "no decided people yet"));
  }
  const mode = chartMode() === "interval" ? `per ${Math.round(bucketSeconds() / 60)} min` : "cumulative since the database was created";
  setText($("#chart-range"), `${mode}, last ${chartHours() >= 48 ? `${chartHours() / 24} days` : `${chartHours()} h`}`);
}

async function refreshHistory() {
  try {
    history = (await getJSON(`/api/history?hours=${chartHours()}`)).cameras;
    drawChart();
  } catch (err) {
    /* shown by the connection badge */
  }
}

async function loadConfig() {
  try {
    setText($("#config"), JSON.stringify(await getJSON("/api/config"), null, 2));
  } catch (err) {
    setTimeout(loadConfig, 5000);
  }
}

function every(ms, fn) {
  fn();
  setInterval(fn, ms);
}

every(1000, refreshStats);
every(2000, refreshEvents);
every(5000, refreshHistory);
every(2000, refreshAlerts);
every(2000, refreshLine);
loadConfig();
window.addEventListener("resize", drawChart);
$("#chart-hours").addEventListener("change", refreshHistory);
$("#chart-mode").addEventListener("change", drawChart);
$("#alert-close").addEventListener("click", () => { $("#alert-banner").hidden = true; });
document.querySelectorAll(".camera .fullscreen").forEach((button) => {
  button.addEventListener("click", () => {
    const video = button.closest(".camera").querySelector(".video");
    if (document.fullscreenElement) document.exitFullscreen();
    else video.requestFullscreen?.();
  });
});
