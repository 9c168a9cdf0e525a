"""Old home of the miniature dataset trees: they are test fixtures and now live in
:mod:`dfbench.testing.miniature`. This alias keeps ``from dfbench.datasets import miniature``
(and every name in it) working: it *is* the same module object, so patches and isinstance
checks agree between the two import paths.
"""

import sys

from ..testing import miniature as _miniature

sys.modules[__name__] = _miniature
