"""HTTP API and web chat page for the PartnerPilot agent (`partnerpilot up`, or `uvicorn server.app:app`)."""
