"""evaltui: triage LLM evaluation results before a release."""

__version__ = "0.1.0"
