"""Where a batch's hand-ins are graded: on this machine, or on a Dask cluster with the same take_in +
grade_hand_in, scheduled by Dask.

    grader grade DIR --sheet ID --out OUT --scheduler tls://grading-head:8786

The coordinator (the tutor's `grader grade`) keeps the gradebook and the reports; each Dask worker process
hosts the warm sandbox pool once (`plugin.GradingPlugin`) and grades the hand-ins it is sent. Modules:

* `scheduler`: what a batch's scheduler is (`HandInScheduler`) and what every hand-in's grading shares
  (`BatchContext`); `local_scheduler`: threads over this machine's sandbox (`LocalScheduler`).
* `address`: which scheduler addresses are accepted (`tls://`, or `tcp://` on the loopback, or `--insecure`).
* `parcels`: the bytes shipped to workers (the course's rubric and reference, each hand-in) with their sha256.
* `adapter`: the one place that calls the engine's front doors (`take_in`, `grade_hand_in`) on a worker.
* `plugin`: the worker side (course unpacked and checked, checks planned, warm pool) with setup and teardown.
* `dask_scheduler`: the coordinator side (connect, submit, collect as futures complete, faults).

Importing this package does not import Dask; only `plugin` and `dask_scheduler` do (the `cluster` extra).
"""
