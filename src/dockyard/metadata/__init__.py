"""Metadata drivers: portable SQL (SQLite embedded, PostgreSQL for scale-out)."""
