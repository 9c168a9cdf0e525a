"""``python -m dfbench.cli``: the same as the ``dfbench`` console script."""

from . import main

main()
