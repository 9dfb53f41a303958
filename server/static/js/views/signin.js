// Sign-in: pick a demo principal (local `make run` only) or paste an API key.
"use strict";

import * as api from "../api.js";
import { h, newId, replace } from "../dom.js";

export async function signInView(main, onSignedIn) {
  const status = h("p", { class: "form-status", role: "status" });
  let demo = null;
  try {
    const res = await fetch("/principals");
    if (res.ok) demo = (await res.json()).principals;
  } catch { demo = null; }
  const fieldId = newId("signin");
  const field = demo
    ? h("select", { id: fieldId, name: "as" }, ["leader", "pam", "partner"].map((role) => {
      const group = demo.filter((p) => p.role === role);
      return group.length ? h("optgroup", { label: role === "pam" ? "PAMs" : role === "leader" ? "Leaders" : "Partners" },
        group.map((p) => h("option", { value: p.as }, `${p.label} — ${p.as}`))) : null;
    }))
    : h("input", { id: fieldId, name: "key", type: "password", autocomplete: "off", required: true });
  const form = h("form", { class: "signin card" },
    h("h1", {}, "Sign in to PartnerPilot"),
    h("p", { class: "lede" }, demo ? "Demo login: choose who to be. Partners see their own readiness and plan; PAMs their book; a leader the whole program."
      : "Paste your API key (ask your administrator: partnerpilot keys create)."),
    h("label", { for: fieldId }, demo ? "Sign in as" : "API key"), field,
    h("button", { type: "submit" }, "Sign in"), status);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    status.textContent = "Signing in…";
    try {
      if (demo) {
        const res = await fetch("/login", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ as: field.value }) });
        if (!res.ok) throw new Error((await res.json()).detail || "sign-in failed");
        api.session.token = (await res.json()).token;
      } else {
        api.session.token = field.value.trim();
      }
      await onSignedIn();
    } catch (err) {
      api.session.token = null;
      status.textContent = `Sign-in failed: ${err.detail || err.message}`;
    }
  });
  replace(main, form);
  field.focus();
}
