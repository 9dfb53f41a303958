"""PartnerPilot domain logic: store, importers, scoring, diagnosis, plans, signals."""
