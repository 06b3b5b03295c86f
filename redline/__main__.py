"""`python -m redline`: the same as the `redline` command."""

from redline.cli import main

if __name__ == "__main__":
    main()
