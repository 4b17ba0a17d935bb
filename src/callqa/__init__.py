"""callqa: soft-skills QA for recorded customer-service calls, on your own machine."""

__version__ = "0.1.0"
