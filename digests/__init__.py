"""The weekly digest: sections built over a read-model port, and renderers; no SQL, no chat SDKs.

- `digests.aggregate.build_digest(reads, routing, digest, week, now) -> WeeklyDigest`, over the
  read-model port `digests.reads.DigestReads` (storage/digest_reads.py implements it)
- `digests.week.IsoWeek`: ISO weeks in a digest's time zone, DST-correct
- `digests.model`: the digest as pydantic models; sections are built by `digests.counts`,
  `digests.casework`, `digests.priorities` and `digests.versions`
- renderers: `render_markdown`, `render_html`, `render_json`, `render_blocks` (Slack Block Kit),
  `render_card` (Teams Adaptive Card 1.5), `digests.chart.render_chart` (PNG)
- `digests.demo`: demo feedback for `loopkeeper demo`
"""
