// thinkdraw's web page: no build step, no framework, no CDN. It talks to the same server's /v1 API.
"use strict";

const $ = (id) => document.getElementById(id);
const COLORS = ["red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "gray"];
const state = { plan: null, reasoning: [], session: null, parent: null, headUrl: null, partials: [], busy: false };

// --- the API ---------------------------------------------------------------------------------------------
function headers(json) {
  const h = {};
  const key = localStorage.getItem("thinkdraw.key");
  if (key) h["Authorization"] = "Bearer " + key;
  if (json) h["Content-Type"] = "application/json";
  return h;
}

async function api(path, body, method) {
  const r = await fetch(path, { method: method || (body === undefined ? "GET" : "POST"), headers: headers(body !== undefined),
                                body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await r.json().catch(() => ({ error: { message: `HTTP ${r.status}` } }));
  if (!r.ok) throw new Error(data.error ? data.error.message : `HTTP ${r.status}`);
  return data;
}

// POST, then read the answer as server-sent events: onEvent(name, data) for each.
async function stream(path, body, onEvent) {
  const r = await fetch(path, { method: "POST", headers: headers(true), body: JSON.stringify(body) });
  if (!r.ok) {
    const data = await r.json().catch(() => ({ error: { message: `HTTP ${r.status}` } }));
    throw new Error(data.error ? data.error.message : `HTTP ${r.status}`);
  }
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let name = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (!data) continue;
      const obj = JSON.parse(data);
      if (name === "error") throw new Error(obj.error ? obj.error.message : "error");
      onEvent(name, obj);
    }
  }
}

async function blobUrl(url) {  // images behind the API key: fetched with it, shown from a blob
  const r = await fetch(url, { headers: headers(false) });
  if (!r.ok) throw new Error(`cannot load ${url}: HTTP ${r.status}`);
  return URL.createObjectURL(await r.blob());
}

const png = (b64) => "data:image/png;base64," + b64;

function showError(e) {
  const box = $("error");
  if (!e) { box.hidden = true; box.textContent = ""; return; }
  box.hidden = false;
  box.textContent = e.message || String(e);
}

function busy(on, what) {
  state.busy = on;
  $("draw").disabled = on;
  $("editbtn").disabled = on || !state.session;
  $("instruction").disabled = on || !state.session;
  $("undo").disabled = on || !state.session;
  $("redraw").disabled = on || !state.plan;
  $("status").textContent = on ? what : "";
}

// --- reasoning, plan overlay, rounds --------------------------------------------------------------------
function addStep(step) {
  const li = document.createElement("li");
  li.innerHTML = `<span class="stage-name"></span> <span></span>`;
  li.children[0].textContent = step.stage;
  li.children[1].textContent = step.text;
  $("reasoning").appendChild(li);
  li.scrollIntoView({ block: "nearest" });
}

function clearRun() {
  $("reasoning").innerHTML = "";
  $("rounds").innerHTML = "";
  state.partials = [];
  state.reasoning = [];
}

function boxes() {
  if (!state.plan) return [];
  const out = [];
  for (const e of state.plan.entities) if (e.box) out.push({ kind: "entity", obj: e, label: `${e.attributes.color ? e.attributes.color + " " : ""}${e.noun}` });
  for (const t of state.plan.texts) if (t.box) out.push({ kind: "text", obj: t, label: `"${t.content}"` });
  return out;
}

function drawOverlay() {
  const svg = $("overlay");
  svg.innerHTML = "";
  svg.classList.toggle("editing", $("editplan").checked);
  if (!$("showplan").checked && !$("editplan").checked) return;
  const ns = "http://www.w3.org/2000/svg";
  for (const b of boxes()) {
    const [x0, y0, x1, y1] = b.obj.box.map((v) => v * 1000);
    const r = document.createElementNS(ns, "rect");
    r.setAttribute("x", x0); r.setAttribute("y", y0);
    r.setAttribute("width", x1 - x0); r.setAttribute("height", y1 - y0);
    if (b.kind === "text") r.classList.add("text");
    r.dataset.id = b.obj.id;
    svg.appendChild(r);
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", x0 + 6); t.setAttribute("y", Math.max(32, y0 - 6));
    t.textContent = b.label;
    svg.appendChild(t);
    if ($("editplan").checked) {
      r.addEventListener("pointerdown", (ev) => startDrag(ev, b, "move"));
      const h = document.createElementNS(ns, "rect");
      h.setAttribute("x", x1 - 18); h.setAttribute("y", y1 - 18); h.setAttribute("width", 22); h.setAttribute("height", 22);
      h.classList.add("handle");
      h.addEventListener("pointerdown", (ev) => startDrag(ev, b, "resize"));
      svg.appendChild(h);
    }
  }
}

function startDrag(ev, b, how) {
  ev.preventDefault();
  ev.stopPropagation();
  const svg = $("overlay");
  const rect = svg.getBoundingClientRect();
  const start = [ev.clientX, ev.clientY];
  const box0 = b.obj.box.slice();
  const carried = b.kind === "entity" ? state.plan.texts.filter((t) => t.on === b.obj.id && t.box).map((t) => [t, t.box.slice()]) : [];
  const clamp = (v) => Math.min(1, Math.max(0, v));
  function move(e) {
    const dx = (e.clientX - start[0]) / rect.width, dy = (e.clientY - start[1]) / rect.height;
    let nb;
    if (how === "move") {
      const w = box0[2] - box0[0], h = box0[3] - box0[1];
      const x0 = Math.min(1 - w, Math.max(0, box0[0] + dx)), y0 = Math.min(1 - h, Math.max(0, box0[1] + dy));
      nb = [x0, y0, x0 + w, y0 + h];
    } else {
      nb = [box0[0], box0[1], clamp(Math.max(box0[0] + 0.03, box0[2] + dx)), clamp(Math.max(box0[1] + 0.03, box0[3] + dy))];
    }
    b.obj.box = nb.map((v) => Math.round(v * 10000) / 10000);
    for (const [t, tb] of carried) {  // a sign's text goes where the sign goes
      const sx = (nb[2] - nb[0]) / (box0[2] - box0[0]), sy = (nb[3] - nb[1]) / (box0[3] - box0[1]);
      t.box = [nb[0] + (tb[0] - box0[0]) * sx, nb[1] + (tb[1] - box0[1]) * sy,
               nb[0] + (tb[2] - box0[0]) * sx, nb[1] + (tb[3] - box0[1]) * sy].map((v) => Math.round(clamp(v) * 10000) / 10000);
    }
    drawOverlay();
  }
  function up() {
    window.removeEventListener("pointermove", move);
    window.removeEventListener("pointerup", up);
    $("redraw").disabled = state.busy || !state.plan;
  }
  window.addEventListener("pointermove", move);
  window.addEventListener("pointerup", up);
}

function buildEditor() {
  const ed = $("planeditor");
  ed.innerHTML = "";
  ed.hidden = !$("editplan").checked || !state.plan;
  if (ed.hidden) return;
  for (const e of state.plan.entities) {
    const row = document.createElement("div");
    row.className = "row";
    row.innerHTML = `<span></span><label>colour <select></select></label>`;
    row.children[0].textContent = e.id;
    const sel = row.querySelector("select");
    for (const c of ["(default)", ...COLORS]) {
      const o = document.createElement("option");
      o.value = c === "(default)" ? "" : c; o.textContent = c;
      if ((e.attributes.color || "") === o.value) o.selected = true;
      sel.appendChild(o);
    }
    sel.dataset.entity = e.id;
    sel.addEventListener("change", () => { e.attributes.color = sel.value || null; e.attributes.default_color = false; drawOverlay(); });
    ed.appendChild(row);
  }
  for (const t of state.plan.texts) {
    const row = document.createElement("div");
    row.className = "row";
    row.innerHTML = `<span></span><label>text <input></label>`;
    row.children[0].textContent = t.id;
    const inp = row.querySelector("input");
    inp.value = t.content;
    inp.dataset.text = t.id;
    inp.addEventListener("input", () => { if (inp.value.trim()) { t.content = inp.value; drawOverlay(); } });
    ed.appendChild(row);
  }
}

function setPlan(plan) {
  state.plan = plan ? JSON.parse(JSON.stringify(plan)) : null;
  drawOverlay();
  buildEditor();
  $("redraw").disabled = state.busy || !state.plan;
}

function showRounds(rounds) {
  const strip = $("rounds");
  strip.innerHTML = "";
  for (const r of rounds) {
    const d = document.createElement("div");
    d.className = "round" + (r.kept ? " kept" : "");
    d.innerHTML = `<img alt=""><b></b><span></span>`;
    if (r.src) d.querySelector("img").src = r.src; else d.querySelector("img").remove();
    d.querySelector("b").textContent = `${r.label}${r.score != null ? ": score " + r.score.toFixed(2) : ""}${r.kept ? " (kept)" : ""}`;
    d.querySelector("span").textContent = r.reflection || "";
    strip.appendChild(d);
  }
}

function roundsFromReasoning() {  // a session's turn: its partial images + the reflect lines of its reasoning
  const lines = state.reasoning.filter((s) => s.stage === "reflect" && /^(Round|After the edit)/.test(s.text));
  const n = Math.max(lines.length, state.partials.length);
  const keptLine = state.reasoning.find((s) => /^Kept round (\d+)/.test(s.text));
  const kept = keptLine ? Number(/^Kept round (\d+)/.exec(keptLine.text)[1]) : (n === 1 ? 0 : null);
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = lines[i] ? lines[i].text : "";
    const m = /score ([0-9.]+)/.exec(t);
    out.push({ label: i === 0 ? "draw" : `refine ${i}`, score: m ? Number(m[1]) : null, reflection: t.replace(/^[^.]*score [0-9.]+\.\s*/, ""),
               src: state.partials[i] || null, kept: i === kept });
  }
  return out;
}

