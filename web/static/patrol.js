// A patrol on a phone: record the track as positions come, keep them on the phone (a reload or a lost
// signal loses nothing), report a problem from inside the patrol, end it with the track.
"use strict";

const loadedAt = Date.now();  // with the page's data-server-now, how far the phone's clock is off

// Every network write goes through send(): the session's CSRF header and an Idempotency-Key made once per
// draft and kept with it, so a retry after a lost answer creates nothing twice. (The offline drafts queue
// plugs in here.)
async function send(url, body, key) {
  const holder = document.querySelector("[data-csrf]");
  const headers = {
    "Accept": "application/json",
    "Idempotency-Key": key,
    "X-CSRF-Token": holder ? holder.dataset.csrf : "",
  };
  let payload = body;
  if (!(body instanceof FormData)) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const answer = await fetch(url, { method: "POST", headers, body: payload, credentials: "same-origin" });
  let data = null;
  try { data = await answer.json(); } catch (_) { data = null; }
  return { ok: answer.ok, status: answer.status, data };
}

function newKey() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// An instant as ISO 8601 to the millisecond with the phone's UTC offset (2026-03-02T09:05:00.250+08:00).
function isoTime(ms) {
  const at = new Date(ms);
  const offset = -at.getTimezoneOffset();
  const local = new Date(ms + offset * 60000).toISOString().slice(0, 23);
  const sign = offset >= 0 ? "+" : "-";
  const hh = String(Math.floor(Math.abs(offset) / 60)).padStart(2, "0");
  const mm = String(Math.abs(offset) % 60).padStart(2, "0");
  return `${local}${sign}${hh}:${mm}`;
}

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : ""));
}

// The great-circle distance in metres between two [lon, lat] positions.
function metres(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b[1] - a[1]) * rad;
  const dLon = (b[0] - a[0]) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a[1] * rad) * Math.cos(b[1] * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.min(1, Math.sqrt(h)));
}

// The catalogue's list separator (；or ; ), from the page.
function separator() {
  const holder = document.querySelector("[data-t-sep]");
  return holder ? holder.dataset.tSep : "; ";
}

function readMessage(answer) {
  const data = answer.data || {};
  if (Array.isArray(data.fields) && data.fields.length) {
    return data.fields.map((f) => f.reason).join(separator());
  }
  return data.detail || data.error || String(answer.status);
}

// The patrol's draft on the phone: runs of [lon, lat, ms] positions (a pause starts a new run).
class Draft {
  constructor(patrolId) {
    this.key = `patrol:${patrolId}`;
    const kept = JSON.parse(localStorage.getItem(this.key) || "null");
    this.state = kept || { runs: [], recording: false, endKey: null };
  }
  save() { localStorage.setItem(this.key, JSON.stringify(this.state)); }
  clear() { localStorage.removeItem(this.key); }
  get current() { return this.state.runs[this.state.runs.length - 1]; }
  startRun(ms) {
    this.state.runs.push({ since: ms, until: null, points: [] });
    this.state.recording = true;
    this.save();
  }
  stopRun(ms) {
    if (this.current && this.current.until === null) this.current.until = ms;
    this.state.recording = false;
    this.save();
  }
  // A position; false when it adds nothing (the same place as the run's last, as after a reload).
  add(lon, lat, ms) {
    if (!this.current || this.current.until !== null) this.startRun(ms);
    const last = this.current.points[this.current.points.length - 1];
    if (last && last[0] === lon && last[1] === lat) return false;
    this.current.points.push([lon, lat, ms]);
    this.save();
    return true;
  }
  get points() { return this.state.runs.reduce((n, r) => n + r.points.length, 0); }
  get last() {
    for (let i = this.state.runs.length - 1; i >= 0; i--) {
      const pts = this.state.runs[i].points;
      if (pts.length) return pts[pts.length - 1];
    }
    return null;
  }
  distance() {
    let total = 0;
    for (const run of this.state.runs) {
      for (let i = 1; i < run.points.length; i++) total += metres(run.points[i - 1], run.points[i]);
    }
    return total;
  }
  walkedMs(now) {
    return this.state.runs.reduce((sum, r) => sum + Math.max(0, (r.until === null ? now : r.until) - r.since), 0);
  }
  // The track as the API takes it: a LineString, or a MultiLineString when paused, with properties.coordTimes.
  geojson() {
    const runs = this.state.runs.filter((r) => r.points.length >= 2);
    if (!runs.length) return null;
    const lines = runs.map((r) => r.points.map((p) => [p[0], p[1]]));
    const times = runs.map((r) => r.points.map((p) => isoTime(p[2])));
    if (runs.length === 1) {
      return { type: "Feature", properties: { coordTimes: times[0] }, geometry: { type: "LineString", coordinates: lines[0] } };
    }
    return { type: "Feature", properties: { coordTimes: times }, geometry: { type: "MultiLineString", coordinates: lines } };
  }
}

