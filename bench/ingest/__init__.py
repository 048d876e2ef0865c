"""The Slack ingest benchmark: ack latency and throughput of `POST /slack/events`.

loopkeeper (the real runtime: signature check, bolt, Web API look-ups, the report committed
before the ack, the outbox delivering confirmations) against a bare slack_bolt app that acks
the same `reaction_added` events with a no-op listener. Run `python -m bench.ingest --help`.
"""
