"""Themes benchmark: one week of 20,000 reports (and the week before) grouped into themes, timed,
with the measuring process's peak RSS, for the local model and the TF-IDF fallback.
Run `python -m bench.themes --help`."""
