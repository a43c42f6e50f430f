"""The probe's former location, kept so that `import nanscope_probe` with this
folder on `sys.path` keeps working: it is the module `nanscope.probe` (one
module object, so settings such as `nanscope_probe.DEFER` reach it)."""

import os
import sys

try:
    import nanscope.probe as _probe
except ImportError:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import nanscope.probe as _probe

sys.modules[__name__] = _probe
