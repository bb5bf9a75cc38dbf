// treeline observer: draws API v1 snapshots from the event stream.
// No framework and no build step; the tree is plain SVG laid out left to
// right (depth -> column, leaves on consecutive rows, a parent centred on its
// children). Test hooks: body[data-seq], g.node[data-actor][data-mailbox]
// [data-restarts][data-status].
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const DX = 190, DY = 46, W = 168, H = 36, FOLD = 40;
const state = { last: null, prev: null, paused: false, selected: null, sort: "mailbox", desc: true, filter: "" };
const destructive = document.body.dataset.destructive === "true";

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function fmt(n) {
  if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (n >= 1e4) return (n / 1e3).toFixed(0) + "k";
  return String(Math.round(n));
}

// Fits a label in a node box (the whole text is in the node's tooltip).
function clip(text, max) {
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

function fill(actor) {
  const cap = actor.mailbox.capacity;
  return cap ? actor.mailbox.len / cap : 0;
}

function rates(snap, prev) {
  const out = new Map();
  if (!prev) return out;
  const dt = (snap.taken_at_ms - prev.taken_at_ms) / 1000;
  if (dt <= 0) return out;
  const before = new Map(prev.actors.map(a => [a.id, a.handled.total]));
  for (const a of snap.actors) {
    if (before.has(a.id)) out.set(a.id, Math.max(0, a.handled.total - before.get(a.id)) / dt);
  }
  return out;
}

function statusClass(actor) {
  return actor.flag || actor.status;
}

// --- header ---

function renderTotals(snap, prev) {
  const box = document.getElementById("totals");
  box.replaceChildren();
  let rate = "–", deadRate = "–";
  if (prev) {
    const dt = (snap.taken_at_ms - prev.taken_at_ms) / 1000;
    if (dt > 0) {
      rate = fmt(Math.max(0, snap.totals.handled - prev.totals.handled) / dt);
      deadRate = fmt(Math.max(0, snap.totals.dead_letters - prev.totals.dead_letters) / dt);
    }
  }
  const items = [
    ["uptime", fmtDuration(snap.uptime_ms)],
    ["actors", fmt(snap.totals.actors)],
    ["spawned", fmt(snap.totals.spawned)],
    ["msgs/s", rate],
    ["dead letters", fmt(snap.totals.dead_letters)],
    ["dead/s", deadRate],
    ["calls waiting", String(snap.calls.length)],
    ["deadlocks", String(snap.deadlocks.length)],
  ];
  if (snap.runtime) {
    items.push(["tokio workers", String(snap.runtime.workers)]);
    items.push(["tasks", fmt(snap.runtime.alive_tasks)]);
    items.push(["global queue", String(snap.runtime.global_queue_depth)]);
  }
  for (const [k, v] of items) {
    const div = el("div", { class: k === "deadlocks" && snap.deadlocks.length ? "alarm" : "" });
    div.append(el("dt", {}, k), el("dd", {}, v));
    box.append(div);
  }
}

function fmtDuration(ms) {
  const s = Math.floor(ms / 1000);
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
  return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
}

// --- the tree ---

function treeNodes(snap) {
  const byId = new Map(snap.actors.map(a => [a.id, a]));
  const kids = new Map();
  const roots = [];
  for (const a of snap.actors) {
    if (a.parent !== null && byId.has(a.parent)) {
      if (!kids.has(a.parent)) kids.set(a.parent, []);
      kids.get(a.parent).push({ actor: a });
    } else {
      roots.push({ actor: a });
    }
  }
  // A supervisor's children in start order, with restarting ones as ghosts.
  for (const a of snap.actors) {
    if (!a.supervisor) continue;
    const live = kids.get(a.id) || [];
    const ordered = [];
    for (const row of a.supervisor.children) {
      const found = live.find(k => k.actor.id === row.actor);
      if (found) ordered.push(found);
      else if (row.status !== "running") ordered.push({ ghost: row, parent: a.id });
    }
    for (const k of live) if (!ordered.includes(k)) ordered.push(k);
    kids.set(a.id, ordered);
  }
  return { roots, kids };
}

function layout(roots, kids) {
  const placed = [];
  const edges = [];
  let row = 0;
  function place(node, depth) {
    const id = node.actor ? node.actor.id : null;
    let children = id !== null ? (kids.get(id) || []) : [];
    let folded = 0;
    if (children.length > FOLD) {
      // Many children (a dynamic supervisor): the busiest, then a summary.
      const sorted = [...children].sort((a, b) => (b.actor ? b.actor.mailbox.len : 0) - (a.actor ? a.actor.mailbox.len : 0));
      folded = children.length - 10;
      children = sorted.slice(0, 10);
    }
    const ys = children.map(c => place(c, depth + 1));
    if (folded) ys.push(placeSummary(folded, depth + 1, node));
    const y = ys.length ? (ys[0] + ys[ys.length - 1]) / 2 : (row++) * DY;
    const x = depth * DX;
    placed.push({ node, x, y });
    for (const cy of ys) edges.push({ x1: x + W, y1: y + H / 2, x2: (depth + 1) * DX, y2: cy + H / 2 });
    return y;
  }
  function placeSummary(count, depth, parent) {
    const y = (row++) * DY;
    placed.push({ node: { summary: count, parent }, x: depth * DX, y });
    return y;
  }
  for (const r of roots) place(r, 0);
  return { placed, edges, rows: row };
}

function renderTree(snap) {
  const tree = document.getElementById("tree");
  const { roots, kids } = treeNodes(snap);
  const rowsBy = new Map();
  for (const a of snap.actors) if (a.supervisor) for (const c of a.supervisor.children) if (c.actor !== null) rowsBy.set(c.actor, c);
  const { placed, edges, rows } = layout(roots, kids);
  const width = Math.max(...placed.map(p => p.x), 0) + W + 20;
  tree.setAttribute("width", width);
  tree.setAttribute("height", Math.max(rows, 1) * DY + 10);
  tree.replaceChildren();
  for (const e of edges) {
    const mid = (e.x1 + e.x2) / 2;
    tree.append(svg("path", { class: "edge", d: `M${e.x1},${e.y1} H${mid} V${e.y2} H${e.x2}` }));
  }
  for (const { node, x, y } of placed) {
    const g = svg("g", { transform: `translate(${x + 4},${y + 4})` });
    if (node.summary) {
      g.setAttribute("class", "node summary");
      g.append(svg("rect", { width: W, height: H, rx: 6 }));
      g.append(svg("text", { x: 8, y: 22 }, `+${node.summary} more children`));
    } else if (node.ghost) {
      const row = node.ghost;
      g.setAttribute("class", `node ghost ${row.status === "restarting" ? "restarting" : "stopped"}`);
      g.setAttribute("data-actor", row.id || "");
      g.setAttribute("data-status", row.status);
      g.setAttribute("data-restarts", row.restarts);
      g.append(svg("rect", { width: W, height: H, rx: 6 }));
      g.append(svg("text", { x: 8, y: 15, class: "kind" }, clip(row.id || row.actor_type, 24)));
      g.append(svg("text", { x: 8, y: 29, class: "sub" }, `${row.status} · restarts ${row.restarts}`));
    } else {
      const a = node.actor;
      const row = rowsBy.get(a.id);
      const restarts = row ? row.restarts : 0;
      const hot = a.mailbox.capacity && fill(a) > 0.8;
      const cls = ["node", statusClass(a)];
      if (hot) cls.push("hot");
      if (a.supervisor) cls.push("supervisor");
      if (state.selected === a.id) cls.push("selected");
      g.setAttribute("class", cls.join(" "));
      g.setAttribute("data-actor", a.kind);
      g.setAttribute("data-id", a.id);
      g.setAttribute("data-status", a.status);
      g.setAttribute("data-mailbox", a.mailbox.len);
      g.setAttribute("data-restarts", restarts);
      g.append(svg("rect", { width: W, height: H, rx: 6 }));
      if (a.mailbox.capacity) {
        const w = Math.max(0, Math.min(1, fill(a))) * (W - 2);
        g.append(svg("rect", { class: "fill", x: 1, y: H - 5, width: w, height: 4 }));
      }
      const title = a.supervisor ? `${a.kind} (${a.supervisor.strategy})` : a.kind;
      g.append(svg("text", { x: 8, y: 15, class: "kind" }, clip(title, 24)));
      const cap = a.mailbox.capacity ? "/" + a.mailbox.capacity : "";
      const sub = `${a.label} · ✉ ${a.mailbox.len}${cap}` + (restarts ? ` · ↻ ${restarts}` : "");
      g.append(svg("text", { x: 8, y: 29, class: "sub" }, sub));
      const tip = [`${a.label} ${a.actor_type}`, `status: ${a.status}${a.handling ? " " + a.handling.message_type + " for " + a.handling.for_ms + " ms" : ""}`,
        `mailbox: ${a.mailbox.len}${cap}`, `handled: ${a.handled.total}`, `restarts: ${restarts}`].join("\n");
      g.append(svg("title", {}, tip));
      g.addEventListener("click", () => select(a.id));
    }
    tree.append(g);
  }
}

// --- the actors table ---

function sortValue(a, key, rate, restarts) {
  switch (key) {
    case "id": return a.id;
    case "kind": return a.kind;
    case "names": return a.names.join(",");
    case "status": return statusClass(a);
    case "mailbox": return a.mailbox.len;
    case "rate": return rate.get(a.id) || 0;
    case "handled": return a.handled.total;
    case "restarts": return restarts.get(a.id) || 0;
    case "dead": return a.dead_letters;
    case "handler": return a.handling ? a.handling.for_ms : -1;
  }
  return 0;
}

function renderTable(snap, prev) {
  const rate = rates(snap, prev);
  const restarts = new Map();
  for (const a of snap.actors) if (a.supervisor) for (const c of a.supervisor.children) if (c.actor !== null) restarts.set(c.actor, c.restarts);
  const needle = state.filter.toLowerCase();
  const rows = snap.actors.filter(a => !needle || [a.kind, a.actor_type, a.label, statusClass(a), ...a.names].some(s => s.toLowerCase().includes(needle)));
  rows.sort((x, y) => {
    const a = sortValue(x, state.sort, rate, restarts), b = sortValue(y, state.sort, rate, restarts);
    const c = a < b ? -1 : a > b ? 1 : x.id - y.id;
    return state.desc ? -c : c;
  });
  const body = document.querySelector("#actors tbody");
  body.replaceChildren();
  for (const a of rows) {
    const tr = el("tr", { "data-id": a.id, class: [statusClass(a), state.selected === a.id ? "selected" : ""].join(" ") });
    const cap = a.mailbox.capacity ? "/" + a.mailbox.capacity : "";
    const handler = a.handling ? `${a.handling.message_type.split("::").pop()} ${a.handling.for_ms} ms` : "";
    const flag = a.flag ? el("span", { class: "flag " + a.flag }, a.flag) : null;
    const cells = [a.label, a.kind, a.names.join(", "), null, a.mailbox.len + cap, fmt(rate.get(a.id) || 0), fmt(a.handled.total),
      String(restarts.get(a.id) || 0), String(a.dead_letters), handler];
    cells.forEach((text, i) => {
      const td = el("td", i >= 4 && i <= 8 ? { class: "num" } : {});
      if (i === 3) {
        td.textContent = a.status + " ";
        if (flag) td.append(flag);
      } else {
        td.textContent = text;
      }
      if (i === 4 && a.mailbox.capacity && fill(a) > 0.8) td.classList.add("hot");
      tr.append(td);
    });
    tr.addEventListener("click", () => select(a.id));
    body.append(tr);
  }
  for (const th of document.querySelectorAll("#actors th")) {
    th.classList.toggle("sorted", th.dataset.sort === state.sort);
    th.classList.toggle("desc", th.dataset.sort === state.sort && state.desc);
  }
}

// --- registry and dead letters ---

function renderRegistry(snap) {
  const box = document.getElementById("registry");
  box.replaceChildren();
  const byId = new Map(snap.actors.map(a => [a.id, a]));
  const names = el("ul", { class: "names" });
  for (const n of snap.names) {
    const li = el("li", {});
    li.append(el("code", {}, n.name), document.createTextNode(" → " + (byId.get(n.actor) ? byId.get(n.actor).label : n.actor)));
    names.append(li);
  }
  const topics = el("ul", { class: "topics" });
  for (const t of snap.topics) {
    const li = el("li", {});
    li.append(el("code", {}, t.pattern), document.createTextNode(` ${t.event_type.split("::").pop()}: ${t.subscribers.length} subscriber${t.subscribers.length === 1 ? "" : "s"}`));
    topics.append(li);
  }
  box.append(el("h3", {}, `Names (${snap.names.length})`), names, el("h3", {}, `Topics (${snap.topics.length})`), topics);
  if (snap.queues.length) {
    const queues = el("ul", { class: "queues" });
    for (const q of snap.queues) {
      queues.append(el("li", {}, `${q.name}: pending ${q.pending}, in flight ${q.in_flight}, acked ${q.acked}, redelivered ${q.redelivered}`));
    }
    box.append(el("h3", {}, `Durable queues (${snap.queues.length})`), queues);
  }
}

function renderDead(snap) {
  document.getElementById("dead-count").textContent = `${snap.dead_letters_seen} seen`;
  const list = document.getElementById("dead");
  list.replaceChildren();
  for (const d of [...snap.dead_letters].reverse().slice(0, 40)) {
    list.append(el("li", {}, `#${d.seq} ${d.kind} ${d.message_type.split("::").pop()} to <0.${d.to}>: ${d.reason}`));
  }
}

// --- detail ---

function select(id) {
  const changed = state.selected !== id;
  state.selected = id;
  if (changed) renderActions();
  if (state.last) render(state.last, state.prev);
}

// The actions for the selected actor: built once per selection (not at
// every snapshot), so that a button stays the same element while it is
// clicked.
function renderActions() {
  const box = document.getElementById("detail-actions");
  box.replaceChildren();
  if (!destructive || state.selected === null) return;
  const id = state.selected;
  const button = el("button", { type: "button", class: "danger", id: "exit-actor" }, "Exit (kill) — watch it restart");
  button.addEventListener("click", async () => {
    button.disabled = true;
    const r = await fetch(`/api/v1/actors/${id}/exit?reason=kill`, { method: "POST" });
    button.textContent = r.ok ? "exit signal sent" : `refused: ${r.status}`;
  });
  box.append(button);
}

// The selected actor, from the latest snapshot (it carries every field).
function renderDetail(snap) {
  const box = document.getElementById("detail-body");
  if (state.selected === null) return;
  const a = snap.actors.find(x => x.id === state.selected);
  if (!a) {
    box.className = "empty";
    box.replaceChildren(el("p", {}, `<0.${state.selected}> is gone.`));
    return;
  }
  box.className = "";
  box.replaceChildren();
  box.append(el("h3", {}, `${a.kind} ${a.label}`), el("p", { class: "type" }, a.actor_type));
  const dl = el("dl", {});
  const rows = [
    ["status", a.status + (a.handling ? ` (${a.handling.kind} ${a.handling.message_type.split("::").pop()}, ${a.handling.for_ms} ms)` : "") + (a.flag ? ` — ${a.flag}` : "")],
    ["waiting on", a.waiting_on ? `<0.${a.waiting_on.callee}> for ${a.waiting_on.waited_ms} ms` : "–"],
    ["mailbox", `${a.mailbox.len}${a.mailbox.capacity ? " / " + a.mailbox.capacity + " (" + a.mailbox.overflow + ")" : " (unbounded)"}`],
    ["handled", `call ${a.handled.call}, cast ${a.handled.cast}, info ${a.handled.info}, event ${a.handled.event}, durable ${a.handled.durable}`],
    ["dead letters", String(a.dead_letters)],
    ["trap exit", String(a.trap_exit)],
    ["parent", a.parent !== null ? `<0.${a.parent}>` : "the System"],
    ["links", a.links.map(i => `<0.${i}>`).join(" ") || "–"],
    ["monitors", a.monitors.map(i => `<0.${i}>`).join(" ") || "–"],
    ["monitored by", a.monitored_by.map(i => `<0.${i}>`).join(" ") || "–"],
    ["names", a.names.join(", ") || "–"],
    ["topics", a.topics.join(", ") || "–"],
    ["durable queues", a.queues.join(", ") || "–"],
  ];
  if (a.child) rows.push(["child spec", `${a.child.id || "(dynamic)"}: ${a.child.restart}, shutdown ${a.child.shutdown}${a.child.significant ? ", significant" : ""}, restarts ${a.child.restarts}`]);
  if (a.supervisor) rows.push(["supervisor", `${a.supervisor.strategy}, intensity ${a.supervisor.intensity} in ${a.supervisor.period_ms} ms (${a.supervisor.restarts_in_period} in the window now), ${a.supervisor.restarts} restarts in all, ${a.supervisor.children.length} children`]);
  for (const [k, v] of rows) dl.append(el("dt", {}, k), el("dd", {}, v));
  box.append(dl);
}

// --- main loop ---

function render(snap, prev) {
  renderTotals(snap, prev);
  renderTree(snap);
  renderTable(snap, prev);
  renderRegistry(snap);
  renderDead(snap);
  renderDetail(snap);
  document.body.dataset.seq = String(snap.seq);
}

function receive(snap) {
  if (state.last && snap.seq <= state.last.seq) return;
  state.prev = state.last;
  state.last = snap;
  if (!state.paused) render(snap, state.prev);
}

function connect() {
  const conn = document.getElementById("connection");
  const source = new EventSource("/api/v1/events");
  source.addEventListener("snapshot", e => {
    conn.textContent = "live";
    conn.className = "live";
    receive(JSON.parse(e.data));
  });
  source.onerror = () => {
    conn.textContent = "reconnecting…";
    conn.className = "pending";
  };
}

document.getElementById("pause").addEventListener("click", e => {
  state.paused = !state.paused;
  e.target.textContent = state.paused ? "Resume" : "Pause";
  if (!state.paused && state.last) render(state.last, state.prev);
});
document.getElementById("filter").addEventListener("input", e => {
  state.filter = e.target.value;
  if (state.last) renderTable(state.last, state.prev);
});
for (const th of document.querySelectorAll("#actors th")) {
  th.addEventListener("click", () => {
    if (state.sort === th.dataset.sort) state.desc = !state.desc;
    else { state.sort = th.dataset.sort; state.desc = true; }
    if (state.last) renderTable(state.last, state.prev);
  });
}
connect();
