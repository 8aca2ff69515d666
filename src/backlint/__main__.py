"""`python -m backlint`: the same as the `backlint` command."""

from backlint.cli import run

if __name__ == "__main__":
    run()
