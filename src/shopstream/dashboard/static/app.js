// shopstream live dashboard: polls /api/overview and redraws in place (no page reload).
// Charts do not animate: they redraw every second, and motion would only blur the numbers.
"use strict";

const state = { pollMs: 1000, currency: "USD", history: [], charts: {}, lastOk: null };
const STAGE_ORDER = ["producer", "silver", "gold"];
const FUNNEL_COLORS = ["#5b8cff", "#33c3a4", "#c79bff"];
const CATEGORY_COLORS = ["#5b8cff", "#33c3a4", "#f2b84b", "#c79bff", "#ef5b5b", "#4fd1e8", "#9ad06b", "#ff8fb1", "#b0b8cc"];

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const int = (n) => (n == null ? "–" : Math.round(n).toLocaleString("en-US"));
// Money arrives as exact decimal strings; Intl formats a string without going through a float.
const money = (n) => (n == null ? "–" : new Intl.NumberFormat("en-US", { style: "currency", currency: state.currency }).format(n));
const pct = (r) => (r == null ? "–" : (r * 100).toFixed(2) + "%");
const secs = (s) => (s == null ? "–" : s < 90 ? s.toFixed(1) + " s" : s < 5400 ? (s / 60).toFixed(1) + " min" : (s / 3600).toFixed(1) + " h");
const rate = (r) => (r == null ? "–" : r.toLocaleString("en-US", { maximumFractionDigits: 0 }) + " /s");

const KPI_FORMAT = {
  total_revenue: money, orders: int, conversion_rate: pct,
  avg_order_value: money, active_customers: int, events: int,
};

function setKpi(name, value) {
  const el = $("kpi-" + name);
  const text = KPI_FORMAT[name](value);
  if (el.textContent !== text) {
    if (el.dataset.value !== "") { el.classList.add("bump"); setTimeout(() => el.classList.remove("bump"), 600); }
    el.textContent = text;
  }
  el.dataset.value = value == null ? "null" : String(value);
}

function renderKpis(k) {
  if (!k) return;
  for (const name of Object.keys(KPI_FORMAT)) setKpi(name, k[name]);
  $("sub-conversion_rate").textContent = `${int(k.purchasing_customers)} of ${int(k.active_customers)} customers bought`;
  $("sub-avg_order_value").textContent = `${pct(k.purchase_to_view_rate)} purchases / views`;
  // Growth over ~10 s, from what this page has seen.
  const now = Date.now();
  state.history.push({ t: now, k });
  while (state.history.length > 2 && now - state.history[1].t > 10000) state.history.shift();
  const old = state.history[0];
  for (const name of ["total_revenue", "orders", "active_customers", "events"]) {
    const el = $("delta-" + name);
    const d = (k[name] ?? 0) - (old.k[name] ?? 0);
    const span = ((now - old.t) / 1000).toFixed(0);
    el.textContent = d > 0 ? `+${name === "total_revenue" ? money(d) : int(d)} in ${span}s` : "no change";
    el.classList.toggle("up", d > 0);
  }
}

function renderFunnel(rows) {
  const max = Math.max(1, ...rows.map((r) => r.unique_customers));
  const label = { PAGE_VIEW: "Viewed", ADD_TO_CART: "Added to cart", PURCHASE: "Purchased" };
  $("funnel").innerHTML = rows.map((r, i) => `
    <div class="step" data-stage="${esc(r.event_type)}">
      <div class="row"><span>${label[r.event_type] || esc(r.event_type)} <span class="pct">· ${int(r.events)} events</span></span>
        <span><b>${int(r.unique_customers)}</b> <span class="pct">${pct(r.conversion_from_views)}</span></span></div>
      <div class="bar"><div class="fill" data-pct="${(100 * r.unique_customers) / max}" data-color="${FUNNEL_COLORS[i % 3]}"></div></div>
    </div>`).join("");
  sizeBars($("funnel"));
}

