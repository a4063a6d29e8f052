"""The audit trail: an append-only record of API calls, pushes, pulls and deletes."""
