"""What a long-lived server process (the API, the worker) does once it has started."""
from __future__ import annotations

import gc


def settle_heap() -> None:
    """Move everything alive after start-up (modules, the app, connections, compiled rules) out of
    the garbage collector's generations. A full collection then walks only what requests made since:
    before this, one took the API's event loop for 350 ms at 20 concurrent orders, and every request
    in flight waited for it. Only servers call it: frozen objects are never collected."""
    gc.collect()
    gc.freeze()