// The page's CSP refuses style attributes in markup; styles set through the DOM are allowed.
function sizeBars(root) {
  for (const el of root.querySelectorAll("[data-pct]")) {
    el.style.width = `${Number(el.dataset.pct)}%`;
    if (el.dataset.color) el.style.background = el.dataset.color;
  }
}

function chartDefaults() {
  Chart.defaults.color = "#8d96ad";
  Chart.defaults.borderColor = "rgba(38,48,74,.8)";
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
}

function renderHourly(rows) {
  const labels = rows.map((r) => r.event_hour.slice(5, 13).replace("T", " ") + ":00");
  const events = rows.map((r) => r.events);
  const revenue = rows.map((r) => Number(r.total_revenue));  // a chart's scale is a float anyway
  let c = state.charts.hourly;
  if (!c) {
    c = state.charts.hourly = new Chart($("hourly-chart"), {
      data: {
        labels,
        datasets: [
          { type: "line", label: "revenue", data: revenue, yAxisID: "y1", borderColor: "#33c3a4", backgroundColor: "#33c3a4", tension: 0.3, pointRadius: 3, order: 1 },
          { type: "bar", label: "events", data: events, yAxisID: "y", backgroundColor: "rgba(91,140,255,.45)", borderColor: "#5b8cff", borderWidth: 1, borderRadius: 3, order: 2 },
        ],
      },
      options: {
        maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          y: { beginAtZero: true, title: { display: true, text: "events" } },
          y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "revenue" } },
        },
        plugins: { legend: { position: "top", align: "end" } },
      },
    });
  } else {
    c.data.labels = labels;
    c.data.datasets[0].data = revenue;
    c.data.datasets[1].data = events;
    c.update("none");
  }
}

function renderCategories(rows) {
  const labels = rows.map((r) => r.category);
  const data = rows.map((r) => Number(r.revenue));
  let c = state.charts.categories;
  if (!c) {
    c = state.charts.categories = new Chart($("category-chart"), {
      type: "bar",
      data: { labels, datasets: [{ label: "revenue", data, backgroundColor: CATEGORY_COLORS, borderRadius: 5 }] },
      options: {
        indexAxis: "y", maintainAspectRatio: false, animation: false,
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: (ctx) => money(ctx.parsed.x) } } },
        scales: { x: { beginAtZero: true, ticks: { callback: (v) => money(v) } } },
      },
    });
  } else {
    c.data.labels = labels;
    c.data.datasets[0].data = data;
    c.update("none");
  }
}

function renderSessions(rows) {
  $("sessions").querySelector("tbody").innerHTML = rows.length
    ? rows.map((r) => `<tr data-device="${esc(r.device)}"><td>${esc(r.device)}</td>
        <td class="num" data-value="${r.sessions}">${int(r.sessions)}</td><td class="num">${int(r.with_cart)}</td>
        <td class="num">${int(r.converted)}</td><td class="num">${pct(r.conversion_rate)}</td>
        <td class="num" data-value="${r.cart_abandonment_rate ?? ""}">${pct(r.cart_abandonment_rate)}</td></tr>`).join("")
    : `<tr><td colspan="6" class="empty">no sessions yet</td></tr>`;
  const total = rows.reduce((n, r) => n + Number(r.sessions), 0);
  const converted = rows.reduce((n, r) => n + Number(r.converted), 0);
  $("session-summary").textContent = total ? `${int(total)} sessions · ${pct(converted / total)} converted` : "";
}

function renderProducts(rows) {
  $("top-products").querySelector("tbody").innerHTML = rows.length
    ? rows.map((r) => `<tr data-product="${esc(r.product_id)}"><td>${r.revenue_rank}</td><td>${esc(r.product_id)}</td>
        <td>${esc(r.category || "unknown")}</td><td class="num">${int(r.purchase_count)}</td>
        <td class="num">${pct(r.view_to_purchase_rate)}</td><td class="num" data-value="${esc(r.total_revenue)}">${money(r.total_revenue)}</td></tr>`).join("")
    : `<tr><td colspan="6" class="empty">no products sold yet</td></tr>`;
}

