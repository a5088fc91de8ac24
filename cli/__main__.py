"""``python -m cli`` runs the ``numberflow`` command."""

from . import main

main()
