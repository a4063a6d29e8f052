"""Domain event delivery."""