function renderTop(rows, tiers) {
  $("top-customers").querySelector("tbody").innerHTML = rows.length
    ? rows.map((r) => `<tr><td>${r.revenue_rank}</td><td>${esc(r.customer_id)}</td>
        <td><span class="badge tier-${esc(r.customer_tier)}">${esc(r.customer_tier)}</span></td>
        <td class="num">${int(r.purchase_count)}</td><td class="num">${money(r.total_revenue)}</td></tr>`).join("")
    : `<tr><td colspan="5" class="empty">no purchases yet</td></tr>`;
  $("tier-summary").innerHTML = Object.entries(tiers || {})
    .map(([t, n]) => `<span class="badge tier-${esc(t)}">${esc(t)} ${int(n)}</span>`).join(" ");
}

function stageCard(name, s) {
  let rows = [
    ["input rate", rate(s.input_rate)],
    ["arrival rate", rate(s.arrival_rate)],
    ["lag", s.lag == null ? "–" : int(s.lag)],
    ["last batch", s.last_batch_ms == null ? "–" : int(s.last_batch_ms) + " ms"],
    ["last commit", s.last_progress_age_seconds == null ? "never" : secs(s.last_progress_age_seconds) + " ago"],
  ];
  if (name === "producer") {
    // The generator reports its own counters; show the numeric ones.
    const counters = Object.entries(s.counters || {}).filter(([, v]) => typeof v === "number").slice(0, 4);
    rows = [["send rate", rate(s.input_rate)], ...counters.map(([k, v]) => [k.replace(/_/g, " "), int(v)])];
  }
  return `<div class="stage state-${esc(s.state)}" data-stage="${esc(name)}" data-state="${esc(s.state)}">
    <div class="name"><span>${esc(name)}</span><span class="state">${esc(s.state)}</span></div>
    <div class="reason">${esc(s.reason)}</div>
    <dl>${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("")}</dl></div>`;
}

const THROUGHPUT_POINTS = 120; // two minutes at one poll per second
const THROUGHPUT = [
  ["producer", "raw_events in", "#f2b84b", (st) => st.stages.silver && st.stages.silver.arrival_rate],
  ["silver", "silver consumes", "#5b8cff", (st) => st.stages.silver && st.stages.silver.input_rate],
  ["gold", "gold commits", "#33c3a4", (st) => st.stages.gold && st.stages.gold.input_rate],
];

function renderThroughput(st) {
  const label = new Date().toLocaleTimeString();
  let c = state.charts.throughput;
  if (!c) {
    c = state.charts.throughput = new Chart($("throughput-chart"), {
      type: "line",
      data: { labels: [], datasets: THROUGHPUT.map(([, name, color]) => ({ label: name, data: [], borderColor: color, backgroundColor: color, pointRadius: 0, borderWidth: 2, tension: 0.25, spanGaps: true })) },
      options: {
        maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        scales: { x: { ticks: { maxTicksLimit: 8 } }, y: { beginAtZero: true, title: { display: true, text: "records / s" } } },
        plugins: { legend: { position: "top", align: "end" } },
      },
    });
  }
  c.data.labels.push(label);
  THROUGHPUT.forEach(([, , , pick], i) => c.data.datasets[i].data.push(pick(st) ?? null));
  if (c.data.labels.length > THROUGHPUT_POINTS) {
    c.data.labels.shift();
    c.data.datasets.forEach((d) => d.data.shift());
  }
  c.update("none");
}

