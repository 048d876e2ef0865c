"""`python -m bench.digest`."""

from bench.digest.cli import main

if __name__ == "__main__":
    main()
