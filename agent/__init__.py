"""The PartnerPilot LangGraph agent."""
