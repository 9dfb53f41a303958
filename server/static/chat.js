// PartnerPilot web chat: sign in (demo login or an API token), then stream turns from POST /stream (SSE).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { token: sessionStorage.getItem("pp.token"), thread: sessionStorage.getItem("pp.thread"), busy: false };

function setStatus(text) { $("status").textContent = text || ""; }

async function api(path, options = {}) {
  const headers = { "Content-Type": "application/json", ...(options.headers || {}) };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  return fetch(path, { ...options, headers });
}

async function detail(res) {
  try { const body = await res.json(); return typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail); }
  catch { return `${res.status} ${res.statusText}`; }
}

async function loadPrincipals() {
  const res = await fetch("/principals");
  if (!res.ok) { $("token").hidden = false; return; }  // demo login off: sign in with an API token
  const { principals } = await res.json();
  for (const p of principals) {
    const opt = document.createElement("option");
    opt.value = p.as; opt.textContent = `${p.label} — ${p.as}`;
    $("who").appendChild(opt);
  }
  $("who").hidden = false;
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function addUser(text) { $("log").appendChild(el("div", "msg user", text)); scroll(); }
function scroll() { $("log").scrollTop = $("log").scrollHeight; }

function addAssistant() {
  const box = el("div", "msg assistant");
  const tools = el("div", "tools"); tools.hidden = true;
  const body = el("div", "body");
  box.append(tools, body);
  $("log").appendChild(box); scroll();
  return { box, tools, body };
}

function argsText(args) {
  return Object.entries(args || {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ");
}

// Parse an SSE byte stream into {event, data} objects.
async function* sseEvents(res) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
      let event = "message"; const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}

async function send(text, { echo = true } = {}) {
  if (state.busy || !text.trim()) return;
  state.busy = true; $("send").disabled = true; setStatus("");
  if (echo) addUser(text);
  const view = addAssistant();
  const pending = new Map();
  let streamed = "";
  try {
    const res = await api("/stream", { method: "POST", body: JSON.stringify({ message: text, thread_id: state.thread }) });
    if (!res.ok) {
      view.body.textContent = await detail(res);
      view.box.appendChild(el("span", "badge refused", "not sent"));
      if (res.status === 401) signOut();
      return;
    }
    for await (const { event, data } of sseEvents(res)) {
      if (event === "start") { state.thread = data.thread_id; sessionStorage.setItem("pp.thread", state.thread); }
      else if (event === "token") { streamed += data.text; view.body.textContent = streamed; scroll(); }
      else if (event === "message") { view.body.textContent = data.text; }
      else if (event === "tool_call") {
        const chip = el("span", "tool", `${data.name}(${argsText(data.args)})`);
        view.tools.hidden = false; view.tools.appendChild(chip);
        if (!pending.has(data.name)) pending.set(data.name, []);
        pending.get(data.name).push(chip);
      } else if (event === "tool_result") {
        const chip = (pending.get(data.name) || []).shift();
        if (chip) chip.classList.add(data.refused ? "refused" : data.ok ? "ok" : "failed");
      } else if (event === "end") {
        if (data.refused) view.box.appendChild(el("span", "badge refused", "refused: outside what you may see"));
        if (data.fallback) view.box.appendChild(el("span", "badge fallback", "answered offline (model unavailable)"));
      } else if (event === "error") { setStatus(data.detail); }
      scroll();
    }
  } catch (err) {
    setStatus(`connection problem: ${err.message}`);
  } finally {
    state.busy = false; $("send").disabled = !state.token;
  }
}

function signedIn(label) {
  $("login").hidden = true; $("identity").hidden = false; $("identity-name").textContent = label;
  $("input").disabled = false; $("send").disabled = false; $("hint").hidden = true; $("input").focus();
}

function signOut() {
  state.token = null; state.thread = null; sessionStorage.clear();
  $("login").hidden = false; $("identity").hidden = true; $("input").disabled = true; $("send").disabled = true;
}

async function showIdentity() {
  const res = await api("/me");
  if (!res.ok) { signOut(); return false; }
  const me = await res.json();
  signedIn(`${me.name || me.principal_id} (${me.role})`);
  return true;
}

async function restore() {
  if (!state.token || !(await showIdentity()) || !state.thread) return;
  const res = await api(`/history/${encodeURIComponent(state.thread)}`);
  if (!res.ok) { state.thread = null; return; }
  const { messages } = await res.json();
  for (const m of messages) {
    if (m.role === "user") addUser(m.content);
    else if (m.role === "assistant" && m.content) addAssistant().body.textContent = m.content;
  }
}

$("login").addEventListener("submit", async (e) => {
  e.preventDefault(); setStatus("");
  if (!$("token").hidden) {
    state.token = $("token").value.trim();
  } else {
    const res = await fetch("/login", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ as: $("who").value }) });
    if (!res.ok) { setStatus(await detail(res)); return; }
    state.token = (await res.json()).token;
  }
  sessionStorage.setItem("pp.token", state.token);
  if (await showIdentity()) { $("log").querySelectorAll(".msg").forEach((n) => n.remove()); state.thread = null; send("hello", { echo: false }); }
  else setStatus("sign-in failed");
});

$("composer").addEventListener("submit", (e) => { e.preventDefault(); const t = $("input").value; $("input").value = ""; send(t); });
$("input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("composer").requestSubmit(); }
});
$("new-chat").addEventListener("click", () => {
  state.thread = null; sessionStorage.removeItem("pp.thread");
  $("log").querySelectorAll(".msg").forEach((n) => n.remove());
  send("hello", { echo: false });
});
$("logout").addEventListener("click", () => { signOut(); $("log").querySelectorAll(".msg").forEach((n) => n.remove()); });

loadPrincipals().then(restore);