function onStage(name, data) {
  if (name === "reasoning") { state.reasoning.push(data); addStep(data); }
  else if (name === "plan") setPlan(data);
  else if (name === "progress") $("status").textContent = `drawing ${data.step}/${data.total}`;
  else if (name === "partial_image") {
    const src = png(data.b64_json);
    state.partials.push(src);
    $("image").src = src;
    $("status").textContent = data.index === 0 ? "drawn; checking" : `refine round ${data.index}`;
  }
}

// --- sessions ---------------------------------------------------------------------------------------------
async function showSession(s, fromStream) {
  state.session = s;
  location.hash = "s=" + s.id;
  $("sessionid").textContent = `session ${s.id} - ${s.turns.length} turn(s)`;
  const onPath = new Set(s.history);
  const thread = $("thread");
  thread.innerHTML = "";
  const order = [...s.history, ...s.turns.map((t) => t.id).filter((n) => !onPath.has(n))];
  for (const n of order) {
    const t = s.turns.find((x) => x.id === n);
    const li = document.createElement("li");
    li.className = (n === s.head ? "head" : "") + (onPath.has(n) ? "" : " off");
    li.dataset.turn = n;
    li.innerHTML = `<img alt=""><div><div class="who"></div><div class="what"></div></div><div class="acts">
      <button class="branch" type="button">branch from here</button><button class="dl" type="button">PNG</button></div>`;
    li.querySelector(".who").textContent = `turn ${n}${t.parent ? " (after " + t.parent + ")" : ""} - ${t.kind}${onPath.has(n) ? "" : " - another branch"}`;
    li.querySelector(".what").textContent = t.text;
    blobUrl(t.image_url).then((u) => { li.querySelector("img").src = u; }).catch(() => {});
    li.querySelector(".branch").addEventListener("click", () => branchFrom(n));
    li.querySelector(".dl").addEventListener("click", () => download(t.image_url, `thinkdraw-${s.id}-turn${n}.png`));
    thread.appendChild(li);
  }
  const head = s.turns.find((x) => x.id === s.head);
  if (head) {
    state.headUrl = head.image_url;
    $("download").disabled = false;
    $("image").src = await blobUrl(head.image_url);
    setPlan(head.plan);
    if (!fromStream) {
      clearRun();
      for (const st of head.reasoning) { state.reasoning.push(st); addStep(st); }
    }
    showRounds(roundsFromReasoning());
  }
  $("branchnote").textContent = state.parent ? `the next edit branches from turn ${state.parent}` : "";
  busy(false);
}

