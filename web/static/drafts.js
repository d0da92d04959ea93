// Drafts kept on the phone and sent once when the signal returns; the service worker that keeps the app shell.
//
// A boundary chief on a riverbank may have no signal when reporting. Every write a page makes offline goes
// through RiverDrafts: it is kept in IndexedDB (with the moment and the place it was made) and sent with an
// Idempotency-Key, so that however often it is sent again (a timeout after the server committed, a reload,
// a second tab) the server makes one thing. Words shown come from the page (data attributes), never from here.
"use strict";

/**
 * RiverDrafts: the queue of drafts on this phone, for this person.
 *
 * RiverDrafts.send(draft) → Promise<result>. Keeps the draft, then sends it now if it can.
 *   draft (an object; only url and body are required):
 *     url        the site's API path to POST to, e.g. "/api/v1/issues"
 *     body       an object, sent as JSON
 *     key        the Idempotency-Key (default: a new crypto.randomUUID()); the same key is the same request,
 *                so a caller that sends one thing again must pass the key it used the first time
 *     files      [{blob: Blob, name: string, caption?: string}], photos sent once the create succeeded (default [])
 *     files_url  where each file is posted as multipart "file", with "{code}" standing for the created
 *                thing's code; default "/api/v1/issues/{code}/attachments" for url "/api/v1/issues"
 *     made_at    when it was made, ISO 8601 with the offset (default now)
 *     position   {lon, lat, accuracy} where it was made, or null (default null: the caller measures it)
 *     after      the key of a draft this one waits for: it is not sent while that one is still kept
 *     label      what the drafts list shows for it (default body.title)
 *   result (the promise does not reject for the network or for the server's answers):
 *     {sent: true, key, status, data}           made (or made before: a replay); data is the server's JSON
 *     {kept: true, key, why}                    kept, to be sent by the queue; why: "offline" (no network),
 *                                               "timeout", "server" (a 5xx, 408 or 429: retried with backoff),
 *                                               "signed_out" (401: sent once signed in again) or "waiting" (after)
 *     {refused: true, key, status, reason}      a 4xx: final. The draft stays, marked with the server's reason,
 *                                               for the person to fix or discard; it is not sent again by itself
 * RiverDrafts.keep(draft) → Promise<draft>   keeps a draft without sending it now (the queue will)
 * RiverDrafts.flush(force) → Promise          sends every kept draft, oldest first (force: ignore the backoff)
 * RiverDrafts.list() → Promise<[draft]>       this person's kept drafts, oldest first
 * RiverDrafts.discard(key) → Promise          forgets a draft
 * RiverDrafts.on(listener)                    listener(result) after each attempt
 *
 * The queue is flushed on page load, when the browser comes online, and every 30 seconds.
 */
