"""Domain errors: each carries a message that is safe to show the user."""


class ReadinessError(Exception):
    """Base class for errors the product reports to its user instead of crashing."""


class UnknownPartner(ReadinessError):
    """No partner matches the id or name given."""


class OutOfScope(ReadinessError):
    """The principal may not see or act on what was asked."""


class ValidationFailed(ReadinessError):
    """Input failed validation (unknown dimension, value out of range, ...)."""
