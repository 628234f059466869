"""`python -m latentexplorer.cli`, as before the command line became a package."""

from latentexplorer.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
