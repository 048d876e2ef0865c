"""The domain: models, the case lifecycle, intake, triage, escalation and the ports they use.

Imports the standard library, pydantic and itself only; stores and platforms plug in through
the `Protocol`s in `ports/`, grouped by who uses them.
"""
