"""Training data: format checks per method, hashing, token and cost estimates."""