// The segment and the walked runs as one small inline SVG (equirectangular, scaled by cos(latitude)).
function drawTrack(svg, segment, runs) {
  const all = segment.concat(...runs.map((r) => r.points));
  // An SVG element has no .hidden property: the attribute itself is toggled.
  svg.toggleAttribute("hidden", !all.length);
  if (!all.length) return;
  const lons = all.map((p) => p[0]);
  const lats = all.map((p) => p[1]);
  const west = Math.min(...lons), east = Math.max(...lons), south = Math.min(...lats), north = Math.max(...lats);
  const k = Math.cos(((south + north) / 2) * Math.PI / 180);
  const spanX = Math.max((east - west) * k, 0.002), spanY = Math.max(north - south, 0.002);
  const width = 360, height = 200, pad = 12;
  const scale = Math.min((width - 2 * pad) / spanX, (height - 2 * pad) / spanY);
  const x0 = (west + east) / 2, y0 = (south + north) / 2;
  const project = (p) => [
    (width / 2 + (p[0] - x0) * k * scale).toFixed(1),
    (height / 2 - (p[1] - y0) * scale).toFixed(1),
  ];
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  const line = (points, css) => {
    const el = document.createElementNS(ns, "polyline");
    el.setAttribute("class", css);
    el.setAttribute("points", points.map((p) => project(p).join(",")).join(" "));
    svg.append(el);
  };
  if (segment.length) line(segment, "segment");
  for (const run of runs) if (run.points.length) line(run.points, "track");
  const walked = runs.filter((r) => r.points.length);
  const last = walked.length ? walked[walked.length - 1].points.slice(-1)[0] : null;
  if (last) {
    const dot = document.createElementNS(ns, "circle");
    const [cx, cy] = project(last);
    dot.setAttribute("class", "here");
    dot.setAttribute("cx", cx);
    dot.setAttribute("cy", cy);
    dot.setAttribute("r", "6");
    svg.append(dot);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const walk = document.querySelector("[data-patrol-walk]");
  if (!walk) return;
  const t = walk.dataset;
  const draft = new Draft(t.patrol);
  const segment = JSON.parse(t.segmentLine || "[]");
  const el = (name) => walk.querySelector(`[data-${name}]`);
  const status = el("geo-status");
  const endStatus = el("end-status");
  let watch = null;
  // The phone's clock may be off: times are kept on the server's (told at page load), never before the start.
  const skew = Number(t.serverNow) - Date.now();
  const started = Number(t.started);
  const clock = () => Math.max(Date.now() + skew, started);

  const show = () => {
    const now = clock();
    const minutes = Math.floor(draft.walkedMs(now) / 60000);
    el("time").textContent = minutes >= 60
      ? fill(t.tHm, { h: Math.floor(minutes / 60), m: minutes % 60 })
      : fill(t.tM, { m: minutes });
    const d = draft.distance();
    el("distance").textContent = d >= 1000 ? fill(t.tKm, { km: (d / 1000).toFixed(2) }) : fill(t.tMetres, { m: Math.round(d) });
    el("points").textContent = String(draft.points);
    el("pause").hidden = !draft.state.recording;
    el("resume").hidden = draft.state.recording;
    drawTrack(el("track-svg"), segment, draft.state.runs);
  };

  const begin = () => {
    el("why").hidden = true;
    el("stats").hidden = false;
    el("controls").hidden = false;
    status.textContent = t.tRecording;
    watch = navigator.geolocation.watchPosition(
      (where) => {
        draft.add(where.coords.longitude, where.coords.latitude, clock());
        status.textContent = t.tRecording + " · " + fill(t.tAccuracy, { m: Math.round(where.coords.accuracy) });
        window.dispatchEvent(new CustomEvent("patrol:position"));
        show();
      },
      (failure) => {
        status.textContent = failure.code === failure.PERMISSION_DENIED ? t.tGeoDenied : t.tGeoUnavailable;
      },
      { enableHighAccuracy: true, maximumAge: 0, timeout: 30000 },
    );
  };

  const halt = () => {
    if (watch !== null) navigator.geolocation.clearWatch(watch);
    watch = null;
  };

  if (!("geolocation" in navigator)) {
    el("track-start").disabled = true;
    status.textContent = t.tGeoNone;
  }

  el("track-start").addEventListener("click", () => {
    draft.startRun(clock());
    begin();
    show();
  });
  el("pause").addEventListener("click", () => {
    halt();
    draft.stopRun(clock());
    status.textContent = t.tPaused;
    show();
  });
  el("resume").addEventListener("click", () => {
    draft.startRun(clock());
    begin();
    show();
  });
  el("stop").addEventListener("click", () => {
    el("stop-confirm").hidden = false;
    el("controls").hidden = true;
    el("stop-yes").focus();
  });
  el("stop-no").addEventListener("click", () => {
    el("stop-confirm").hidden = true;
    el("controls").hidden = false;
  });
  el("stop-yes").addEventListener("click", async () => {
    const button = el("stop-yes");
    button.disabled = true;
    halt();
    draft.stopRun(clock());
    if (!draft.state.endKey) {
      draft.state.endKey = newKey();
      draft.state.endedAt = isoTime(clock());
      draft.save();
    }
    const body = { ended_at: draft.state.endedAt };
    const track = draft.geojson();
    if (track) body.track = track;
    endStatus.textContent = t.tSending;
    try {
      const answer = await send(t.endUrl, body, draft.state.endKey);
      if (answer.ok || answer.status === 409) {
        draft.clear();
        window.location.reload();
        return;
      }
      endStatus.textContent = fill(t.tRefused, { why: readMessage(answer) });
    } catch (_) {
      endStatus.textContent = t.tNoSignal;
    }
    button.disabled = false;
  });

  // A reload keeps what was walked; recording, if it was on, goes on in the same run.
  if (draft.state.runs.length) {
    el("why").hidden = true;
    el("stats").hidden = false;
    el("controls").hidden = false;
    if (draft.state.recording) {
      begin();
    } else {
      status.textContent = t.tPaused;
    }
    show();
  }
  setInterval(() => { if (draft.state.recording) show(); }, 15000);
});