const RiverDrafts = (() => {
  const DB_NAME = "riverchief-drafts";
  const STORE = "drafts";
  const LOCK = "riverchief-drafts";
  const TIMEOUT_MS = 20000;
  const FILE_TIMEOUT_MS = 60000;
  const BACKOFF_MS = [5000, 15000, 60000, 300000, 900000];
  const ISSUES = "/api/v1/issues";
  const listeners = new Set();
  const page = document.querySelector("[data-drafts-banner]");
  const person = page ? page.dataset.person : null;
  let opening = null;
  let flushing = null;
  let seq = 0;

  const asPromise = (request) => new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });

  function database() {
    opening = opening || new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "key" });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    return opening;
  }

  async function store(mode, work) {
    const db = await database();
    const transaction = db.transaction(STORE, mode);
    const answer = asPromise(work(transaction.objectStore(STORE)));
    await new Promise((resolve, reject) => {
      transaction.oncomplete = resolve;
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
    });
    return answer;
  }

  const put = (draft) => store("readwrite", (s) => s.put(draft)).then(() => draft);
  const get = (key) => store("readonly", (s) => s.get(key));
  const remove = (key) => store("readwrite", (s) => s.delete(key));

  async function list() {
    const all = await store("readonly", (s) => s.getAll());
    return all.filter((d) => d.person === person).sort((a, b) => a.seq - b.seq);
  }

  function newKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  }

  // Local time with its offset, e.g. 2026-12-06T14:05:09+08:00: what the server asks of observed_at.
  function localIso(date) {
    const pad = (n) => String(Math.trunc(Math.abs(n))).padStart(2, "0");
    const offset = -date.getTimezoneOffset();
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + "T" +
      pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds()) +
      (offset >= 0 ? "+" : "-") + pad(offset / 60) + ":" + pad(offset % 60);
  }

  function csrf() {
    const banner = document.querySelector("[data-drafts-banner]");
    return banner ? banner.dataset.csrf || "" : "";
  }

  async function post(url, body, headers, timeout) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeout);
    try {
      return await fetch(url, {
        method: "POST",
        body,
        headers: { ...headers, "X-CSRF-Token": csrf() },
        credentials: "same-origin",
        signal: controller.signal,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  function complete(draft) {
    const made = {
      key: draft.key || newKey(),
      url: draft.url,
      body: draft.body,
      files: draft.files || [],
      files_url: draft.files_url || (draft.url === ISSUES ? ISSUES + "/{code}/attachments" : null),
      made_at: draft.made_at || localIso(new Date()),
      position: draft.position || null,
      after: draft.after || null,
      label: draft.label || (draft.body && draft.body.title) || "",
      person,
      seq: draft.seq || Date.now() * 1000 + (seq++ % 1000),
      tries: draft.tries || 0,
      next_at: draft.next_at || 0,
      refused: draft.refused || null,
      created: draft.created || null,
    };
    return made;
  }

  // The lock keeps two tabs from sending the same draft at the same moment (the server would cope; it is
  // only wasted signal). Without the Web Locks API, each tab sends on its own.
  const locked = (work) => (navigator.locks ? navigator.locks.request(LOCK, work) : work());

  async function keepFor(draft, why) {
    draft.tries += 1;
    const wait = why === "offline" || why === "signed_out" ? 0 : BACKOFF_MS[Math.min(draft.tries, BACKOFF_MS.length) - 1];
    draft.next_at = Date.now() + wait;
    await put(draft);
    return { kept: true, key: draft.key, why };
  }

  async function refuse(draft, response) {
    const answer = await response.json().catch(() => ({}));
    // Refusals by the services name fields ({fields: [{field, reason}]}); a body that could not be read at all
    // is refused by the framework, as {detail: [{loc, msg}]}.
    const fields = Array.isArray(answer.fields)
      ? answer.fields
      : Array.isArray(answer.detail)
        ? answer.detail.map((d) => ({ field: String((d.loc || []).slice(-1)[0] || ""), reason: String(d.msg || "") }))
        : [];
    const reason = fields.length
      ? fields.map((f) => f.field + ": " + f.reason).join("; ")
      : String(answer.detail || response.statusText || response.status);
    draft.refused = { status: response.status, reason, fields };
    await put(draft);
    return { refused: true, key: draft.key, status: response.status, reason, fields };
  }

  const retried = (status) => status >= 500 || status === 408 || status === 429;

  // One attempt at a draft: the create (unless done before), then its files one by one.
  async function attempt(draft) {
    if (draft.after && (await get(draft.after))) return { kept: true, key: draft.key, why: "waiting" };
    if (!navigator.onLine) return keepFor(draft, "offline");
    if (!draft.created) {
      let response;
      try {
        response = await post(draft.url, JSON.stringify(draft.body), {
          "Content-Type": "application/json",
          "Idempotency-Key": draft.key,
        }, TIMEOUT_MS);
      } catch (failure) {
        return keepFor(draft, failure.name === "AbortError" ? "timeout" : "offline");
      }
      if (response.status === 401) return keepFor(draft, "signed_out");
      if (retried(response.status)) return keepFor(draft, "server");
      if (!response.ok) return refuse(draft, response);
      draft.created = { status: response.status, data: await response.json().catch(() => ({})) };
      draft.tries = 0;
      await put(draft);
    }
    const code = draft.created.data && draft.created.data.code;
    while (draft.files.length && draft.files_url && code) {
      const file = draft.files[0];
      const form = new FormData();
      form.append("file", file.blob, file.name);
      if (file.caption) form.append("caption", file.caption);
      let response;
      try {
        response = await post(draft.files_url.replace("{code}", encodeURIComponent(code)), form, {}, FILE_TIMEOUT_MS);
      } catch (failure) {
        return keepFor(draft, failure.name === "AbortError" ? "timeout" : "offline");
      }
      if (response.status === 401) return keepFor(draft, "signed_out");
      if (retried(response.status)) return keepFor(draft, "server");
      if (!response.ok) return refuse(draft, response);
      // Sent again after a lost answer, a file is the same evidence: the server keeps one copy (by SHA-256).
      draft.files.shift();
      await put(draft);
    }
    await remove(draft.key);
    return { sent: true, key: draft.key, status: draft.created.status, data: draft.created.data };
  }

  const tell = (result) => {
    for (const listener of listeners) listener(result);
    return result;
  };

  async function keep(draft) {
    return put(complete(draft));
  }

  async function send(draft) {
    const made = await keep(draft);
    return tell(await locked(() => attempt(made)));
  }

  function flush(force = false) {
    if (!person || flushing) return flushing || Promise.resolve();
    flushing = locked(async () => {
      for (const draft of await list()) {
        if (!navigator.onLine) break;
        if (draft.refused || (!force && draft.next_at > Date.now())) continue;
        const stored = await get(draft.key); // another tab may have sent it meanwhile
        if (!stored) continue;
        const result = tell(await attempt(stored));
        if (result.kept && result.why === "offline") break;
      }
    }).finally(() => { flushing = null; });
    return flushing;
  }

  async function discard(key) {
    await remove(key);
    tell({ discarded: true, key });
  }

  return { send, keep, flush, list, discard, localIso, on: (listener) => listeners.add(listener) };
})();

// The service worker (web/static/sw.js, served at /sw.js): pages and their files open without signal.
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
}

