// Findings over time (ECharts, served from /console/static/vendor): data from a data attribute.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var node = document.getElementById("chart-time");
  if (!node || typeof echarts === "undefined") return;
  var data = JSON.parse(node.dataset.chart || "{}");
  var days = (data.over_time || []).map(function (r) { return r[0]; });
  var counts = (data.over_time || []).map(function (r) { return r[1]; });
  var chart = echarts.init(node, null, { renderer: "svg" });
  chart.setOption({
    animation: false,
    grid: { left: 40, right: 16, top: 16, bottom: 40 },
    tooltip: { trigger: "axis" },
    xAxis: { type: "category", data: days },
    yAxis: { type: "value", minInterval: 1 },
    series: [{ type: "bar", data: counts, itemStyle: { color: "#0b5cad" } }]
  });
  window.addEventListener("resize", function () { chart.resize(); });
});
