"""The web console: server-rendered pages at ``/console`` (and ``/``), over the core services."""