// The server's reason for refusing a draft, each field named by its label on this page when it has one.
function explain(refusal) {
  const fields = refusal.fields || [];
  if (!fields.length) return refusal.reason;
  const form = document.querySelector("form[data-draft-url]");
  return fields.map((f) => {
    const label = form && form.querySelector('label[for="' + CSS.escape(f.field) + '"]');
    const name = label && label.firstChild ? label.firstChild.textContent.trim() : f.field;
    return name + "：" + f.reason;
  }).join("；");
}

// The banner on every page: how many drafts wait, "kept as a draft", "sent", or why the server refused one.
document.addEventListener("DOMContentLoaded", () => {
  const banner = document.querySelector("[data-drafts-banner]");
  if (!banner) return;
  const say = (text, kind) => {
    banner.textContent = text;
    banner.className = "flash " + kind;
    banner.hidden = !text;
  };
  const count = async () => {
    if (banner.dataset.held) return; // the report form is showing why the server refused it
    const waiting = (await RiverDrafts.list()).filter((d) => !d.refused).length;
    if (waiting) say(waiting === 1 ? banner.dataset.waitingOne : banner.dataset.waiting.replace("{n}", waiting), "warn");
    else banner.hidden = true;
  };
  let settle = null;
  RiverDrafts.on((result) => {
    clearTimeout(settle);
    if (result.sent) {
      say(banner.dataset.sent, "ok");
      settle = setTimeout(count, 5000);
    } else if (result.refused) {
      say(banner.dataset.refused + explain(result), "bad");
    } else if (result.kept && result.why === "offline") {
      say(banner.dataset.offline, "warn");
    } else {
      count();
    }
  });
  count();
  RiverDrafts.flush(true);
  window.addEventListener("online", () => RiverDrafts.flush(true));
  setInterval(() => RiverDrafts.flush(), 30000);
});

// The drafts list on the report page: each waiting draft, to send now or discard; a refused one, to fix.
document.addEventListener("DOMContentLoaded", () => {
  const section = document.querySelector("[data-drafts-list]");
  if (!section) return;
  const list = section.querySelector("ul");
  const form = document.querySelector("form[data-draft-url]");
  const words = section.dataset;
  const when = (iso) => iso.slice(0, 16).replace("T", " ");
  const button = (text, kind, act) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = kind;
    b.textContent = text;
    b.addEventListener("click", act);
    return b;
  };
  const render = async () => {
    const drafts = await RiverDrafts.list();
    list.replaceChildren(...drafts.map((draft) => {
      const item = document.createElement("li");
      item.dataset.key = draft.key;
      item.dataset.testid = "draft";
      const title = document.createElement("strong");
      title.textContent = draft.label || words.untitled;
      const made = document.createElement("div");
      made.className = "muted";
      const where = draft.position
        ? " · " + draft.position.lon.toFixed(5) + ", " + draft.position.lat.toFixed(5) +
          (draft.position.accuracy != null ? " ±" + Math.round(draft.position.accuracy) + " m" : "")
        : "";
      made.textContent = words.madeAt + " " + when(draft.made_at) + where;
      item.append(title, made);
      const actions = document.createElement("div");
      actions.className = "draft-actions";
      if (draft.refused) {
        const why = document.createElement("p");
        why.className = "error";
        why.textContent = words.refused + explain(draft.refused);
        item.append(why);
        if (form && !draft.created) {
          actions.append(button(words.edit, "", async () => {
            refillForm(form, draft.body);
            await RiverDrafts.discard(draft.key);
            form.scrollIntoView();
          }));
        }
      } else {
        actions.append(button(words.sendNow, "", () => RiverDrafts.flush(true)));
      }
      actions.append(button(words.discard, "danger", () => RiverDrafts.discard(draft.key)));
      item.append(actions);
      return item;
    }));
    section.hidden = !drafts.length;
  };
  RiverDrafts.on(render);
  render();
});

