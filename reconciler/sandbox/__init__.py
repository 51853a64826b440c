"""The embedded sandbox: an OpenAI-compatible fine-tuning API persisted in SQLite."""