function renderPipeline(st) {
  const pill = $("health-pill");
  pill.dataset.healthy = String(st.healthy);
  pill.className = "pill " + (st.healthy ? "pill-ok" : "pill-bad");
  pill.textContent = st.healthy ? "● healthy" : "● " + (st.problems[0] || "unhealthy").split(":")[0];
  pill.title = st.problems.join("\n");
  const banner = $("banner");
  banner.hidden = st.healthy;
  banner.textContent = st.problems.join(" · ");
  $("freshness").textContent = "freshness " + secs(st.freshness_seconds);
  $("stall-hint").textContent = `stalled = input waiting and no commit for ${st.stall_seconds}s`;

  const kafka = st.kafka.reachable ? "" : `<div class="stage state-unknown" data-stage="kafka" data-state="unknown"><div class="name"><span>kafka</span><span class="state">unreachable</span></div><div class="reason">${esc(st.kafka.error)}</div><dl><dt>showing</dt><dd>warehouse only</dd></dl></div>`;
  const names = STAGE_ORDER.filter((n) => st.stages[n]);
  $("stages").innerHTML = kafka + names.map((n) => stageCard(n, st.stages[n])).join("");

  const lagRows = [];
  for (const [stage, l] of Object.entries(st.lag)) {
    for (const [topic, parts] of Object.entries(l.topics || {})) {
      for (const [p, v] of Object.entries(parts)) {
        lagRows.push(`<tr><td>${esc(stage)}</td><td>${esc(topic)}</td><td class="num">${esc(p)}</td><td class="num">${int(v.end)}</td><td class="num">${int(v.committed)}</td><td class="num${v.lag ? " lagging" : ""}">${int(v.lag)}</td></tr>`);
      }
    }
  }
  $("lag-table").querySelector("tbody").innerHTML = lagRows.join("") || `<tr><td colspan="6" class="empty">Kafka offsets unavailable</td></tr>`;

  const r = st.reconciliation;
  // Records in flight are "pending", not a mismatch: ≠ only once nothing is pending.
  const mark = (e) => ({
    holds: "<span class='ok-mark'>✓</span>",
    pending: `<span class="hint">… ${int(e.pending)} pending</span>`,
    fails: "<span class='bad-mark'>≠</span>",
  })[e.state] || "<span class='bad-mark'>?</span>";
  $("reconciliation").innerHTML = `
    <div>${mark(r.silver)} raw ${int(r.silver.raw)} = clean ${int(r.silver.clean)} + dead letter ${int(r.silver.dead_letter)}</div>
    <div>${mark(r.gold)} clean ${int(r.gold.clean)} = unique ${int(r.gold.unique)} + duplicates ${int(r.gold.duplicates)}</div>
    ${st.redelivered ? `<div class="hint" title="copies Silver re-sent after a crash; each record is counted once above">${int(st.redelivered)} redelivered after a crash (counted once)</div>` : ""}`;
}

function renderDeadLetters(rows) {
  const max = Math.max(1, ...rows.map((r) => r.dead_letters));
  $("dead-letters").innerHTML = rows.length ? rows.map((r) => `
    <div class="reason-row" data-reason="${esc(r.reason)}">
      <div class="reason-head"><span>${esc(r.reason)}</span><b>${int(r.dead_letters)}</b></div>
      <div class="reason-bar"><div class="reason-fill" data-pct="${(100 * r.dead_letters) / max}"></div></div>
      <details><summary>${r.samples.length} newest sample(s)</summary>
        ${r.samples.map((s) => `<div>${esc(s.source_topic)}[${s.source_partition}]@${s.source_offset}: ${esc(s.detail)}<code>${esc(s.raw_preview)}</code></div>`).join("")}
      </details>
    </div>`).join("") : `<div class="empty">no dead letters</div>`;
  sizeBars($("dead-letters"));
}

