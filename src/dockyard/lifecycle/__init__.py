"""Lifecycle policies: the rule language, its evaluation, previews and runs."""
