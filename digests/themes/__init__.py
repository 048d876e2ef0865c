"""Recurring themes: what people are complaining about, across cases and systems.

A week's reports (comment, "what it should have said", the redacted output excerpt) are embedded
on this machine (wordllama's model ships inside its wheel; a TF-IDF fallback needs numpy only),
grouped by agglomerative clustering with a distance threshold, labelled by each group's most
distinctive terms (class-based TF-IDF) and matched against last week. Nothing leaves the machine.

The package reads reports through `ThemeSource` (source.py) and imports no store.
"""
