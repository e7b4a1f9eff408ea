"""Kind-preserving plumbing for the reference solutions: numpy in -> numpy out, torch in -> torch out.

Every reference function is written once, with torch operations, and this module moves the caller's values in
and out. One code path per formula means one thing to prove: a numpy and a torch caller cannot get answers that
drift apart. The rules:

- kind: if any argument is a torch tensor the result is a torch tensor (on that tensor's device); otherwise
  (numpy arrays, numpy scalars, Python floats, ints and lists) the result is numpy.
- dtype: the widest floating dtype among the array arguments (numpy arrays/scalars, tensors); float16 and
  bfloat16 compute as float32. Python numbers and lists do not vote (as in torch's type promotion), and when
  nothing votes the dtype is float64. Integer and boolean arrays do not vote either.
- graph: torch arguments are converted with differentiable operations only (`Tensor.to`), so a result computed
  from inputs that require grad stays on their graph.
- scalars: a 0-d numpy result is returned as a numpy scalar (np.float32 / np.float64), a 0-d torch result as a
  0-d tensor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

_WIDTH = {torch.float16: 1, torch.bfloat16: 1, torch.float32: 2, torch.float64: 3}
_TORCH_OF_NUMPY = {np.dtype(np.float16): torch.float16, np.dtype(np.float32): torch.float32,
                   np.dtype(np.float64): torch.float64}


def is_tensor(value: Any) -> bool:
    return isinstance(value, torch.Tensor)


def _vote(value: Any) -> torch.dtype | None:
    """The floating dtype an argument asks for, or None when it has no say (Python numbers, ints, None)."""
    if is_tensor(value):
        return value.dtype if value.dtype.is_floating_point else None
    if isinstance(value, (np.ndarray, np.generic)):
        return _TORCH_OF_NUMPY.get(np.dtype(value.dtype))
    return None


@dataclass(frozen=True)
class Kind:
    """How to compute (a torch dtype and device) and how to hand the result back (torch or numpy)."""

    torch: bool
    dtype: torch.dtype
    device: torch.device

    def tensor(self, value: Any) -> torch.Tensor:
        """The argument as a tensor of the computing dtype; tensors keep their graph."""
        if is_tensor(value):
            return value.to(device=self.device, dtype=self.dtype)
        try:
            array = np.asarray(value, dtype=np.float64 if self.dtype == torch.float64 else np.float32)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"expected numbers, an array or a tensor, got {type(value).__name__}: {exc}") from exc
        return torch.as_tensor(array, device=self.device).to(self.dtype)

    def out(self, result: torch.Tensor) -> Any:
        """The result in the caller's kind: the tensor itself, or a numpy array / numpy scalar of the same dtype."""
        if self.torch:
            return result
        array = result.detach().cpu().numpy()
        return array[()] if array.ndim == 0 else array


def kind_of(*values: Any) -> Kind:
    """The Kind for a call with these arguments (see the module docstring for the rules)."""
    tensors = [v for v in values if is_tensor(v)]
    votes = [d for d in (_vote(v) for v in values) if d is not None]
    dtype = max(votes, key=_WIDTH.__getitem__) if votes else torch.float64
    if _WIDTH[dtype] < _WIDTH[torch.float32]:
        dtype = torch.float32
    device = tensors[0].device if tensors else torch.device("cpu")
    return Kind(torch=bool(tensors), dtype=dtype, device=device)


def sum_to_shape(values: torch.Tensor, shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
    """Undo broadcasting: sum `values` down to `shape` (what autograd does for a broadcast argument)."""
    return values.sum_to_size(shape) if tuple(values.shape) != tuple(shape) else values
