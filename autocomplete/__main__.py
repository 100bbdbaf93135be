"""`python -m autocomplete ...`"""

from autocomplete.cli import main

main()
