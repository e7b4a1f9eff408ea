"""The seccomp filter of a warm pool's slot (bubblewrap's --seccomp): which system calls the hand-ins of a slot
may not make, because they share one user namespace and one zygote with the hand-ins before and after them.
See slot_filter; grader/execution/pool.py installs it, docs/sandbox.md explains it.
"""

from __future__ import annotations

import errno
import platform
import struct

# System call numbers of the slot's seccomp filter (see slot_filter) per architecture, with the audit arch of the
# native ABI.
_FILTERED_SYSCALLS = {
    "x86_64": (0xC000003E, {"add_key": 248, "request_key": 249, "keyctl": 250, "ptrace": 101,
                            "process_vm_readv": 310, "process_vm_writev": 311, "pidfd_getfd": 438,
                            "process_madvise": 440, "prlimit64": 302, "setpriority": 141, "ioprio_set": 251,
                            "sched_setparam": 142, "sched_setscheduler": 144, "sched_setaffinity": 203,
                            "sched_setattr": 314}),
    "aarch64": (0xC00000B7, {"add_key": 217, "request_key": 218, "keyctl": 219, "ptrace": 117,
                             "process_vm_readv": 270, "process_vm_writev": 271, "pidfd_getfd": 438,
                             "process_madvise": 440, "prlimit64": 261, "setpriority": 140, "ioprio_set": 30,
                             "sched_setparam": 118, "sched_setscheduler": 119, "sched_setaffinity": 122,
                             "sched_setattr": 274}),
}
_ALWAYS_DENIED = ("add_key", "request_key", "keyctl", "ptrace", "process_vm_readv", "process_vm_writev",
                  "pidfd_getfd", "process_madvise")
# Allowed only when these (argument index, value) hold: the call is about the caller itself.
_PRIO_PROCESS, _IOPRIO_WHO_PROCESS = 0, 1
_ONLY_ON_SELF = {"prlimit64": ((0, 0),), "setpriority": ((0, _PRIO_PROCESS), (1, 0)),
                 "ioprio_set": ((0, _IOPRIO_WHO_PROCESS), (1, 0)), "sched_setparam": ((0, 0),),
                 "sched_setscheduler": ((0, 0),), "sched_setaffinity": ((0, 0),), "sched_setattr": ((0, 0),)}
_X32_SYSCALL_BIT = 0x40000000


def slot_filter(machine: str | None = None) -> bytes | None:
    """The seccomp program (classic BPF, the form bubblewrap's --seccomp reads) of a slot's zygote and workers;
    None for an unknown machine. Every denied call fails with EPERM:

    * the kernel keyring calls (add_key, request_key, keyctl): keys live in the user namespace that the
      hand-ins of a slot share;
    * ptrace, process_vm_readv/writev, pidfd_getfd and process_madvise: no process of the slot reads, writes
      or steers another one (the zygote is also not dumpable; this holds for every process);
    * prlimit64, setpriority, ioprio_set and the sched_set* calls on any process but the caller itself
      (pid or "who" 0): a hand-in cannot lower the limits, the priority, the scheduling class or the CPUs of
      the zygote it will leave behind, while its own (setrlimit, os.nice, ...) stay its business;
    * every system call of a foreign ABI (32-bit, x32), which would dodge the numbers above.
    """
    numbers = _FILTERED_SYSCALLS.get(machine or platform.machine())
    if numbers is None:
        return None
    arch, calls = numbers
    load_word, jump_eq, jump_ge, ret = 0x20, 0x15, 0x35, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | errno.EPERM
    # (op, jump-if-true label, jump-if-false label, k); labels are resolved to offsets below.
    code: list[tuple[int, str | None, str | None, int] | str] = [
        (load_word, None, None, 4), (jump_eq, None, "deny", arch), (load_word, None, None, 0),
        (jump_ge, "deny", None, _X32_SYSCALL_BIT)]
    code += [(jump_eq, "deny", None, calls[name]) for name in _ALWAYS_DENIED]
    code += [(jump_eq, f"only-self-{name}", None, calls[name]) for name in _ONLY_ON_SELF]
    code.append((ret, None, None, allow))
    for name, required in _ONLY_ON_SELF.items():
        code.append(f"only-self-{name}")
        for argument, value in required:
            # The low 32 bits of the argument (little-endian): what the kernel reads as a pid_t or an int.
            code += [(load_word, None, None, 16 + 8 * argument), (jump_eq, None, "deny", value)]
        code.append((ret, None, None, allow))
    code += ["deny", (ret, None, None, deny)]  # last: classic BPF jumps only forward
    labels: dict[str, int] = {}
    instructions: list[tuple[int, str | None, str | None, int]] = []
    for item in code:
        if isinstance(item, str):
            labels[item] = len(instructions)
        else:
            instructions.append(item)

    def offset(label: str | None, index: int) -> int:
        return 0 if label is None else labels[label] - index - 1

    return b"".join(struct.pack("HBBI", op, offset(true, i), offset(false, i), k)
                    for i, (op, true, false, k) in enumerate(instructions))
