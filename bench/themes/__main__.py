"""`python -m bench.themes`."""

from bench.themes.cli import main

if __name__ == "__main__":
    main()
