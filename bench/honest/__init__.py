"""`python -m bench.honest`: loopkeeper beside the floor of its own stack and bare bolt, the
load generator, the fake Slack and the app under test each in its own process."""
