"""tunegate: decide, with evidence, whether a fine-tuned model should ship."""

__version__ = "0.1.0"
