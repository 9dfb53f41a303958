// The chat beside the dashboard: streamed over POST /stream (SSE), answers rendered to sanitised HTML by the server,
// tool activity in words (PAMs and leaders may expand the details), a stop button, a thread list, and the thread
// restored, scrolled to its end, after a reload.
"use strict";

import * as api from "./api.js";
import { clear, h, newId, replace, sanitised, trustedHtml } from "./dom.js";
import * as fmt from "./format.js";

const THREAD = "pp.thread";
const SUGGESTIONS = {
  partner: ["What's my biggest gap?", "What should I do this week?", "Why is my score what it is?"],
  pam: ["Which dormant partners should I call this week?", "What's due in my book?", "How is my pipeline split between sourced and influenced?"],
  leader: ["How healthy is the program?", "Which partners are at churn risk?", "Which dormant partners are worth a call?"],
};

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
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}

export function mountChat(panel, me) {
  const staff = me.role !== "partner";
  const role = me.role === "admin" ? "leader" : me.role;
  const state = { thread: sessionStorage.getItem(THREAD), busy: false, controller: null };
  const inputId = newId("chat-input");
  const log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": "Conversation", tabindex: "0" });
  const threadList = h("ul", { class: "thread-list" });
  const threadsBox = h("details", { class: "threads" }, h("summary", {}, "Conversations"), threadList);
  const input = h("textarea", { id: inputId, rows: 2, maxlength: 4000, placeholder: "Ask PartnerPilot…", autocomplete: "off" });
  const send = h("button", { type: "submit", class: "send" }, "Send");
  const stop = h("button", { type: "button", class: "secondary stop", hidden: true }, "Stop");
  const status = h("p", { class: "chat-status", role: "status" });
  const suggestions = h("div", { class: "suggestions", role: "group", "aria-label": "Suggested questions" });
  const form = h("form", { class: "composer" }, h("label", { for: inputId, class: "sr-only" }, "Message"), input, h("div", { class: "composer-buttons" }, send, stop));
  const newChat = h("button", { type: "button", class: "secondary" }, "New chat");
  replace(panel,
    h("div", { class: "chat-head" }, h("h2", { id: "chat-title" }, "Ask PartnerPilot"), newChat),
    threadsBox, log, suggestions, form, status);
  panel.setAttribute("aria-labelledby", "chat-title");
  panel.hidden = false;

  const atEnd = () => log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  const scrollEnd = () => { log.scrollTop = log.scrollHeight; };

  function showSuggestions() {
    const empty = !log.querySelector(".msg");
    suggestions.hidden = !empty;
    if (!empty) return;
    replace(suggestions, (SUGGESTIONS[role] || SUGGESTIONS.pam).map((q) => h("button", { type: "button", class: "chip", on: { click: () => ask(q) } }, q)));
  }

  function userBubble(text) { log.append(h("div", { class: "msg user" }, h("p", { class: "sr-only" }, "You said:"), text)); }

  function assistantBubble() {
    const activity = h("ul", { class: "activity", "aria-label": "What the assistant did" });
    const body = h("div", { class: "md" });
    const tail = h("span", { class: "tail" });
    const box = h("div", { class: "msg assistant" }, h("p", { class: "sr-only" }, "PartnerPilot said:"), activity, body, tail);
    log.append(box);
    return { box, activity, body, tail };
  }

  function activityItem(view, call) {
    const label = call.label || "Looked something up";
    const item = staff
      ? h("li", {}, h("details", {}, h("summary", {}, label), h("code", {}, `${call.name}(${Object.entries(call.args || {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ")})`)))
      : h("li", {}, label);
    view.activity.append(item);
    return item;
  }

  function badge(view, cls, text) { view.box.append(h("p", { class: `badge ${cls}` }, text)); }

  async function loadThreads() {
    try {
      const threads = await api.get("/threads");
      replace(threadList, threads.length ? threads.map((t) => h("li", {},
        h("button", { type: "button", class: ["link", t.thread_id === state.thread ? "current" : ""], "aria-current": t.thread_id === state.thread ? "true" : null,
          on: { click: () => openThread(t.thread_id) } }, t.title || "Conversation", h("span", { class: "muted" }, t.updated_at ? ` · ${fmt.date(t.updated_at)}` : ""))))
        : h("li", { class: "muted" }, "No conversations yet."));
      threadsBox.querySelector("summary").textContent = `Conversations (${threads.length})`;
    } catch { /* the list is a convenience: the chat works without it */ }
  }

  async function openThread(id) {
    if (state.busy) return;
    state.thread = id;
    sessionStorage.setItem(THREAD, id);
    clear(log);
    try {
      const { messages } = await api.get(`/history/${encodeURIComponent(id)}`);
      let pendingCalls = [];
      for (const m of messages) {
        if (m.role === "user") userBubble(m.content);
        else if (m.role === "assistant" && m.tool_calls.length) pendingCalls = pendingCalls.concat(m.tool_calls);
        else if (m.role === "assistant" && m.content) {
          const view = assistantBubble();
          pendingCalls.forEach((c) => activityItem(view, c).classList.add("ok"));
          pendingCalls = [];
          trustedHtml(view.body, sanitised(m.html));
        }
      }
    } catch (err) {
      if (err.status === 404) { state.thread = null; sessionStorage.removeItem(THREAD); }
      status.textContent = err.status === 404 ? "That conversation is no longer available." : `Could not load the conversation: ${err.detail || err.message}`;
    }
    showSuggestions();
    loadThreads();
    scrollEnd();
  }

  async function ask(text) {
    text = text.trim();
    if (state.busy || !text) return;
    state.busy = true;
    state.controller = new AbortController();
    send.disabled = true; stop.hidden = false; status.textContent = ""; log.setAttribute("aria-busy", "true");
    userBubble(text);
    showSuggestions();
    const view = assistantBubble();
    scrollEnd();
    const pending = new Map();
    let tail = "";
    try {
      const res = await fetch("/stream", { method: "POST", signal: state.controller.signal,
        headers: api.authHeaders({ "Content-Type": "application/json" }), body: JSON.stringify({ message: text, thread_id: state.thread || undefined }) });
      if (!res.ok) {
        let detail = `${res.status}`;
        try { detail = (await res.json()).detail; } catch { /* keep the status */ }
        view.tail.textContent = detail;
        badge(view, "refused", "Not sent");
        if (res.status === 401) window.dispatchEvent(new CustomEvent("pp:signed-out"));
        return;
      }
      for await (const { event, data } of sseEvents(res)) {
        const follow = atEnd();
        if (event === "start") { state.thread = data.thread_id; sessionStorage.setItem(THREAD, data.thread_id); }
        else if (event === "token") {
          if (data.html !== undefined) { trustedHtml(view.body, sanitised(data.html)); tail = ""; }
          else tail += data.text || "";
          view.tail.textContent = tail;
        } else if (event === "message") {
          trustedHtml(view.body, sanitised(data.html)); tail = ""; view.tail.textContent = "";
        } else if (event === "tool_call") {
          const item = activityItem(view, data);
          if (!pending.has(data.name)) pending.set(data.name, []);
          pending.get(data.name).push(item);
        } else if (event === "tool_result") {
          const item = (pending.get(data.name) || []).shift();
          if (item) item.classList.add(data.refused ? "refused" : data.ok ? "ok" : "failed");
        } else if (event === "end") {
          if (data.refused) badge(view, "refused", "Outside what you may see");
          if (data.fallback) badge(view, "fallback", "Answered offline (the model was unavailable)");
        } else if (event === "error") { status.textContent = data.detail; }
        if (follow) scrollEnd();
      }
    } catch (err) {
      if (err.name === "AbortError") badge(view, "stopped", "Stopped");
      else status.textContent = `Connection problem: ${err.message}`;
    } finally {
      state.busy = false; state.controller = null;
      send.disabled = false; stop.hidden = true; log.setAttribute("aria-busy", "false");
      scrollEnd();
      loadThreads();
    }
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); const t = input.value; input.value = ""; ask(t); });
  input.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); } });
  stop.addEventListener("click", () => { if (state.controller) state.controller.abort(); input.focus(); });
  newChat.addEventListener("click", () => {
    if (state.busy) return;
    state.thread = null; sessionStorage.removeItem(THREAD); clear(log); showSuggestions(); loadThreads(); input.focus();
  });

  const ready = state.thread ? openThread(state.thread) : (showSuggestions(), loadThreads());
  return { ready, ask };
}
