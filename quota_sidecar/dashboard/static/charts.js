// The subject page's chart: spend per day as bars (uPlot, vendored under vendor/uplot). The
// series come from the page (#daily-data) as exact integer nanos in strings; the bars are
// drawn from dollars, the legend shows the exact amount. Colours come from the CSS variables,
// so the chart follows light and dark mode; it is redrawn when either changes or the page is
// resized.
(function () {
  "use strict";
  var holder = document.getElementById("daily-chart");
  var source = document.getElementById("daily-data");
  if (!holder || !source || !window.uPlot) { return; }
  var raw = JSON.parse(source.textContent);
  var NANOS = BigInt(1000000000);

  function dollarsText(nanosText) {
    var n = BigInt(nanosText);
    var sign = n < 0 ? "-" : "";
    if (n < 0) { n = -n; }
    var frac = (n % NANOS).toString().padStart(9, "0").replace(/0+$/, "");
    while (frac.length < 2) { frac += "0"; }
    return sign + "$" + (n / NANOS).toString() + "." + frac;
  }

  function color(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  var xs = raw.days.map(function (_, i) { return i; });
  var dollars = raw.cost_nanos.map(function (n) { return Number(n) / 1e9; });

  function options(width) {
    var ink = color("--muted");
    return {
      width: width,
      height: width < 500 ? 200 : 260,
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      legend: { show: true },
      scales: {
        x: { time: false, range: function (u, min, max) { return [min - 0.5, max + 0.5]; } },
        y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } }
      },
      axes: [
        {
          stroke: ink,
          grid: { show: false },
          ticks: { stroke: color("--grid") },
          space: 48,
          incrs: [1, 2, 7, 14, 28],
          values: function (u, splits) {
            return splits.map(function (i) { return raw.days[i] ? raw.days[i].slice(5) : ""; });
          }
        },
        {
          stroke: ink,
          size: 64,
          grid: { stroke: color("--grid") },
          ticks: { stroke: color("--grid") },
          values: function (u, splits) {
            return splits.map(function (v) { return "$" + v.toFixed(v < 1 && v > 0 ? 3 : 2); });
          }
        }
      ],
      series: [
        { label: "day", value: function (u, i) { return i == null ? "–" : raw.days[i]; } },
        {
          label: "spent",
          stroke: color("--accent"),
          fill: color("--accent-soft"),
          width: 1,
          paths: uPlot.paths.bars({ size: [0.7, 48], gap: 1 }),
          points: { show: false },
          value: function (u, v, s, i) { return i == null ? "–" : dollarsText(raw.cost_nanos[i]); }
        }
      ]
    };
  }

  var chart = null;
  function draw() {
    if (chart) { chart.destroy(); }
    chart = new uPlot(options(holder.clientWidth), [xs, dollars], holder);
    window.quotaDashboard = { daily: chart, dailyDays: raw.days };
  }
  draw();
  var scheme = window.matchMedia("(prefers-color-scheme: dark)");
  if (scheme.addEventListener) { scheme.addEventListener("change", draw); }
  var lastWidth = holder.clientWidth;
  new ResizeObserver(function () {
    if (holder.clientWidth !== lastWidth) {
      lastWidth = holder.clientWidth;
      chart.setSize({ width: lastWidth, height: lastWidth < 500 ? 200 : 260 });
    }
  }).observe(holder);
})();
