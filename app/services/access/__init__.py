"""Who may call: clients, API keys and principals."""