async function branchFrom(n) {
  try {
    showError(null);
    state.parent = null;
    await showSession(await api(`/v1/sessions/${state.session.id}/branch`, { turn: n }));
    $("branchnote").textContent = `the next edit branches from turn ${n}`;
  } catch (e) { showError(e); }
}

async function download(url, name) {
  try {
    const a = document.createElement("a");
    a.href = await blobUrl(url);
    a.download = name;
    document.body.appendChild(a); a.click(); a.remove();
  } catch (e) { showError(e); }
}

// --- actions -----------------------------------------------------------------------------------------------
async function draw(ev) {
  ev.preventDefault();
  const prompt = $("prompt").value.trim();
  if (!prompt) { showError(new Error("say what to draw")); return; }
  showError(null);
  clearRun();
  $("image").removeAttribute("src");
  setPlan(null);
  const model = $("model").value, seed = Number($("seed").value) || 0, mode = $("mode").value;
  busy(true, "thinking");
  const direct = $("compare").checked ? runDirect(prompt, model, seed) : Promise.resolve();
  try {
    if (mode === "interleaved") {  // no session: interleaved drawing is not an edit mode
      await stream("/v1/stream", { prompt, model, seed, mode }, (name, data) => {
        if (name === "result") finishRun(data); else onStage(name, data);
      });
    } else {
      await stream("/v1/sessions", { prompt, model, seed, mode, stream: true }, (name, data) => {
        if (name === "result") showSession(data, true); else onStage(name, data);
      });
    }
  } catch (e) { showError(e); }
  busy(false);
  await direct;
}

