"""Pure domain values: no I/O, no frameworks."""
