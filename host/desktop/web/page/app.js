// The live page: readings, commands and faults from the server's event stream; buttons post the
// same command payloads MQTT carries. Text from the scale is only ever set as text, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
/** Flags shown as pills; the ones that are bad news are red when set. */
const SHOWN = ["STABLE", "NET", "CENTER_ZERO", "UNCALIBRATED", "OVERLOAD", "UNDERLOAD", "GROSS_NEGATIVE"];
const BAD = new Set(["UNCALIBRATED", "OVERLOAD", "UNDERLOAD"]);

let historyS = 300;
let decimals = 2;
let settings = [];
const series = { t: [], kg: [], gross: [] };
let chart = null;
let redraw = false;

function makeChart() {
  const el = $("chart");
  chart = new uPlot({
    width: Math.max(300, el.clientWidth), height: 260,
    scales: { x: { time: false } },
    axes: [{ label: "s" }, { label: "kg" }],
    series: [{ label: "t (s)" }, { label: "weight kg", stroke: "#1565c0", width: 2 }, { label: "gross kg", stroke: "#9e9e9e", width: 1 }],
  }, [series.t, series.kg, series.gross], el);
  addEventListener("resize", () => chart.setSize({ width: Math.max(300, el.clientWidth), height: 260 }));
}

function plot(r) {
  series.t.push(r.t);
  series.kg.push(r.kg);
  series.gross.push(r.gross);
  while (series.t.length && series.t[0] < r.t - historyS) {
    series.t.shift(); series.kg.shift(); series.gross.shift();
  }
  if (!redraw) {
    redraw = true;
    requestAnimationFrame(() => {
      redraw = false;
      chart.setData([series.t, series.kg, series.gross]);
    });
  }
}

function fmt(kg) {
  return kg === null ? "–" : kg.toFixed(decimals);
}

function show(r) {
  const w = $("weight");
  w.dataset.seq = String(r.seq);
  w.dataset.kg = r.kg === null ? "" : String(r.kg);
  if (r.fault) {
    $("fault").hidden = false;
    $("fault").textContent = `FAULT ${r.fault} (chip ${r.chip})`;
    return;
  }
  $("fault").hidden = true;
  w.textContent = r.flags.includes("OVERLOAD") ? "OVERLOAD" : fmt(r.kg);
  $("gross").textContent = r.flags.includes("NET") ? `gross ${fmt(r.gross)} kg` : "";
  const count = $("count");
  count.hidden = r.count === null;
  count.textContent = r.count === null ? "" : `${r.count} pcs${r.flags.includes("COUNT_STABLE") ? "" : " ~"}`;
  count.dataset.count = r.count === null ? "" : String(r.count);
  const flags = $("flags");
  flags.replaceChildren(...SHOWN.map((f) => {
    const s = document.createElement("span");
    s.textContent = f.toLowerCase().replace("_", " ");
    s.dataset.flag = f;
    if (r.flags.includes(f)) s.className = BAD.has(f) ? "warn" : "on";
    return s;
  }));
  flags.dataset.flags = r.flags.join(" ");
}

function showLink(link) {
  const el = $("link");
  if (!link) {
    el.textContent = "no MQTT";
    el.className = "pill";
    return;
  }
  el.textContent = link.connected ? `MQTT connected, ${link.pending} waiting` : `MQTT offline: ${link.pending} waiting, ${link.dropped} dropped`;
  el.className = `pill ${link.connected ? "up" : "down"}`;
}

function addLog(e) {
  const li = document.createElement("li");
  li.textContent = `${e.t.toFixed(1)} s  ${e.source ? e.source + "  " : ""}${e.text}`;
  li.dataset.kind = e.kind;
  if (!e.ok) li.className = "bad";
  $("log").prepend(li);
  while ($("log").children.length > 200) $("log").lastChild.remove();
}

function showSettings(list) {
  settings = list;
  const division = list.find((s) => s.name === "DIVISION_KG");
  if (division) decimals = Math.max(0, Math.ceil(-Math.log10(division.value) - 1e-9));
  const select = $("setting");
  const chosen = select.value;
  select.replaceChildren(...list.map((s) => {
    const o = document.createElement("option");
    o.value = s.name;
    o.textContent = `${s.name} = ${s.value}`;
    return o;
  }));
  if (chosen) select.value = chosen;
  describeSetting();
}

function describeSetting() {
  const s = settings.find((x) => x.name === $("setting").value);
  if (!s) return;
  $("setting-doc").textContent = `${s.doc} (${s.min} to ${s.max})`;
  $("setting-value").min = s.min;
  $("setting-value").max = s.max;
  if (document.activeElement !== $("setting-value")) $("setting-value").value = s.value;
}

async function send(command) {
  const out = $("result");
  out.className = "";
  out.textContent = `${command.cmd}…`;
  try {
    const res = await fetch("/command", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(command) });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error ?? res.statusText);
    out.className = body.status;
    out.textContent = `${command.cmd}: ${body.status}${body.reason ? ` (${body.reason})` : ""}`;
  } catch (e) {
    out.className = "rejected";
    out.textContent = `${command.cmd}: not sent (${e.message})`;
  }
}

function wire() {
  for (const b of document.querySelectorAll("button[data-cmd]")) b.addEventListener("click", () => send({ cmd: b.dataset.cmd }));
  $("cal-zero").addEventListener("click", () => send({ cmd: "cal_point", kg: 0 }));
  $("calibrate").addEventListener("click", () => send({ cmd: "calibrate", kg: Number($("cal-kg").value) }));
  $("setting").addEventListener("change", describeSetting);
  $("set").addEventListener("click", () => send({ cmd: "config", key: $("setting").value, value: Number($("setting-value").value) }));
}

function connect() {
  const events = new EventSource("/events");
  events.addEventListener("hello", (m) => {
    const h = JSON.parse(m.data);
    historyS = h.historyS;
    $("about").textContent = `${h.about.deviceId} · ${h.about.scenario} · engine ${h.about.engine}`;
    showSettings(h.settings);
    showLink(h.link);
    series.t.length = series.kg.length = series.gross.length = 0;
    for (const r of h.history) plot(r);
    if (h.history.length) show(h.history[h.history.length - 1]);
    $("log").replaceChildren();
    for (const e of h.log) addLog(e);
  });
  events.addEventListener("reading", (m) => {
    const r = JSON.parse(m.data);
    plot(r);
    show(r);
    showLink(r.link);
  });
  events.addEventListener("log", (m) => addLog(JSON.parse(m.data)));
  events.addEventListener("settings", (m) => showSettings(JSON.parse(m.data)));
  events.addEventListener("error", () => {
    $("link").textContent = "scale not reachable (stopped?)";
    $("link").className = "pill down";
  });
}

makeChart();
wire();
connect();
