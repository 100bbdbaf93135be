"""Run the command line from a checkout: `python cli.py train --cell lstm`."""

from autocomplete.cli import main

if __name__ == "__main__":
    main()
