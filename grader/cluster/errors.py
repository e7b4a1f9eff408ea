"""The cluster's errors, importable without Dask (the batch catches them)."""


class ClusterError(RuntimeError):
    """The cluster cannot grade this batch (unreachable, no worker, a worker that cannot grade, a resource nobody
    has); nothing was graded. The message is one line naming the address or the worker."""


class SchedulerLost(RuntimeError):
    """The scheduler went away midway; what was stored stays."""
