// The dashboard's charts (Apache ECharts, /static/vendor/echarts.min.js). Each chart is a
// <div class="chart" data-chart="KIND" data-source="ID">; its data is the JSON block
// <script type="application/json" id="ID"> {"labels": {...}, "data": {...}} (not executed: fine under
// the Content-Security-Policy). Tooltips are drawn by ECharts itself (richText), not as HTML with
// inline styles. Charts follow the window's size; on a phone (under 600 px) they are compact.
(function () {
  "use strict";
  if (!window.echarts) return;
  const charts = [];
  const narrow = () => window.innerWidth < 600;
  const BLUE = "#1f5fbf", LIGHT = "#9bb8e6", GREY = "#c9ced6", GREEN = "#2e8b57";

  function block(id) {
    const el = id && document.getElementById(id);
    if (!el) return null;
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }

  // Compact amounts in the page's language: 1.2万 in Chinese, 12K in English.
  const compact = new Intl.NumberFormat(document.documentElement.lang || undefined,
                                        {notation: "compact", maximumFractionDigits: 1});
  function amount(v) {
    return v === null || v === undefined ? "" : compact.format(v);
  }

  function tall(el, rows, perRow) {  // a horizontal bar chart grows with its rows
    el.style.height = Math.max(220, 60 + rows * perRow) + "px";
  }

  function base() {
    return {
      animation: false,
      tooltip: {trigger: "axis", renderMode: "richText", axisPointer: {type: "shadow"}},
      grid: {left: 8, right: narrow() ? 60 : 72, top: 36, bottom: 8, containLabel: true},
      legend: {top: 0, type: "scroll", itemWidth: 14, itemHeight: 10},
      textStyle: {fontFamily: "system-ui, -apple-system, 'PingFang SC', sans-serif"},
    };
  }

  function category(names) {
    return {type: "category", data: names, inverse: true,
            axisLabel: {width: narrow() ? 90 : 200, overflow: "truncate"}};
  }

  const builders = {
    // Sales by region: this period, the last and a year ago; the growth against the last as a label.
    sales(el, {labels, data}) {
      tall(el, data.regions.length, narrow() ? 54 : 44);
      return Object.assign(base(), {
        xAxis: {type: "value", axisLabel: {formatter: amount}},
        yAxis: category(data.regions),
        series: [
          {name: labels.current, type: "bar", data: data.current, itemStyle: {color: BLUE},
           label: {show: true, position: "right", formatter: (p) => {
             const g = data.growth[p.dataIndex];
             return g === null ? "" : (g > 0 ? "+" : "") + g + "%";
           }}},
          {name: labels.previous, type: "bar", data: data.previous, itemStyle: {color: LIGHT}},
          {name: labels.year_ago, type: "bar", data: data.year_ago, itemStyle: {color: GREY}},
        ],
      });
    },
    // Top products (by sales or by sell-through): one series of horizontal bars, best first.
    bars(el, {labels, data}) {
      tall(el, data.names.length, 28);
      const option = Object.assign(base(), {
        xAxis: {type: "value", axisLabel: {formatter: amount}},
        yAxis: category(data.names),
        series: [{name: labels.value, type: "bar", data: data.values, itemStyle: {color: BLUE},
                  label: {show: !narrow(), position: "right", formatter: (p) => amount(p.value)}}],
      });
      option.legend = {show: false};
      option.grid.top = 8;
      return option;
    },
    // A policy's effect: acknowledged and converted before and after, pilot against the rest (percent).
    policy(el, {labels, data}) {
      el.style.height = "260px";
      return Object.assign(base(), {
        xAxis: {type: "category", data: data.groups.map((g) => labels[g])},
        yAxis: {type: "value", max: 100, axisLabel: {formatter: "{value}%"}},
        series: [
          {name: labels.acknowledged, type: "bar", data: data.acknowledged, itemStyle: {color: GREY}},
          {name: labels.before, type: "bar", data: data.before, itemStyle: {color: LIGHT}},
          {name: labels.after, type: "bar", data: data.after, itemStyle: {color: BLUE},
           label: {show: true, position: "top", formatter: "{c}%"}},
        ],
      });
    },
    // Dealers by tier: a ring.
    tiers(el, {labels, data}) {
      el.style.height = "260px";
      return {
        animation: false,
        tooltip: {trigger: "item", renderMode: "richText"},
        legend: {bottom: 0, type: "scroll"},
        series: [{name: labels.dealers, type: "pie", radius: ["40%", "68%"], center: ["50%", "45%"],
                  data: data.tiers, label: {formatter: "{b}: {c}"}}],
      };
    },
    // Dealers and net sales by area on the admin's uploaded map (fetched once, same origin).
    async map(el, {labels, data}) {
      const r = await fetch(el.dataset.geojson, {credentials: "same-origin"});
      if (!r.ok || r.redirected) return null;
      echarts.registerMap("dealerflow-areas", await r.json());
      el.style.height = narrow() ? "360px" : "520px";
      const values = data.areas.map((a) => a.value || 0);
      return {
        animation: false,
        tooltip: {trigger: "item", renderMode: "richText", formatter: (p) => {
          const a = data.areas.find((x) => x.name === p.name);
          return a ? `${p.name}\n${labels.sales}: ${amount(a.value)}\n${labels.dealers}: ${a.dealers}` : p.name;
        }},
        visualMap: {min: 0, max: Math.max(1, ...values), orient: "horizontal", left: "center", bottom: 0,
                    calculable: true, inRange: {color: ["#e8f0fb", BLUE]}, text: [labels.sales, ""]},
        series: [{name: labels.sales, type: "map", map: "dealerflow-areas", roam: !narrow(),
                  top: 8, bottom: 48, emphasis: {label: {show: true}}, data: data.areas}],
      };
    },
  };

  async function draw(el) {
    const build = builders[el.dataset.chart];
    const source = block(el.dataset.source);
    if (!build || !source) return;
    try {
      const option = await build(el, source);
      if (!option) return;
      const chart = echarts.init(el, null, {renderer: "canvas"});
      chart.setOption(option);
      charts.push(chart);
    } catch (e) {
      el.hidden = true;  // the table under it still has the figures
    }
  }

  function start() {
    document.querySelectorAll(".chart[data-chart]").forEach(draw);
  }

  let pending = null;
  window.addEventListener("resize", () => {
    clearTimeout(pending);
    pending = setTimeout(() => charts.forEach((c) => c.resize()), 100);
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
