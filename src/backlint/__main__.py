"""`python -m backlint`: the same as the `backlint` command."""

from backlint.cli import main

if __name__ == "__main__":
    main()
