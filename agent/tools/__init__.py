"""The agent's tools: thin wrappers over `readiness/` and `knowledge/`. Their names are the eval contract."""

from __future__ import annotations

from langchain_core.tools import BaseTool

from agent.tools.activity import get_nudges, get_pipeline_summary
from agent.tools.book import compare_partners, get_book_health, list_partners
from agent.tools.gtm import diagnose_gtm_gaps
from agent.tools.guard import decline_request
from agent.tools.knowledge import search_playbooks
from agent.tools.pam import find_partner, list_dormant_partners, list_growth_partners
from agent.tools.plans import get_activation_plan, update_milestone
from agent.tools.scores import explain_score, get_readiness_score, get_revenue_impact
from agent.tools.signals import record_readiness_signal

SHARED_TOOLS: list[BaseTool] = [
    get_readiness_score, explain_score, diagnose_gtm_gaps, search_playbooks, get_activation_plan, update_milestone,
    record_readiness_signal, get_nudges, get_pipeline_summary, get_revenue_impact, decline_request,
]
PAM_TOOLS: list[BaseTool] = [find_partner, list_dormant_partners, list_growth_partners, list_partners, get_book_health,
                             compare_partners]
ALL_TOOLS: list[BaseTool] = SHARED_TOOLS + PAM_TOOLS


def tools_for(role: str) -> list[BaseTool]:
    """What the model is offered; every tool still checks scope itself."""
    return ALL_TOOLS if role in {"pam", "leader"} else SHARED_TOOLS
