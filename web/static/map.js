// The shared map (一张图) on the vendored Leaflet: the stored layers with their names, and the issues, each a link
// to its page. It takes the place of the SVG the server drew (kept for pages without script and for print).
// Everything it draws comes from the page's <script type="application/json" id="map-data">: names go in as text,
// never as HTML, and no tile is fetched unless the page names a tile service (a configured 天地图 key).
"use strict";

(() => {
  // Names that would cover a name already shown, or that are wider than what they name, wait for a closer zoom.
  const GAP = 3;
  // The layers whose features carry their names on the map.
  const LABELLED = ["jurisdiction", "river", "segment"];
  // A line's name stands to a side of it (as the server chose), an area's in it.
  const DIRECTIONS = { center: "center", above: "top", below: "bottom", right: "right", left: "left" };

  const text = (words) => document.createTextNode(words);

  // Put a name at one of its places: [lon, lat, side].
  function place(tip, [lon, lat, side]) {
    tip.options.direction = DIRECTIONS[side] || "center";
    tip.setLatLng([lat, lon]);
  }

  // The tile service's layers (a vector map and its annotation) as one base layer.
  function tileBase(tiles) {
    return L.layerGroup(tiles.urls.map((url, i) => L.tileLayer(url, {
      subdomains: tiles.subdomains,
      maxZoom: 18,
      attribution: i === 0 ? tiles.attribution : "",
    })));
  }

  // One stored layer: its shapes, and a permanent label for each feature that has a rank.
  function storedLayer(layer, labels) {
    const group = L.layerGroup();
    const named = LABELLED.includes(layer.key);
    const shapes = L.geoJSON(layer.features, {
      // Options every area and line is made with (a style function would be applied only after its path is
      // made, too late for its class).
      className: layer.css,
      interactive: !named, // named on the map itself; the others tell their name on hover
      pointToLayer: (feature, at) => L.circleMarker(at, {
        className: `${layer.css} point`,
        radius: layer.key === "outfall" ? 5 : 6,
      }),
      onEachFeature: (feature, shape) => {
        const p = feature.properties;
        if (p.rank === null || !p.places.length) {
          shape.bindTooltip(text(p.name), { direction: "top", className: "map-hover" });
          return;
        }
        const tip = L.tooltip({
          permanent: true,
          interactive: false,
          opacity: 1,
          className: `map-label label-${layer.key} rank-${p.rank}`,
        }).setContent(text(p.name));
        place(tip, p.places[0]);
        group.addLayer(tip);
        labels.push({ tip, rank: p.rank, shape, places: p.places, line: layer.key !== "jurisdiction" });
      },
    });
    group.addLayer(shapes);
    return { group, bounds: shapes.getBounds() };
  }

  // An issue: a link to its page, coloured by its group (open, overdue, closed), reached by Tab like any link.
  function issueMarker(feature) {
    const p = feature.properties;
    const link = document.createElement("a");
    link.href = p.href;
    link.className = `pin ${p.group}`;
    link.title = p.text;
    link.setAttribute("aria-label", p.text);
    link.dataset.issue = p.href;
    const [lon, lat] = feature.geometry.coordinates;
    return L.marker([lat, lon], {
      icon: L.divIcon({ html: link, className: "issue-marker", iconSize: [28, 34], iconAnchor: [14, 33] }),
      keyboard: false, // the link inside is the one stop for the keyboard
      zIndexOffset: { overdue: 2000, open: 1000 }[p.group] || 0,
    });
  }

  // How much room a feature has on the screen now: a line's span, an area's width (and height).
  function room(map, label) {
    const bounds = label.shape.getBounds();
    const a = map.latLngToContainerPoint(bounds.getSouthWest());
    const b = map.latLngToContainerPoint(bounds.getNorthEast());
    const width = Math.abs(b.x - a.x);
    const height = Math.abs(b.y - a.y);
    return label.line ? { width: Math.hypot(width, height), height: Infinity } : { width, height };
  }

  // Show the names that fit, the most important first; hide the rest until a closer zoom makes room. No name
  // covers a marker (an issue, an outfall, a plant): the markers are what the map is for.
  function declutter(map, labels) {
    const container = map.getContainer();
    const frame = container.getBoundingClientRect();
    const view = map.getBounds();
    // The markers, and the buttons and scale in the corners.
    const marks = container.querySelectorAll(".issue-marker .pin, path.point, .leaflet-control");
    const taken = Array.from(marks, (mark) => mark.getBoundingClientRect());
    const overlaps = (box) => taken.some((t) => box.left - GAP < t.right && t.left < box.right + GAP
      && box.top - GAP < t.bottom && t.top < box.bottom + GAP);
    const inside = (box) => box.left >= frame.left && box.right <= frame.right
      && box.top >= frame.top && box.bottom <= frame.bottom;
    for (const label of labels) {
      const el = label.tip.getElement();
      if (!el || !map.hasLayer(label.tip)) continue;
      const space = room(map, label);
      let shown = null;
      for (const spot of label.places) {
        if (!view.contains([spot[1], spot[0]])) continue; // off the screen: nothing to measure
        place(label.tip, spot);
        const box = el.getBoundingClientRect();
        if (box.width > space.width * 1.1 || box.height > space.height * 1.1) break; // no place makes it fit
        if (inside(box) && !overlaps(box)) {
          shown = box;
          break;
        }
      }
      el.classList.toggle("map-label-hidden", shown === null);
      if (shown) taken.push(shown);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const source = document.getElementById("map-data");
    const holder = document.querySelector("[data-watershed]");
    if (!source || !holder || typeof L === "undefined") return;
    const data = JSON.parse(source.textContent);
    holder.hidden = false;
    document.querySelector("[data-watershed-fallback]").hidden = true;
    document.querySelector("[data-watershed-hint]").hidden = false;

    const map = L.map(holder, { zoomControl: false, attributionControl: false, zoomSnap: 0.25, maxZoom: 18 });
    L.control.zoom({ zoomInTitle: data.words.zoom_in, zoomOutTitle: data.words.zoom_out }).addTo(map);
    L.control.scale({ imperial: false }).addTo(map);

    const bases = {};
    let base = L.layerGroup();
    bases[data.words.plain] = base;
    if (data.tiles) {
      L.control.attribution({ prefix: false }).addTo(map);
      base = tileBase(data.tiles);
      bases[data.tiles.name] = base;
    }

    const labels = [];
    const overlays = {};
    let bounds = L.latLngBounds([]);
    for (const layer of data.layers) {
      const drawn = storedLayer(layer, labels);
      overlays[layer.name] = drawn.group;
      if (drawn.bounds.isValid()) bounds.extend(drawn.bounds);
    }
    const open = L.layerGroup();
    const closed = L.layerGroup();
    for (const feature of data.issues.features.features) {
      const marker = issueMarker(feature);
      (feature.properties.group === "closed" ? closed : open).addLayer(marker);
      bounds.extend(marker.getLatLng());
    }
    if (open.getLayers().length) overlays[data.issues.groups.open] = open;
    if (closed.getLayers().length) overlays[data.issues.groups.closed] = closed;
    labels.sort((a, b) => a.rank - b.rank);

    // The frame the server drew the page for (the viewer's compacts), else all that is drawn.
    if (data.frame) bounds = L.latLngBounds(data.frame);
    if (!bounds.isValid()) bounds = L.latLngBounds([[30, 105], [31, 106]]);
    map.fitBounds(bounds.pad(0.02), { animate: false });
    map.setMinZoom(Math.max(map.getZoom() - 3, 3));
    base.addTo(map);
    for (const group of Object.values(overlays)) group.addTo(map);
    const narrow = holder.clientWidth < 640;
    L.control.layers(data.tiles ? bases : {}, overlays, { collapsed: narrow, position: "topright" }).addTo(map);

    // Over a tile map the areas are drawn as outlines, so that the map beneath shows through.
    const tiled = () => holder.classList.toggle("tiled", data.tiles !== null && map.hasLayer(base));
    map.on("baselayerchange", tiled);
    tiled();
    const tidy = () => {
      declutter(map, labels);
      holder.dataset.zoom = String(map.getZoom());
    };
    map.on("moveend overlayadd overlayremove resize", tidy);
    tidy();
    holder.dataset.ready = "true";
  });
})();
