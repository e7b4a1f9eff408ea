"""Which device files a worker's sandbox exposes: those of the resources the rubric asks for, nothing else.

A worker machine says which device files stand for each resource it was started with, in its environment:

    GRADER_DEVICES="GPU=/dev/nvidia0,/dev/nvidiactl,/dev/nvidia-uvm" dask worker tls://head:8786 --resources GPU=1

When a rubric declares `resources: {GPU: 1}`, the worker's sandbox binds exactly those files (read-write, at
the same path) into its otherwise minimal /dev; for a rubric that does not ask for GPU, and on a worker without
the variable, the sandbox has no device beyond bubblewrap's minimal set. A resource without device files (a
memory size, say) only routes hand-ins. One GPU per worker process: start one worker per GPU, each with its own
device file in GRADER_DEVICES (docs/cluster.md).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping

DEVICES_VARIABLE = "GRADER_DEVICES"


class DeviceError(ValueError):
    """GRADER_DEVICES is malformed or names a file that is not a device."""


def parse_devices(text: str) -> dict[str, list[str]]:
    """'GPU=/dev/nvidia0,/dev/nvidiactl;FPGA=/dev/xdma0' -> {'GPU': [...], 'FPGA': [...]}."""
    mapping: dict[str, list[str]] = {}
    for entry in filter(None, (part.strip() for part in text.split(";"))):
        name, equals, paths = entry.partition("=")
        files = [path.strip() for path in paths.split(",") if path.strip()]
        if not equals or not name.strip() or not files:
            raise DeviceError(f"{DEVICES_VARIABLE}: {entry!r} is not NAME=/dev/file[,/dev/file...]")
        mapping[name.strip()] = files
    return mapping


def devices_for(resources: Mapping[str, float], text: str | None = None) -> list[str]:
    """The device files for the resources a rubric asks for, from GRADER_DEVICES (or `text`)."""
    mapping = parse_devices(os.environ.get(DEVICES_VARIABLE, "") if text is None else text)
    chosen: list[str] = []
    for name in resources:
        for path in mapping.get(name, []):
            if not os.path.isabs(path):
                raise DeviceError(f"{DEVICES_VARIABLE}: {name}={path}: give the device file's absolute path")
            try:
                mode = os.stat(path).st_mode
            except OSError as exc:
                raise DeviceError(f"{DEVICES_VARIABLE}: {name}={path}: {exc.strerror}") from None
            if not (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)):
                raise DeviceError(f"{DEVICES_VARIABLE}: {name}={path} is not a device file")
            if path not in chosen:
                chosen.append(path)
    return chosen