// A problem found on the patrol, reported from inside it with the last position.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-patrol-report]");
  if (!form) return;
  const t = form.dataset;
  const walk = new Draft(t.patrol);
  const where = form.querySelector("[data-report-position]");
  const status = form.querySelector("[data-report-status]");
  const problems = document.querySelector("[data-problems]");
  const storeKey = `patrol:${t.patrol}:report`;

  const position = () => {
    const fresh = new Draft(t.patrol).last || walk.last;
    return fresh ? { lon: Number(fresh[0].toFixed(6)), lat: Number(fresh[1].toFixed(6)) } : null;
  };
  const sayPosition = () => {
    const p = position();
    where.textContent = p ? fill(t.tPosition, p) : t.tNoPosition;
  };
  sayPosition();
  window.addEventListener("patrol:position", sayPosition);
  // A report not yet answered (no signal, a reload) is back in the form, to be sent again.
  const unsent = JSON.parse(localStorage.getItem(storeKey) || "null");
  if (unsent) {
    for (const [name, value] of Object.entries(unsent.typed)) form.elements[name].value = value;
    form.closest("details").open = true;
  }
  form.closest("details").addEventListener("toggle", sayPosition);

  // A report sent later by the drafts queue (the signal came back) is shown here as if it had just gone.
  const pendingKey = `patrol:${t.patrol}:pending`;
  const pending = () => JSON.parse(localStorage.getItem(pendingKey) || "{}");
  const shown = (issue, title) => {
    let said = fill(t.tReported, { code: issue.code });
    if (issue.handed_to) said += separator() + fill(t.tHanded, { name: issue.handed_to.name });
    status.textContent = said;
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.className = "code";
    link.href = `/issues/${encodeURIComponent(issue.code)}`;
    link.textContent = issue.code;
    const name = document.createElement("span");
    name.className = "title";
    name.textContent = " " + title;
    item.append(link, name);
    if (issue.handed_to) {
      const side = document.createElement("div");
      side.className = "muted";
      side.textContent = fill(t.tHanded, { name: issue.handed_to.name });
      item.append(side);
    }
    problems.append(item);
    document.querySelector("[data-no-problems]").hidden = true;
  };
  if (typeof RiverDrafts !== "undefined") {
    RiverDrafts.on((result) => {
      const waiting = pending();
      if (!result.sent || !(result.key in waiting)) return;
      const title = waiting[result.key];
      delete waiting[result.key];
      localStorage.setItem(pendingKey, JSON.stringify(waiting));
      shown(result.data, title);
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    for (const slot of form.querySelectorAll("[data-error]")) { slot.hidden = true; slot.textContent = ""; }
    const typed = {
      category: form.elements.category.value,
      title: form.elements.title.value.trim(),
      description: form.elements.description.value.trim(),
    };
    // The draft is what was first sent: sent again unchanged (no answer came), it keeps its key, its
    // position and its moment; changed, it is a new draft. The moment is on the server's clock (the phone's
    // may be off), and the report says it: a draft sent when the signal returns keeps when it was seen.
    let kept = JSON.parse(localStorage.getItem(storeKey) || "null");
    if (!kept || JSON.stringify(kept.typed) !== JSON.stringify(typed)) {
      const skew = Number(document.querySelector("[data-patrol-walk]")?.dataset.serverNow || Date.now()) - loadedAt;
      const madeAt = isoTime(Date.now() + skew);
      const body = {
        patrol: Number(t.patrol), compact: t.compact, segment: t.segment, ...typed, ...(position() || {}),
        observed_at: madeAt,
      };
      kept = { typed, body, key: newKey(), photoKey: newKey(), madeAt };
      localStorage.setItem(storeKey, JSON.stringify(kept));
    }
    const body = kept.body;
    button.disabled = true;
    status.textContent = form.closest("main").querySelector("[data-patrol-walk]")?.dataset.tSending || "";
    const photo = form.elements.photo.files[0];
    if (typeof RiverDrafts !== "undefined") {
      // Kept on the phone (IndexedDB) with its photo, and sent once, now or when the signal returns.
      const waiting = pending();
      waiting[kept.key] = typed.title;
      localStorage.setItem(pendingKey, JSON.stringify(waiting));
      const result = await RiverDrafts.send({
        url: "/api/v1/issues",
        body,
        key: kept.key,
        files: photo ? [{ blob: photo, name: photo.name }] : [],
        made_at: kept.madeAt,
        position: position(),
        label: typed.title,
      });
      localStorage.removeItem(storeKey);
      button.disabled = false;
      if (result.refused) {
        status.textContent = fill(document.querySelector("[data-patrol-walk]")?.dataset.tRefused || "{why}", { why: result.reason });
        return;
      }
      if (result.kept) status.textContent = t.tKept;
      form.reset();
      return;
    }
    try {
      const answer = await send("/api/v1/issues", kept.body, kept.key);
      if (!answer.ok) {
        for (const f of (answer.data && answer.data.fields) || []) {
          const slot = form.querySelector(`[data-error="${CSS.escape(f.field)}"]`);
          if (slot) { slot.textContent = f.reason; slot.hidden = false; }
        }
        status.textContent = readMessage(answer);
        button.disabled = false;
        return;
      }
      const issue = answer.data;
      if (photo) {
        const files = new FormData();
        files.append("file", photo, photo.name);
        try {
          const added = await send(`/api/v1/issues/${encodeURIComponent(issue.code)}/attachments`, files, kept.photoKey);
          if (!added.ok) status.textContent += separator() + fill(t.tPhotoFailed, { why: readMessage(added) });
        } catch (_) {
          status.textContent += separator() + fill(t.tPhotoFailed, { why: "—" });
        }
      }
      localStorage.removeItem(storeKey);
      shown(issue, body.title);
      form.reset();
    } catch (_) {
      status.textContent = document.querySelector("[data-patrol-walk]")?.dataset.tNoSignal || "";
    }
    button.disabled = false;
  });
});
