"""pytest-xdist scheduling that keeps each test-set file on one worker (imported only under xdist)."""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling


class TestSetScheduling(LoadScopeScheduling):
    """The tests of a YAML test set share its setup state: one scope per file. Any other test is its own
    scope, which spreads it like 'load'. Node ids stay untouched, so --lf works across -n and serial runs."""

    __test__ = False

    def _split_scope(self, nodeid: str) -> str:
        path = nodeid.split("::", 1)[0]
        return path if path.endswith((".yaml", ".yml")) else nodeid
