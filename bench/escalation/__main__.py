"""Entry point: `python -m bench.escalation --help`."""

from bench.escalation.cli import main

if __name__ == "__main__":
    main()