// Warehouse timestamps are naive UTC: parse them as UTC, show them as UTC.
const utc = (iso) => new Date(iso + "Z");
const utcText = (iso) => (iso == null ? "–" : iso.slice(0, 16).replace("T", " ") + " UTC");
const count = (n) => (n == null ? "–" : Number(n).toLocaleString("en-US", { maximumFractionDigits: 1 }));
const pValue = (p) => (p == null ? "–" : Number(p).toExponential(1));

function openAlertCard(a) {
  const ago = (Date.now() - utc(a.started_at).getTime()) / 1000;
  return `<div class="alert sev-${esc(a.severity)}" data-rule="${esc(a.rule)}" data-open="true">
    <div class="alert-head"><span class="badge sev-badge">${esc(a.severity)}</span> <b class="alert-rule">${esc(a.rule)}</b>
      <span class="hint">since ${utcText(a.started_at)} (${secs(Math.max(ago, 0))} ago)</span></div>
    <div class="alert-summary">${esc(a.summary)}</div>
    <div class="alert-figures">expected <b>${count(a.expected)}</b> / min · observed <b>${count(a.observed)}</b> / min · p = <b>${pValue(a.p_value)}</b></div>
  </div>`;
}

function resolvedAlertRow(a) {
  const lasted = (utc(a.resolved_at) - utc(a.started_at)) / 1000;
  return `<tr data-rule="${esc(a.rule)}" data-open="false" data-started="${esc(a.started_at)}">
    <td>${esc(a.rule)}</td><td><span class="badge sev-badge sev-${esc(a.severity)}">${esc(a.severity)}</span></td>
    <td>${utcText(a.started_at)}</td><td>${utcText(a.resolved_at)}</td><td class="num">${secs(lasted)}</td>
    <td class="num">${count(a.expected)}</td><td class="num">${count(a.observed)}</td><td class="num">${pValue(a.p_value)}</td></tr>`;
}

function renderAlerts(rows) {
  const open = rows.filter((a) => a.open);
  const resolved = rows.filter((a) => !a.open);
  const panel = $("business-alerts");
  panel.dataset.openCount = String(open.length);
  panel.classList.toggle("firing", open.length > 0);
  // An empty panel says so: "nothing shown" must not be mistaken for "not loaded".
  $("alerts-open").innerHTML = open.length
    ? open.map(openAlertCard).join("")
    : `<div class="empty" id="alerts-none">no business alerts open${resolved.length ? "" : " · none recorded"}</div>`;
  $("alerts-resolved").querySelector("tbody").innerHTML = resolved.length
    ? resolved.map(resolvedAlertRow).join("")
    : `<tr><td colspan="8" class="empty">none resolved yet</td></tr>`;
  $("alerts-resolved-count").textContent = resolved.length ? "most recent first" : "";
}

async function tick() {
  try {
    const res = await fetch("/api/overview", { cache: "no-store" });
    if (!res.ok) throw new Error("HTTP " + res.status);
    const o = await res.json();
    state.pollMs = o.poll_ms || state.pollMs;
    state.currency = o.currency || state.currency;
    renderKpis(o.kpis);
    renderFunnel(o.funnel);
    renderHourly(o.hourly);
    renderCategories(o.categories);
    renderTop(o.top_customers, o.tiers);
    renderSessions(o.sessions || []);
    renderProducts(o.top_products || []);
    renderDeadLetters(o.dead_letters);
    renderAlerts(o.alerts || []);
    renderPipeline(o.status);
    renderThroughput(o.status);
    if (o.warehouse_error) {
      $("banner").hidden = false;
      $("banner").textContent = "warehouse: " + o.warehouse_error;
    }
    state.lastOk = Date.now();
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
  } catch (err) {
    $("updated").textContent = "dashboard unreachable (" + err.message + ")";
    const pill = $("health-pill");
    pill.className = "pill pill-bad";
    pill.dataset.healthy = "false";
    pill.textContent = "● dashboard unreachable";
  } finally {
    setTimeout(tick, state.pollMs);
  }
}

chartDefaults();
tick();
