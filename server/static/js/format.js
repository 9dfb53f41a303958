// How figures read on the page. Scores are shown exactly as the API states them (already rounded once, the same
// figure as the CLI and the chat); amounts in whole currency units; rates as percentages.
"use strict";

const whole = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

export function score(value) { return value === null || value === undefined ? "–" : String(value); }

export function money(value, currency = "USD") {
  if (value === null || value === undefined) return "–";
  const symbol = currency === "USD" ? "$" : `${currency} `;
  return `${symbol}${whole.format(value)}`;
}

export function compactMoney(value) {
  if (value === null || value === undefined) return "–";
  const abs = Math.abs(value);
  if (abs >= 1e6) return `$${oneDecimal.format(value / 1e6)}M`;
  if (abs >= 1e3) return `$${oneDecimal.format(value / 1e3)}k`;
  return `$${whole.format(value)}`;
}

export function pct(value) { return value === null || value === undefined ? "–" : `${oneDecimal.format(value * 100)}%`; }

export function count(value) { return value === null || value === undefined ? "–" : whole.format(value); }

export function days(value) { return value === null || value === undefined ? "–" : `${whole.format(value)} days`; }

export function date(value) {
  if (!value) return "–";
  const d = new Date(`${String(value).slice(0, 10)}T00:00:00Z`);
  return d.toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
}

export function humanize(code) {
  if (!code) return "–";
  const text = String(code).replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// Go-to-market gap codes as people write them.
const GAPS = {
  icp: "ICP", use_case: "Use case", sales_motion: "Sales motion", delivery_credibility: "Delivery credibility",
  business_communication: "Business communication", ae_engagement: "AE engagement", enablement: "Enablement",
  pipeline_hygiene: "Pipeline hygiene", co_sell: "Co-sell",
};

export function gap(code) { return GAPS[code] || humanize(code); }
