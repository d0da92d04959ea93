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

// The report form's map, position and routing live in report.js.

// A button that fills a field of an action form with its value and opens that form (e.g. an original's code).
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-fill]")) {
    const target = document.getElementById(button.dataset.fillTarget);
    if (!target) { button.hidden = true; continue; }
    button.addEventListener("click", () => {
      target.value = button.dataset.fill;
      const action = target.closest("details");
      if (action) action.open = true;
      target.focus();
    });
  }
});