function finishRun(item) {
  $("image").src = png(item.b64_json);
  setPlan(item.plan);
  showRounds((item.rounds || []).map((r) => ({ ...r, src: r.png ? png(r.png) : null })));
  state.headUrl = null;
  $("download").disabled = false;
  state.lastPng = item.b64_json;
}

async function runDirect(prompt, model, seed) {
  $("dimage").removeAttribute("src");
  $("dnote").textContent = "";
  $("dstatus").textContent = "drawing";
  try {
    await stream("/v1/stream", { prompt, model, seed, mode: "direct" }, (name, data) => {
      if (name === "partial_image" || name === "result") $("dimage").src = png(data.b64_json);
      if (name === "result") $("dnote").textContent = `same prompt, same seed, no plan: ${Math.round(1000 * data.timings.total)} ms`;
    });
  } catch (e) { $("dnote").textContent = "not drawn: " + e.message; }
  $("dstatus").textContent = "";
}

async function redraw() {
  if (!state.plan) return;
  showError(null);
  const plan = state.plan;
  clearRun();
  busy(true, "drawing the edited plan");
  try {
    const mode = $("mode").value;
    await stream("/v1/stream", { plan, model: $("model").value, seed: Number($("seed").value) || 0,
                                 mode: mode === "direct" ? "think" : mode,
                                 reasoning: [{ stage: "plan", text: "The plan was edited by hand in the web page." }] },
      (name, data) => { if (name === "result") finishRun(data); else onStage(name, data); });
  } catch (e) { showError(e); }
  busy(false);
}

async function editTurn(ev) {
  ev.preventDefault();
  const instruction = $("instruction").value.trim();
  if (!instruction || !state.session) return;
  showError(null);
  clearRun();
  busy(true, "editing");
  try {
    await stream(`/v1/sessions/${state.session.id}/turns`, { instruction, stream: true, mode: $("mode").value === "think" ? "think" : "reflect" },
      (name, data) => { if (name === "result") { $("instruction").value = ""; showSession(data, true); } else onStage(name, data); });
  } catch (e) { showError(e); }
  busy(false);
}

async function undo() {
  try { showError(null); await showSession(await api(`/v1/sessions/${state.session.id}/undo`, {})); }
  catch (e) { showError(e); }
}

async function downloadCurrent() {
  if (state.headUrl) return download(state.headUrl, "thinkdraw.png");
  if (state.lastPng) {
    const a = document.createElement("a");
    a.href = png(state.lastPng); a.download = "thinkdraw.png";
    document.body.appendChild(a); a.click(); a.remove();
  }
}

// --- start -------------------------------------------------------------------------------------------------
async function init() {
  $("apikey").value = localStorage.getItem("thinkdraw.key") || "";
  $("apikey").addEventListener("change", () => { localStorage.setItem("thinkdraw.key", $("apikey").value.trim()); init(); });
  try {
    const h = await (await fetch("/healthz")).json();
    $("keybox").hidden = !h.auth;
    if (h.mode && [...$("mode").options].some((o) => o.value === h.mode)) $("mode").value = h.mode;
    const models = await api("/v1/models");
    $("model").innerHTML = "";
    for (const m of models.data) {
      const o = document.createElement("option");
      o.value = m.id; o.textContent = `${m.id} (${m.renderer})`;
      $("model").appendChild(o);
    }
    showError(null);
  } catch (e) { showError(e); return; }
  const m = /s=([0-9a-f]+)/.exec(location.hash);
  if (m && !state.session) {  // nothing lost on reload: the session lives on the server
    try { await showSession(await api(`/v1/sessions/${m[1]}`)); } catch (e) { showError(e); }
  }
}

$("promptform").addEventListener("submit", draw);
$("prompt").addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("promptform").requestSubmit(); } });
$("editform").addEventListener("submit", editTurn);
$("undo").addEventListener("click", undo);
$("redraw").addEventListener("click", redraw);
$("download").addEventListener("click", downloadCurrent);
$("showplan").addEventListener("change", drawOverlay);
$("editplan").addEventListener("change", () => { drawOverlay(); buildEditor(); });
init();
