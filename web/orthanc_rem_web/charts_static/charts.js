// Chart panel of the study lists: draws /api/charts/<modality>/<chart> with Plotly (served by the
// dose browser itself). Every chart's data comes from the same JSON endpoint as for other tools;
// the list's filters are the page's own query parameters. The choices are the user's chart options,
// stored on the server: the page brings them (data-state) and the panel saves them (data-save-url).
(function () {
  "use strict";
  const panel = document.getElementById("chart-panel");
  if (!panel) return;
  const modality = panel.dataset.modality;
  const form = panel.querySelector(".chart-options");
  const list = panel.querySelector(".chart-list");
  const saved = JSON.parse(panel.dataset.state);
  let catalogue = [];
  let shownOpen = null;  // whether the charts were last drawn (true) or cleared (false)

  function filterParameters() {
    const parameters = new URLSearchParams(window.location.search);
    ["page", "per_page", "order_by", "after", "before"].forEach((name) => parameters.delete(name));  // paging is not a filter
    return parameters;
  }

  function optionParameters() {
    const parameters = new URLSearchParams();
    form.querySelectorAll("select, input[type=number]").forEach((field) => parameters.set(field.name, field.value));
    form.querySelectorAll("input[type=checkbox][name]").forEach((field) => parameters.set(field.name, field.checked ? "yes" : "no"));
    return parameters;
  }

  function restoreOptions() {
    const options = saved.options || {};
    form.querySelectorAll("select, input[type=number]").forEach((field) => {
      if (options[field.name] !== undefined) field.value = options[field.name];
    });
    form.querySelectorAll("input[type=checkbox][name]").forEach((field) => {
      if (options[field.name] !== undefined) field.checked = options[field.name] === "yes";
    });
  }

  async function save() {
    const chosen = Array.from(form.querySelectorAll("input[data-chart]:checked")).map((box) => box.dataset.chart);
    saved.plot_charts = panel.open;
    saved.charts = chosen;
    saved.options = Object.fromEntries(optionParameters());
    const body = optionParameters();
    (chosen.length ? chosen : [""]).forEach((name) => body.append("chart", name));
    body.set("plot_charts", panel.open ? "yes" : "no");
    const response = await fetch(panel.dataset.saveUrl, { method: "POST", body,
      headers: { Accept: "application/json", "X-CSRF-Token": panel.dataset.csrfToken } });
    if (!response.ok) list.replaceChildren(element("p", { class: "chart-status" }, "Chart options not saved: " + response.statusText));
  }

  function loadPlotly() {
    if (window.Plotly) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = panel.dataset.plotlyUrl;
      script.onload = resolve;
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  function element(tag, attributes, text) {
    const node = document.createElement(tag);
    Object.entries(attributes || {}).forEach(([key, value]) => node.setAttribute(key, value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function unitLabel(document) {
    return document.unit ? " (" + document.unit + ")" : "";
  }

  function averages() {
    const chosen = form.elements.average.value;
    return chosen === "both" ? ["mean", "median"] : [chosen];
  }

  // --- one figure per kind of chart ----------------------------------------------------------------

  function barFigure(document) {
    const seriesNames = Array.from(new Set(document.data.map((item) => item.series)));
    const traces = [];
    seriesNames.forEach((series) => {
      const items = document.data.filter((item) => item.series === series);
      averages().forEach((average) => {
        traces.push({
          type: "bar", name: seriesNames.length > 1 || averages().length > 1 ? series + " " + average : series,
          x: items.map((item) => item.category), y: items.map((item) => item[average]),
          text: items.map((item) => "n = " + item.n), customdata: items,
          hovertemplate: "%{x}<br>" + average + ": %{y:.2f}<br>%{text}<extra>" + series + "</extra>",
        });
      });
    });
    return { traces, layout: { barmode: "group", yaxis: { title: { text: averages().join(" / ") + unitLabel(document) } },
                               xaxis: { title: { text: document.category_label }, automargin: true } } };
  }

  function pieFigure(document) {
    const several = new Set(document.data.map((item) => item.series)).size > 1;
    return { traces: [{
      type: "pie", labels: document.data.map((item) => several ? item.category + " – " + item.series : item.category),
      values: document.data.map((item) => item.n), customdata: document.data, sort: false,
    }], layout: {} };
  }

  function timeFigure(document) {
    const average = averages().length > 1 ? "median" : averages()[0];  // the manual: median when both
    const categories = Array.from(new Set(document.data.map((item) => item.category)));
    return { traces: categories.map((category) => {
      const items = document.data.filter((item) => item.category === category);
      return { type: "scatter", mode: "lines+markers", name: category, x: items.map((item) => item.period),
               y: items.map((item) => item[average]), text: items.map((item) => "n = " + item.n) };
    }), layout: { xaxis: { title: { text: "Study date (" + document.period + ")" } },
                  yaxis: { title: { text: average + unitLabel(document) } } } };
  }

  function workloadFigure(document, day) {
    if (day) {
      return { traces: [{ type: "pie", sort: false, labels: day.hours.map((_, hour) => hour + ":00"), values: day.hours }],
               layout: { title: { text: "Studies per hour on " + day.weekday + "s" } } };
    }
    return { traces: [{ type: "pie", sort: false, labels: document.data.map((d) => d.weekday),
                        values: document.data.map((d) => d.n), customdata: document.data }], layout: {} };
  }

  function scatterFigure(document) {
    const groups = {};
    document.data.forEach((point) => {
      const key = point.series + " – " + point.breast;
      (groups[key] = groups[key] || []).push(point);
    });
    return { traces: Object.entries(groups).map(([name, points]) => ({
      type: "scattergl", mode: "markers", name, x: points.map((p) => p.x), y: points.map((p) => p.y),
    })), layout: { xaxis: { title: { text: document.x } }, yaxis: { title: { text: document.y } } } };
  }

  function figure(document) {
    switch (document.kind) {
      case "average": return barFigure(document);
      case "frequency": return pieFigure(document);
      case "over_time": return timeFigure(document);
      case "workload": return workloadFigure(document);
      default: return scatterFigure(document);
    }
  }

  // --- data table and CSV ------------------------------------------------------------------------

  function rows(document) {
    if (document.kind === "workload") {
      return [["weekday", "n", ...Array.from({ length: 24 }, (_, h) => "hour " + h)],
              ...document.data.map((d) => [d.weekday, d.n, ...d.hours])];
    }
    if (document.kind === "scatter") {
      return [["series", "breast", document.x, document.y, "study id"],
              ...document.data.map((p) => [p.series, p.breast, p.x, p.y, p.study_id])];
    }
    const columns = ["category", "series", "period", "n", "mean", "median"].filter((c) => document.data.some((i) => c in i));
    return [columns, ...document.data.map((item) => columns.map((c) => item[c]))];
  }

  function csv(document) {
    const quote = (value) => {
      const text = value === null || value === undefined ? "" : String(value);
      return /[",\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
    };
    return rows(document).map((row) => row.map(quote).join(",")).join("\n") + "\n";
  }

  function table(document) {
    const node = element("table", { class: "chart-data" });
    rows(document).forEach((row, index) => {
      const line = element("tr");
      row.forEach((cell) => line.appendChild(element(index ? "td" : "th", {},
        typeof cell === "number" && !Number.isInteger(cell) ? cell.toFixed(2) : String(cell ?? ""))));
      node.appendChild(line);
    });
    return node;
  }

  // --- a chart's box: plot, buttons, histogram, drill-down -----------------------------------------

  function showHistogram(box, item, document) {
    const target = box.querySelector(".chart-histogram");
    const h = item.histogram;
    const centres = h.counts.map((_, i) => (h.edges[i] + h.edges[i + 1]) / 2);
    target.hidden = false;
    window.Plotly.newPlot(target, [{ type: "bar", x: centres, y: h.counts, customdata: h.urls || [],
      width: h.edges.length > 1 ? h.edges[1] - h.edges[0] || undefined : undefined }], {
      title: { text: item.category + " – " + item.series }, margin: { t: 40 },
      xaxis: { title: { text: document.title.split(" per ")[0] + unitLabel(document) } },
      yaxis: { title: { text: form.elements.normalise.checked ? "fraction" : "studies / events" } },
    }, { responsive: true, displaylogo: false });
    target.on("plotly_click", (event) => {
      const url = event.points[0].customdata;
      if (url) window.location.href = url;
    });
  }

  function draw(box, document) {
    const plot = box.querySelector(".chart-plot");
    const drawn = figure(document);
    const layout = Object.assign({ title: { text: document.title }, margin: { t: 40 }, legend: { orientation: "h", y: -0.35 } }, drawn.layout);
    window.Plotly.newPlot(plot, drawn.traces, layout, { responsive: true, displaylogo: false,
      toImageButtonOptions: { filename: modality + "-" + document.chart } });
    plot.on("plotly_click", (event) => {
      const item = event.points[0].customdata;
      if (!item) return;
      if (document.kind === "workload") {
        const hourly = workloadFigure(document, item);
        window.Plotly.newPlot(plot, hourly.traces, hourly.layout, { responsive: true, displaylogo: false });
        box.querySelector(".chart-reset").hidden = false;
      } else if (item.histogram) {
        showHistogram(box, item, document);
      } else if (item.url) {
        window.location.href = item.url;
      }
    });
  }

  function chartBox(entry) {
    const box = element("section", { class: "chart", "data-chart": entry.chart });
    const tools = element("div", { class: "chart-tools" });
    const csvButton = element("button", { type: "button", class: "chart-csv" }, "Download CSV");
    const tableButton = element("button", { type: "button", class: "chart-table-toggle" }, "Toggle data table");
    const fullButton = element("button", { type: "button", class: "chart-fullscreen" }, "Full screen");
    const resetButton = element("button", { type: "button", class: "chart-reset", hidden: "" }, "Back to weekdays");
    [csvButton, tableButton, fullButton, resetButton].forEach((b) => tools.appendChild(b));
    box.appendChild(tools);
    box.appendChild(element("div", { class: "chart-plot" }));
    box.appendChild(element("div", { class: "chart-histogram", hidden: "" }));
    const tableHolder = element("div", { class: "chart-table", hidden: "" });
    box.appendChild(tableHolder);
    box.appendChild(element("p", { class: "chart-status" }, "Loading " + entry.title + "…"));
    fullButton.addEventListener("click", () => box.requestFullscreen && box.requestFullscreen());
    tableButton.addEventListener("click", () => { tableHolder.hidden = !tableHolder.hidden; });
    return box;
  }

  async function loadChart(entry) {
    const box = chartBox(entry);
    list.appendChild(box);
    const parameters = filterParameters();
    optionParameters().forEach((value, key) => parameters.set(key, value));
    const response = await fetch(panel.dataset.chartsUrl + entry.chart + "?" + parameters.toString(),
                                 { headers: { Accept: "application/json" } });
    const document = await response.json();
    const status = box.querySelector(".chart-status");
    if (!response.ok) {
      status.textContent = entry.title + ": " + (document.error || response.statusText);
      return;
    }
    status.textContent = document.data.length ? "" : entry.title + ": no data for these studies.";
    box.querySelector(".chart-table").appendChild(table(document));
    box.querySelector(".chart-csv").addEventListener("click", () => {
      const link = element("a", { href: URL.createObjectURL(new Blob([csv(document)], { type: "text/csv" })),
                                  download: modality + "-" + document.chart + ".csv" });
      link.click();
    });
    box.querySelector(".chart-reset").addEventListener("click", (event) => { event.target.hidden = true; draw(box, document); });
    if (document.data.length) draw(box, document);
    box.dataset.rendered = "yes";
  }

  async function refresh(saving) {
    if (saving) await save();
    shownOpen = panel.open;
    list.replaceChildren();
    if (!panel.open) return;
    await loadPlotly();
    const chosen = new Set(saved.charts);
    await Promise.all(catalogue.filter((entry) => chosen.has(entry.chart)).map(loadChart));
  }

  async function start() {
    const response = await fetch(panel.dataset.chartsUrl, { headers: { Accept: "application/json" } });
    catalogue = (await response.json()).charts;
    const chosen = new Set(saved.charts);
    const fieldset = form.querySelector(".chart-choice");
    catalogue.forEach((entry) => {
      const label = element("label");
      const box = element("input", { type: "checkbox", "data-chart": entry.chart });
      box.checked = chosen.has(entry.chart);
      label.appendChild(box);
      label.appendChild(document.createTextNode(" " + entry.title));
      fieldset.appendChild(label);
    });
    restoreOptions();
    // The panel comes open when the user's "Plot charts?" is on; "#chart-panel" in the URL opens it too.
    if (window.location.hash === "#chart-panel") panel.open = true;
    if (panel.open && shownOpen === null) await refresh(!saved.plot_charts);
  }

  form.querySelector(".chart-apply").addEventListener("click", () => refresh(true));
  // Opening or closing the panel switches charts on or off (and saves it), once per change.
  panel.addEventListener("toggle", () => { if (catalogue.length && panel.open !== shownOpen) refresh(true); });
  start();
})();
