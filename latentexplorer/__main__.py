"""`python -m latentexplorer` runs the command line (and `torchrun -m latentexplorer train`)."""

from latentexplorer.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
