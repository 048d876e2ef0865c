"""`python -m bench.surge`: 200 flags on one system against a Slack that limits and answers
slowly, with surge folding on and off, and 100 cards paced into one triage channel."""
