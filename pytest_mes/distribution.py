"""pytest-xdist scheduling that keeps the tests of a set sharing setup state on one worker (imported only under
xdist)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from xdist.scheduler import LoadScopeScheduling
from xdist.workermanage import WorkerController

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

    # A worker that dies mid-test (killed for its memory, a crash in a C extension) is replaced; LoadScopeScheduling
    # alone then never ends the run. It hands the new worker one unit, and a worker runs its last test only once it
    # gets another or is told to stop; and it queues again the test the worker died running, which would kill each
    # worker that replaces it.

    def _reschedule(self, node: WorkerController) -> None:
        super()._reschedule(node)
        if not self.workqueue and not node.shutting_down:
            node.shutdown()  # the last unit is handed out: nothing else will come, as xdist says at the start

    def remove_node(self, node: WorkerController) -> str | None:
        """The test the worker died running (xdist reports it, in error) is not run again; its other tests are."""
        workload = self.assigned_work.get(node, {})
        running = next((nodeid for unit in workload.values() for nodeid, done in unit.items() if not done), None)
        if running is not None:
            workload[self._split_scope(running)][running] = True
        for scope in [scope for scope, unit in workload.items() if all(unit.values())]:
            del workload[scope]  # (queued again, a unit with nothing left to run would stall the worker it goes to)
        super().remove_node(node)
        return running


@cache
def _shares_state(path: Path) -> bool:
    """Whether the set has a set-level setup or teardown (an unreadable file: assume it does). Read from the
    test-set cache, which the workers' collection has filled: the controller does not parse the sets again."""
    try:
        data = checked_data(path)
    except MesError:
        return True
    return not isinstance(data, dict) or bool(data.get("setup") or data.get("teardown"))
