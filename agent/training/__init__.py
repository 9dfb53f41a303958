"""Training data for the offline intent classifier, written from agent/prompts/intent_definitions.yaml only."""
