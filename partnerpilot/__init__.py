"""PartnerPilot command-line entry point."""
