// Small progressive enhancements: every form also works without this script.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Position from the device, into the longitude and latitude fields.
  for (const button of document.querySelectorAll("[data-locate]")) {
    const form = button.closest("form");
    const status = form.querySelector("[data-locate-status]");
    if (!("geolocation" in navigator)) { button.hidden = true; continue; }
    button.addEventListener("click", () => {
      status.textContent = button.dataset.locating;
      navigator.geolocation.getCurrentPosition(
        (where) => {
          form.querySelector("[name=lon]").value = where.coords.longitude.toFixed(6);
          form.querySelector("[name=lat]").value = where.coords.latitude.toFixed(6);
          form.querySelector("[name=lat]").dispatchEvent(new Event("change"));
          status.textContent = "±" + Math.round(where.coords.accuracy) + " m";
        },
        (failure) => { status.textContent = failure.message; },
        { enableHighAccuracy: true, timeout: 15000 },
      );
    });
  }

  // Photos: a preview of each, and a refusal before sending one over the limit.
  for (const input of document.querySelectorAll("input[type=file][data-max-bytes]")) {
    const previews = input.parentElement.querySelector("[data-previews]");
    input.addEventListener("change", () => {
      const limit = Number(input.dataset.maxBytes);
      const tooBig = [...input.files].filter((file) => file.size > limit);
      input.setCustomValidity(
        tooBig.length ? (input.dataset.tooBig || "").replace("{name}", tooBig[0].name) : "",
      );
      input.reportValidity();
      if (!previews) return;
      previews.replaceChildren();
      for (const file of input.files) {
        const figure = document.createElement("figure");
        if (file.type.startsWith("image/")) {
          const img = document.createElement("img");
          img.alt = file.name;
          img.src = URL.createObjectURL(file);
          figure.append(img);
        }
        const caption = document.createElement("figcaption");
        caption.textContent = file.name + " · " + (file.size / 1048576).toFixed(1) + " MB";
        figure.append(caption);
        previews.append(figure);
      }
    });
  }
});

// Routing: once a position is known, say where it falls and whom a hand-off would go to.
document.addEventListener("DOMContentLoaded", () => {
  const result = document.querySelector("[data-route-result]");
  if (!result) return;
  const form = result.closest("form");
  const lon = form.querySelector("[name=lon]");
  const lat = form.querySelector("[name=lat]");
  const segment = form.querySelector("[name=segment]");
  let timer = null;
  const ask = async () => {
    if (!lon.value || !lat.value) { result.textContent = ""; return; }
    const query = new URLSearchParams({ lon: lon.value, lat: lat.value });
    const answer = await fetch("/route.json?" + query, { credentials: "same-origin" });
    if (!answer.ok) { result.textContent = ""; return; }
    const found = await answer.json();
    const parts = [];
    if (found.jurisdiction_name) parts.push(found.jurisdiction_name);
    if (found.segment_name) {
      parts.push(result.dataset.segmentLabel + "：" + found.segment_name + "（" + found.distance_m + " m）");
      if (segment && !segment.value) {
        segment.value = found.segment;
        segment.dispatchEvent(new Event("change"));
      }
    }
    if (found.proposed.length) {
      parts.push(result.dataset.proposedLabel + "：" + found.proposed.map((p) => p.name).join("、"));
    }
    result.textContent = parts.join(" · ");
  };
  for (const input of [lon, lat]) {
    input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(ask, 300); });
    input.addEventListener("change", ask);
  }
});

// A tap on the report form's map sets the position (the map's inverse projection is on the svg).
document.addEventListener("DOMContentLoaded", () => {
  for (const svg of document.querySelectorAll("svg[data-pick]")) {
    const form = svg.closest("form");
    const marker = svg.querySelector("[data-picked]");
    const lon = form.querySelector("[name=lon]");
    const lat = form.querySelector("[name=lat]");
    const place = () => {
      if (!lon.value || !lat.value) return;
      marker.setAttribute("cx", (lon.value - svg.dataset.lon0) / svg.dataset.lonPerUnit);
      marker.setAttribute("cy", (svg.dataset.lat0 - lat.value) / svg.dataset.latPerUnit);
    };
    svg.addEventListener("click", (event) => {
      const point = new DOMPoint(event.clientX, event.clientY).matrixTransform(svg.getScreenCTM().inverse());
      lon.value = (Number(svg.dataset.lon0) + point.x * svg.dataset.lonPerUnit).toFixed(6);
      lat.value = (Number(svg.dataset.lat0) - point.y * svg.dataset.latPerUnit).toFixed(6);
      lat.dispatchEvent(new Event("change"));
    });
    lon.addEventListener("change", place);
    lat.addEventListener("change", place);
    place();
  }
});

// A neighbour's segment under a live swap pairing: say whose it is and where the problem will go.
document.addEventListener("DOMContentLoaded", () => {
  const note = document.querySelector("[data-swap-note]");
  if (!note) return;
  const segment = note.closest("div").querySelector("select[name=segment]");
  const show = () => {
    const chosen = segment.selectedOptions[0];
    const text = chosen ? chosen.dataset.swap || "" : "";
    note.textContent = text;
    note.hidden = !text;
  };
  segment.addEventListener("change", show);
  show();
});
