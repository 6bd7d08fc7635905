// The console's maps (Leaflet, served from /console/static/vendor). Base layer: Beijing's
// districts as GeoJSON from the app itself, so the map works with no tile server; an online
// tile layer only when the deployment configures one (data-tiles).
"use strict";
(function () {
  var GRADE = { A: "#2e7d32", B: "#f9a825", C: "#ef6c00", D: "#c62828" };
  var lang = document.body.dataset.lang || "zh";

  function ratioColour(r) {
    return r >= 1 ? "#c62828" : r >= 0.5 ? "#ef6c00" : r >= 0.1 ? "#f9a825" : "#2e7d32";
  }
  function text(value) { return document.createTextNode(value == null ? "" : String(value)); }
  function popup(lines, href) {
    var box = document.createElement("div");
    lines.forEach(function (line, i) {
      var p = document.createElement(i === 0 ? "strong" : "div");
      if (i === 0 && href) { var a = document.createElement("a"); a.href = href; a.appendChild(text(line)); p.appendChild(a); }
      else p.appendChild(text(line));
      box.appendChild(p);
    });
    return box;
  }
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error(url + ": " + r.status);
      return r.json();
    });
  }

  function build(node) {
    var map = L.map(node, { zoomControl: true, keyboard: true }).setView([40.05, 116.4], 9);
    if (node.dataset.tiles) {
      L.tileLayer(node.dataset.tiles, { maxZoom: 18, attribution: node.dataset.datum || "" }).addTo(map);
    }
    var ready = getJSON(node.dataset.geojson).then(function (geo) {
      var base = L.geoJSON(geo, {
        style: { color: "#52606d", weight: 1, fillColor: "#ffffff", fillOpacity: 0.6 },
        onEachFeature: function (f, layer) {
          layer.bindTooltip(lang === "zh" ? f.properties.name : (f.properties.name_en || f.properties.name));
        }
      }).addTo(map);
      if (!node.dataset.path && !node.dataset.center) map.fitBounds(base.getBounds());
      return map;
    });
    return { map: map, ready: ready };
  }

  function sitesLayer(map, data, mode, group) {
    group.clearLayers();
    var list = document.getElementById("site-list");
    if (list) list.textContent = "";
    data.sites.forEach(function (s) {
      var colour = mode === "ratio" ? ratioColour(s.ratio) : (GRADE[s.grade] || "#777");
      L.circleMarker([s.lat, s.lon], { radius: 8, color: "#222", weight: 1, fillColor: colour, fillOpacity: 0.9 })
        .bindPopup(popup([s.name, s.org + " · " + (s.grade || "—") + " · Σq/Q " + s.ratio.toFixed(3)], "/console/sites/" + encodeURIComponent(s.site)))
        .addTo(group);
      if (list) {
        var li = document.createElement("li"), a = document.createElement("a");
        a.href = "/console/sites/" + encodeURIComponent(s.site);
        a.appendChild(text(s.name + " (" + (s.grade || "—") + ", Σq/Q " + s.ratio.toFixed(2) + ")"));
        li.appendChild(a); list.appendChild(li);
      }
    });
  }

  function overview(node, built) {
    var sites = L.layerGroup().addTo(built.map);
    var ships = L.layerGroup().addTo(built.map);
    var findings = L.layerGroup().addTo(built.map);
    L.control.layers(null, { "sites": sites, "shipments": ships, "findings": findings }).addTo(built.map);
    getJSON(node.dataset.layers).then(function (data) {
      var select = document.getElementById("colour");
      sitesLayer(built.map, data, select ? select.value : "grade", sites);
      if (select) select.addEventListener("change", function () { sitesLayer(built.map, data, select.value, sites); });
      data.shipments.forEach(function (s) {
        L.marker([s.lat, s.lon], { keyboard: true, title: s.code })
          .bindPopup(popup([s.code, s.holder + " → " + (s.destination || "?"), s.at], "/console/items/" + encodeURIComponent(s.code)))
          .addTo(ships);
      });
      data.findings.forEach(function (f) {
        L.circleMarker([f.lat + 0.003, f.lon + 0.003], { radius: 5, color: "#7b1fa2", fillColor: "#7b1fa2", fillOpacity: 0.8 })
          .bindPopup(popup([f.rule, f.severity + " · " + f.site], "/console/findings/" + encodeURIComponent(f.id)))
          .addTo(findings);
      });
      node.dataset.loaded = "1";
    });
  }

  function path(node, built) {
    var points = JSON.parse(node.dataset.path || "[]");
    built.ready.then(function () {
      if (points.length) {
        L.polyline(points, { color: "#0b5cad", weight: 3 }).addTo(built.map);
        points.forEach(function (p, i) { L.circleMarker(p, { radius: 5, color: "#0b5cad" }).bindTooltip(String(i + 1)).addTo(built.map); });
        if (points.length === 1) built.map.setView(points[0], 13);
        else built.map.fitBounds(L.latLngBounds(points).pad(0.3));
      }
      node.dataset.loaded = "1";
    });
  }

  function pick(node, built) {
    var lat = document.getElementById("lat"), lon = document.getElementById("lon");
    var radius = document.getElementById("radius"), form = document.getElementById("nearby-form");
    var centre = node.dataset.center ? JSON.parse(node.dataset.center) : null;
    var circle = null;
    function show(latlng) {
      if (circle) circle.remove();
      circle = L.circle(latlng, { radius: Number(radius.value) || 500, color: "#c62828" }).addTo(built.map);
    }
    if (centre) { show(centre); built.map.fitBounds(circle.getBounds().pad(0.3)); }
    built.map.on("click", function (e) {
      lat.value = e.latlng.lat.toFixed(6);
      lon.value = e.latlng.lng.toFixed(6);
      show(e.latlng);
      form.submit();
    });
    built.ready.then(function () { node.dataset.loaded = "1"; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var node = document.getElementById("map");
    if (!node || typeof L === "undefined") return;
    L.Icon.Default.imagePath = "/console/static/vendor/images/";
    var built = build(node);
    if (node.dataset.layers) overview(node, built);
    else if (node.dataset.pick) pick(node, built);
    else path(node, built);
  });
})();
