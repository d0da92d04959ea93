// The report form: the position (a tap on the map, "use my location" or typed coordinates), the segment and
// the receiving side that follow from it, and the open problems of the same kind already reported near it.
// The form works without this script: the server routes the report and checks every field again.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-report-form]");
  if (!form) return;
  const lon = form.querySelector("[name=lon]");
  const lat = form.querySelector("[name=lat]");
  const segment = form.querySelector("select[name=segment]");
  const category = form.querySelector("[name=category]");
  const compact = form.querySelector("[name=compact]");
  const result = form.querySelector("[data-route-result]");
  const swapNote = form.querySelector("[data-swap-note]");
  const nearby = form.querySelector("[data-nearby]");
  const svg = form.querySelector("svg[data-pick]");
  const marker = svg ? svg.querySelector("[data-picked]") : null;
  let routed = null; // what /route.json said for the current position
  let asked = 0; // answers to an older position or segment are dropped

  const hasPosition = () => lon.value !== "" && lat.value !== "" && lon.checkValidity() && lat.checkValidity();

  // The swap note says whose segment this is under a live pairing; it names the receiving side itself.
  const showSwap = () => {
    const chosen = segment ? segment.selectedOptions[0] : null;
    const text = chosen ? chosen.dataset.swap || "" : "";
    swapNote.textContent = text;
    swapNote.hidden = !text;
    return Boolean(text);
  };

  // One line: where the point falls, its segment, and one receiving side (unless the swap note names it).
  const showRoute = () => {
    const swap = showSwap();
    if (!routed) { result.textContent = ""; return; }
    const parts = [];
    if (routed.jurisdiction_name) parts.push(routed.jurisdiction_name);
    if (routed.segment_name) {
      parts.push(result.dataset.segmentLabel + "：" + routed.segment_name + "（" + routed.distance_m + " m）");
    }
    if (routed.receiving && !swap) parts.push(result.dataset.proposedLabel + "：" + routed.receiving.name);
    result.textContent = parts.join(" · ");
    result.dataset.receiving = routed.receiving ? routed.receiving.code : "";
  };

  const route = async (chosenSegment) => {
    const mine = ++asked;
    if (!hasPosition()) { routed = null; showRoute(); return; }
    const query = new URLSearchParams({ lon: lon.value, lat: lat.value });
    if (chosenSegment) query.set("segment", chosenSegment);
    let answer;
    try {
      answer = await fetch("/route.json?" + query, { credentials: "same-origin" });
    } catch (failure) {
      return; // no signal: the server routes the report when it is sent
    }
    if (mine !== asked) return;
    if (!answer.ok) { routed = null; showRoute(); return; }
    routed = await answer.json();
    if (mine !== asked) return;
    if (!chosenSegment && segment) {
      // A new position takes the segment it lies on (none when it lies on none of the viewer's segments).
      const known = [...segment.options].some((o) => o.value && o.value === routed.segment);
      segment.value = known ? routed.segment : "";
    }
    showRoute();
    result.dataset.routedFor = lon.value + "," + lat.value; // the position the line speaks of
    findNearby();
  };

  // Every change of position re-resolves the segment and the receiving side.
  const moved = () => { placeMarker(); route(null); };
  let typing = null;
  for (const input of [lon, lat]) {
    input.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(moved, 400); });
    input.addEventListener("change", () => { clearTimeout(typing); moved(); });
  }
  // A segment chosen by hand keeps the position and asks whose it is.
  if (segment) segment.addEventListener("change", () => { showSwap(); route(segment.value || null); });
  if (category) category.addEventListener("change", () => findNearby());
  if (compact) compact.addEventListener("change", () => findNearby());

  // A tap on the map sets the position (the map's inverse projection is on the svg).
  function placeMarker() {
    if (!marker || !hasPosition()) return;
    marker.setAttribute("cx", (lon.value - svg.dataset.lon0) / svg.dataset.lonPerUnit);
    marker.setAttribute("cy", (svg.dataset.lat0 - lat.value) / svg.dataset.latPerUnit);
  }
  if (svg) {
    svg.addEventListener("click", (event) => {
      const point = new DOMPoint(event.clientX, event.clientY).matrixTransform(svg.getScreenCTM().inverse());
      lon.value = (Number(svg.dataset.lon0) + point.x * svg.dataset.lonPerUnit).toFixed(6);
      lat.value = (Number(svg.dataset.lat0) - point.y * svg.dataset.latPerUnit).toFixed(6);
      lat.dispatchEvent(new Event("change"));
    });
  }

  // The open problems of this kind already reported near the point: shown first, at the top of the form.
  let nearbyAsked = 0;
  let shownFor = "";
  // Scrolling glides unless the reader asked for less motion.
  const glide = () => (window.matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth");
  async function findNearby() {
    const mine = ++nearbyAsked;
    if (!nearby) return;
    if (!hasPosition() || !category || !category.value) { clearNearby(); return; }
    const query = new URLSearchParams({ lon: lon.value, lat: lat.value, category: category.value });
    if (compact && compact.value) query.set("compact", compact.value);
    if (segment && segment.value) query.set("segment", segment.value);
    let answer;
    try {
      answer = await fetch("/api/v1/issues/nearby?" + query, { credentials: "same-origin" });
    } catch (failure) {
      return;
    }
    if (mine !== nearbyAsked) return;
    if (!answer.ok) { clearNearby(); return; }
    const found = await answer.json();
    if (mine !== nearbyAsked) return;
    if (!found.items.length) { clearNearby(); return; }
    const list = nearby.querySelector("[data-nearby-list]");
    list.replaceChildren(...found.items.map((item) => {
      const li = document.createElement("li");
      const link = document.createElement("a");
      link.href = "/issues/" + encodeURIComponent(item.code);
      link.textContent = item.code + " " + item.title;
      const about = document.createElement("span");
      about.className = "muted";
      about.textContent = " · " + nearby.dataset.distance.replace("{m}", item.distance_m) + " · " + item.state_label;
      li.append(link, about);
      return li;
    }));
    nearby.hidden = false;
    const key = query.toString();
    if (key !== shownFor) {
      shownFor = key;
      nearby.scrollIntoView({ block: "start", behavior: glide() });
    }
  }
  function clearNearby() {
    if (!nearby) return;
    nearby.hidden = true;
    nearby.querySelector("[data-nearby-list]").replaceChildren();
    shownFor = ""; // a list that went away and comes back is new to the reader: it is brought into view again
  }
  if (nearby) {
    // The chief's problem is a different one: back to where they were, the list kept for reference.
    nearby.querySelector("[data-nearby-go-on]").addEventListener("click", () => {
      const where = svg || lon;
      where.scrollIntoView({ block: "center", behavior: glide() });
    });
  }

  placeMarker();
  showSwap();
  if (hasPosition()) route(segment && segment.value ? segment.value : null);
});
