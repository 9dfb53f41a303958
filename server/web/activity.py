"""What the assistant did, in words a person reads: "Checked your readiness score", not `get_readiness_score(...)`.

Partners see only these labels; PAMs and leaders see them too and may expand the tool's name and arguments.
A tool added later without a label here reads as a neutral "Looked something up" rather than its internal name.
"""

from __future__ import annotations

from typing import NamedTuple


class Label(NamedTuple):
    partner: str  # the partner is the subject: "your"
    staff: str  # a PAM or leader asking about a partner, a book or the program


LABELS: dict[str, Label] = {
    "get_readiness_score": Label("Checked your readiness score", "Checked the readiness score"),
    "explain_score": Label("Looked at what drives your score", "Looked at what drives the score"),
    "diagnose_gtm_gaps": Label("Diagnosed your go-to-market gaps", "Diagnosed the go-to-market gaps"),
    "search_playbooks": Label("Searched the playbooks", "Searched the playbooks"),
    "get_activation_plan": Label("Opened your 30/60/90-day plan", "Opened the 30/60/90-day plan"),
    "update_milestone": Label("Updated a milestone of your plan", "Updated a milestone"),
    "record_readiness_signal": Label("Recorded your progress", "Recorded a readiness signal"),
    "get_nudges": Label("Checked what is due", "Checked the nudges due"),
    "get_pipeline_summary": Label("Checked your pipeline", "Checked the pipeline"),
    "get_revenue_impact": Label("Estimated your revenue upside", "Estimated the revenue at stake"),
    "find_partner": Label("Looked up a partner", "Looked up a partner"),
    "list_dormant_partners": Label("Built the call list", "Built the call list"),
    "list_growth_partners": Label("Listed partners to grow into sourcing", "Listed partners to grow into sourcing"),
    "list_partners": Label("Listed partners", "Listed partners in the book"),
    "get_book_health": Label("Checked book health", "Checked book health"),
    "compare_partners": Label("Compared partners", "Compared partners"),
    "decline_request": Label("Kept to what you may see", "Kept to what you may see"),
}
FALLBACK = Label("Looked something up", "Looked something up")


def activity_label(tool: str, role: str) -> str:
    label = LABELS.get(tool, FALLBACK)
    return label.partner if role == "partner" else label.staff


__all__ = ["LABELS", "activity_label"]
