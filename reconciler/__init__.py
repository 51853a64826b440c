"""ftctl: a declarative plan/apply reconciler for fine-tuning jobs."""

__version__ = "0.1.0"
