"""Settings (environment, `.env`) and reading the routing file: YAML, loading, problems by location.

The routing file's schema and cross-references are the core's (`bot/core/routing_rules.py`).
"""
