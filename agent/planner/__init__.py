"""The offline planner: a deterministic chat model that routes by embeddings and composes grounded answers."""

from agent.planner.model import OfflinePlanner

__all__ = ["OfflinePlanner"]