// Puts a draft's fields back into the report form, for the person to correct.
function refillForm(form, body) {
  for (const [name, value] of Object.entries(body)) {
    const field = form.elements.namedItem(name);
    if (field && "value" in field && name !== "observed_at") field.value = value == null ? "" : value;
  }
}

// The report form: sent through RiverDrafts, so a report made without signal is kept and sent later.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-draft-url]");
  if (!form || !window.indexedDB) return;
  const banner = document.querySelector("[data-drafts-banner]");
  const submit = form.querySelector("[type=submit]");

  // Where the phone is now, if it can tell within a moment; a report is never held up waiting for it.
  const here = () => new Promise((resolve) => {
    if (!("geolocation" in navigator)) { resolve(null); return; }
    const give_up = setTimeout(() => resolve(null), 3000);
    navigator.geolocation.getCurrentPosition(
      (at) => {
        clearTimeout(give_up);
        resolve({ lon: at.coords.longitude, lat: at.coords.latitude, accuracy: at.coords.accuracy });
      },
      () => { clearTimeout(give_up); resolve(null); },
      { enableHighAccuracy: true, maximumAge: 60000, timeout: 3000 },
    );
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const observedAt = RiverDrafts.localIso(new Date());
    const data = new FormData(form);
    const text = (name) => String(data.get(name) || "").trim();
    const number = (name) => (text(name) === "" ? null : Number(text(name)));
    const body = {
      title: text("title"),
      category: text("category"),
      description: text("description"),
      place: text("place"),
      lon: number("lon"),
      lat: number("lat"),
      segment: text("segment") || null,
      observed_at: observedAt,
    };
    if (text("compact")) body.compact = text("compact");
    const photos = form.querySelector("input[type=file][name=photos]");
    const files = photos ? [...photos.files].map((file) => ({ blob: file, name: file.name })) : [];
    submit.disabled = true;
    if (banner) {
      banner.textContent = banner.dataset.sending;
      banner.className = "flash warn";
      banner.hidden = false;
    }
    if (banner) delete banner.dataset.held;
    for (const invalid of form.querySelectorAll("[aria-invalid]")) invalid.removeAttribute("aria-invalid");
    try {
      const result = await RiverDrafts.send({
        url: form.dataset.draftUrl, body, files, made_at: observedAt, position: await here(),
      });
      if (result.sent) {
        const code = result.data.code;
        window.location.assign("/issues/" + encodeURIComponent(code) + "?done=report");
      } else if (result.refused) {
        // The form still holds what was typed: it is the draft to fix, so the refused copy is not kept twice.
        if (banner) banner.dataset.held = "1";
        await RiverDrafts.discard(result.key);
        for (const f of result.fields || []) {
          const field = form.elements.namedItem(f.field);
          if (field && field.setAttribute) field.setAttribute("aria-invalid", "true");
        }
        if (banner) {
          banner.textContent = banner.dataset.refused + explain(result);
          banner.className = "flash bad";
        }
      } else {
        // Kept: the banner says so (RiverDrafts tells it), the list shows it, and the form is free for the next.
        form.reset();
        const status = form.querySelector("[data-locate-status]");
        if (status) status.textContent = "";
        const previews = form.querySelector("[data-previews]");
        if (previews) previews.replaceChildren();
      }
      // The answer is said at the top of the page; a chief who sent from the bottom of the form must see it.
      if (banner && !result.sent) banner.scrollIntoView({ block: "nearest" });
    } finally {
      submit.disabled = false;
    }
  });
});
