// Draws each chart from the plotly JSON the page carries, and follows a running run's progress.
"use strict";

function drawCharts() {
  document.querySelectorAll("div.chart[data-figure]").forEach(function (el) {
    var data = document.getElementById(el.dataset.figure);
    if (!data || typeof Plotly === "undefined") { return; }
    var fig = JSON.parse(data.textContent);
    Plotly.newPlot(el, fig.data, fig.layout, {responsive: true, displaylogo: false});
  });
}

function followRun() {
  var box = document.getElementById("run-progress");
  if (!box) { return; }
  var bar = box.querySelector("progress");
  var text = document.getElementById("run-message");
  var status = document.getElementById("run-status");
  function poll() {
    fetch(box.dataset.statusUrl, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        bar.value = s.progress;
        status.textContent = s.status;
        text.textContent = s.message || "";
        if (s.status === "queued" || s.status === "running") {
          window.setTimeout(poll, 500);
        } else {
          window.location.reload();
        }
      })
      .catch(function () { window.setTimeout(poll, 2000); });
  }
  window.setTimeout(poll, 300);
}

function markErrorLine() {
  var line = document.querySelector("ol.source li.error-line");
  if (line) { line.parentElement.scrollTop = Math.max(0, line.offsetTop - 120); }
}

document.addEventListener("DOMContentLoaded", function () {
  drawCharts();
  followRun();
  markErrorLine();
});
