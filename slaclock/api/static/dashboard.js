// slaclock dashboard: one customer's attainment chart, open clocks and credit statement,
// read from the JSON API with the bearer token kept in this tab's sessionStorage.
// Everything from the API is written with textContent (never as HTML).
"use strict";

(function () {
  const TOKEN_KEY = "slaclock.token";
  const METRICS = ["response", "intervention", "resolution"];
  const SVG = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);

  const pathCustomer = (() => {
    const parts = location.pathname.split("/").filter(Boolean);
    return parts.length >= 2 && parts[0] === "dashboard" ? decodeURIComponent(parts[1]) : null;
  })();

  // A token in the fragment (#token=...) moves to sessionStorage and leaves the address bar.
  (function takeFragmentToken() {
    const hash = new URLSearchParams(location.hash.replace(/^#/, ""));
    const token = hash.get("token");
    if (token) {
      sessionStorage.setItem(TOKEN_KEY, token);
      history.replaceState(null, "", location.pathname + location.search);
    }
  })();

  class ApiError extends Error {
    constructor(status, detail) { super(detail); this.status = status; }
  }

  async function api(path, params) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) if (v) query.set(k, v);
    const url = path + (query.toString() ? "?" + query : "");
    let response;
    for (let attempt = 1; ; attempt++) {
      response = await fetch(url, { headers: { Authorization: "Bearer " + token } });
      // 429: this token runs its share of report computations already; wait as told.
      if (response.status !== 429 || attempt >= 4) break;
      const wait = Number(response.headers.get("Retry-After")) || 1;
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    }
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) throw new ApiError(response.status, (body && body.detail) || response.statusText);
    return body;
  }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  const pct = (x) => (x === null || x === undefined ? "–" : (x * 100).toFixed(1) + "%");

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const late = seconds < 0;
    let s = Math.abs(seconds);
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60);
    const text = (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m";
    return late ? "overdue " + text : text;
  }

  function monthsBack(month, n) {
    const [y, m] = month.split("-").map(Number);
    const index = y * 12 + (m - 1) - n;
    return String(Math.floor(index / 12)).padStart(4, "0") + "-" + String(index % 12 + 1).padStart(2, "0");
  }

  // ------------------------------------------------------------------ state and routing
  const pageParams = new URLSearchParams(location.search);
  let asOf = pageParams.get("as_of") || "";
  let month = pageParams.get("month") || "";
  let customer = pathCustomer;

  function showError(id, message) {
    const node = $(id);
    node.textContent = message;
    node.hidden = !message;
  }

  function showLogin(message) {
    $("board").hidden = true;
    $("session").hidden = true;
    $("login").hidden = false;
    $("customer-label").hidden = !!pathCustomer;
    showError("login-error", message || "");
  }

  async function start() {
    if (!sessionStorage.getItem(TOKEN_KEY)) return showLogin();
    let me;
    try {
      me = await api("/api/me");
    } catch (e) {
      sessionStorage.removeItem(TOKEN_KEY);
      return showLogin(e.status === 401 ? "This token was not accepted." : e.message);
    }
    if (!customer) {
      customer = me.admin ? ($("customer-input").value || "").trim() : me.customer_id;
      if (!customer) return showLogin("An admin token needs a customer.");
      location.replace("/dashboard/" + encodeURIComponent(customer) + location.search);
      return;
    }
    $("login").hidden = true;
    $("session").hidden = false;
    $("who").textContent = me.admin ? "admin" : "customer " + me.customer_id;
    $("title").textContent = customer;
    document.title = "slaclock – " + customer;
    $("board").hidden = false;
    $("as-of").value = asOf;
    await load();
  }

  async function load() {
    showError("error", "");
    try {
      const series = await api("/api/reports/attainment", { customer, as_of: asOf || null });
      const months = series.months.map((m) => m.month);
      if (!month || !months.includes(month)) month = monthsBack(series.to, 1);
      if (!months.includes(month)) month = series.to;
      fillMonths(months);
      $("as-of-shown").textContent = "as of " + series.as_of;
      drawChart(series);
      fillDetail(series.months.find((m) => m.month === month));
      const [queue, statement] = await Promise.all([
        api("/api/queue", { customer, order: "deadline", as_of: asOf || null, limit: "1000" }),
        api("/api/reports/credits", { customer, month, as_of: asOf || null }),
      ]);
      fillClocks(queue);
      fillCredits(statement);
      document.body.dataset.loaded = "true";
    } catch (e) {
      if (e.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
        return showLogin("This token was not accepted.");
      }
      const text = e.status === 404 ? "No data for " + customer + " with this token." : e.message;
      showError("error", text);
      document.body.dataset.loaded = "error";
    }
  }

  function fillMonths(months) {
    const select = $("month");
    select.replaceChildren(...months.map((m) => {
      const option = el("option", m);
      option.value = m;
      option.selected = m === month;
      return option;
    }));
  }

  // ------------------------------------------------------------------ chart (inline SVG)
  function drawChart(series) {
    const width = 760, height = 260, left = 44, bottom = 40, top = 12, right = 10;
    const plotW = width - left - right, plotH = height - top - bottom;
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": "attainment by month and metric" });
    root.appendChild(svg("title", {}, "Attainment by month and metric"));
    for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
      const y = top + plotH * (1 - tick);
      root.appendChild(svg("line", { x1: left, x2: width - right, y1: y, y2: y, class: "grid" }));
      root.appendChild(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end" }, pct(tick).replace(".0", "")));
    }
    const slot = plotW / series.months.length;
    const barW = Math.min(28, (slot - 12) / METRICS.length);
    series.months.forEach((m, i) => {
      const x0 = left + i * slot;
      if (m.month === month) {
        root.appendChild(svg("rect", { x: x0, y: top, width: slot, height: plotH, class: "selected-month" }));
      }
      METRICS.forEach((metric, j) => {
        const t = m.metrics[metric];
        if (!t || t.attainment === null) return;
        const h = Math.max(plotH * t.attainment, 1);
        const bar = svg("rect", {
          class: "bar " + metric, x: x0 + 6 + j * barW, y: top + plotH - h, width: barW - 2, height: h,
          "data-month": m.month, "data-metric": metric, "data-attainment": t.attainment,
          "data-met": t.met, "data-breached": t.breached,
        });
        bar.appendChild(svg("title", {}, `${m.month} ${metric}: ${pct(t.attainment)} (${t.met} met, ${t.breached} breached)`));
        root.appendChild(bar);
        root.appendChild(svg("text", { x: x0 + 6 + j * barW + (barW - 2) / 2, y: top + plotH - h - 3,
          "text-anchor": "middle", class: "value" }, pct(t.attainment).replace(".0%", "%")));
      });
      root.appendChild(svg("text", { x: x0 + slot / 2, y: height - bottom + 16, "text-anchor": "middle" }, m.month));
    });
    root.appendChild(svg("line", { x1: left, x2: left, y1: top, y2: top + plotH, class: "axis" }));
    root.appendChild(svg("line", { x1: left, x2: width - right, y1: top + plotH, y2: top + plotH, class: "axis" }));
    METRICS.forEach((metric, j) => {
      const x = left + j * 130;
      root.appendChild(svg("rect", { x, y: height - 14, width: 10, height: 10, class: "bar " + metric }));
      root.appendChild(svg("text", { x: x + 14, y: height - 5 }, metric));
    });
    $("chart").replaceChildren(root);
  }

  function fillDetail(m) {
    $("detail-month").textContent = month;
    const rows = (m && m.rows) || [];
    $("attainment-table").tBodies[0].replaceChildren(...rows.map((r) => {
      const tr = el("tr");
      tr.dataset.metric = r.metric;
      tr.dataset.priority = r.priority === null ? "" : r.priority;
      tr.append(el("td", r.metric), el("td", r.priority === null ? "–" : "P" + r.priority),
        el("td", r.met, "num"), el("td", r.breached, "num"));
      const cell = el("td", pct(r.attainment), "num attainment");
      cell.dataset.value = r.attainment;
      tr.append(cell);
      return tr;
    }));
    $("attainment-empty").hidden = rows.length > 0;
  }

  // ------------------------------------------------------------------ open clocks
  function fillClocks(queue) {
    const clocks = [];
    for (const item of queue.items) {
      for (const [metric, c] of Object.entries(item.clocks)) {
        clocks.push({ ticket: item.ticket_id, metric, ...c });
      }
    }
    clocks.sort((a, b) => (a.remaining_seconds ?? Infinity) - (b.remaining_seconds ?? Infinity));
    $("clocks-table").tBodies[0].replaceChildren(...clocks.map((c) => {
      const tr = el("tr", null, "risk-" + c.risk);
      tr.dataset.ticket = c.ticket;
      tr.dataset.metric = c.metric;
      tr.dataset.risk = c.risk;
      const status = el("td");
      status.append(el("span", c.risk === "ok" ? c.status : c.risk.replace("_", " "), "badge " + c.risk));
      const remaining = el("td", duration(c.remaining_seconds), "num remaining");
      remaining.dataset.seconds = c.remaining_seconds;
      tr.append(el("td", c.ticket), el("td", c.metric), el("td", c.priority === null ? "–" : "P" + c.priority),
        status, el("td", c.deadline || "–"), remaining);
      return tr;
    }));
    $("clocks-empty").hidden = clocks.length > 0;
  }

  // ------------------------------------------------------------------ credits
  function fillCredits(statement) {
    $("credits-month").textContent = statement.month + " (" + statement.currency + ")";
    const mine = statement.customers.find((c) => c.customer_id === customer);
    const entries = mine ? mine.entries : [];
    $("credits-table").tBodies[0].replaceChildren(...entries.map((e) => {
      const tr = el("tr");
      tr.append(el("td", e.ticket_id), el("td", e.metric), el("td", e.breached_at), el("td", e.amount, "num"));
      return tr;
    }));
    fillObjectives(statement.month, mine);
    $("credits-subtotal").textContent = mine ? mine.subtotal : "0.00";
    $("credits-cap").textContent = mine ? (mine.cap ?? "–") : "–";
    $("credits-total").textContent = mine ? mine.total : "0.00";
    for (const [id, report] of [["credits-csv", "credits"], ["compliance-csv", "compliance"]]) {
      $(id).onclick = (event) => { event.preventDefault(); download(report); };
    }
  }

  // Each objective of the customer's plans for the month: target, attainment and the credit
  // tier reached ("not assessed" below the objective's minimum of outcomes).
  function fillObjectives(monthShown, mine) {
    const objectives = (mine && mine.objectives) || [];
    $("objectives").hidden = objectives.length === 0;
    $("objectives-month").textContent = monthShown;
    $("objectives-table").tBodies[0].replaceChildren(...objectives.map((o) => {
      const tr = el("tr", null, o.assessed && !o.achieved ? "missed" : null);
      tr.dataset.metric = o.metric;
      tr.dataset.priorities = o.priorities === null ? "" : o.priorities.join(",");
      const reached = !o.assessed ? "not assessed" : o.achieved ? "achieved" : "credit " + o.credit;
      const attainment = el("td", o.attainment === null ? "–" : pct(o.attainment), "num attainment");
      attainment.dataset.value = o.attainment === null ? "" : o.attainment;
      const tier = el("td", reached, "tier");
      tier.dataset.credit = o.credit === null ? "" : o.credit;
      tr.append(el("td", o.metric),
        el("td", o.priorities === null ? "all" : o.priorities.map((p) => "P" + p).join(", ")),
        el("td", o.target, "num"), el("td", o.met, "num"), el("td", o.breached, "num"),
        attainment, tier, el("td", o.amount, "num amount"));
      return tr;
    }));
  }

  async function download(report) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const query = new URLSearchParams({ customer, month, format: "csv" });
    if (asOf) query.set("as_of", asOf);
    const response = await fetch(`/api/reports/${report}?${query}`, { headers: { Authorization: "Bearer " + token } });
    if (!response.ok) return showError("error", "download failed: " + response.status);
    const link = el("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = `${report}_${month}_${customer}.csv`;
    link.click();
    URL.revokeObjectURL(link.href);
  }

  // ------------------------------------------------------------------ events
  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, $("token-input").value.trim());
      $("token-input").value = "";
      start();
    });
    $("logout").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin("Logged out.");
    });
    $("controls").addEventListener("submit", (event) => {
      event.preventDefault();
      asOf = $("as-of").value.trim();
      month = $("month").value;
      const query = new URLSearchParams();
      if (asOf) query.set("as_of", asOf);
      if (month) query.set("month", month);
      history.replaceState(null, "", location.pathname + (query.toString() ? "?" + query : ""));
      load();
    });
    start();
  });
})();
