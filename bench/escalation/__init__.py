"""`python -m bench.escalation`: flag → card latency and timer-claim throughput. Not a test."""
