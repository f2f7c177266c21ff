"""pytest-xdist scheduling that keeps the tests of a set sharing setup state on one worker (imported only under
xdist)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from xdist.scheduler import LoadScopeScheduling

from pytest_mes.errors import MesError
from pytest_mes.testset.cache import checked_data


class TestSetScheduling(LoadScopeScheduling):
    """The tests of a YAML test set with a set-level setup or teardown share its state: one scope per such
    file. Any other test is its own scope, which spreads it like 'load' (the cases of a parametrized test
    too). Node ids stay untouched, so --lf works across -n and serial runs."""

    __test__ = False

    def _split_scope(self, nodeid: str) -> str:
        path = nodeid.split("::", 1)[0]
        if path.endswith((".yaml", ".yml")) and _shares_state(self.config.rootpath / path):
            return path
        return nodeid


@cache
def _shares_state(path: Path) -> bool:
    """Whether the set has a set-level setup or teardown (an unreadable file: assume it does). Read from the
    test-set cache, which the workers' collection has filled: the controller does not parse the sets again."""
    try:
        data = checked_data(path)
    except MesError:
        return True
    return not isinstance(data, dict) or bool(data.get("setup") or data.get("teardown"))
