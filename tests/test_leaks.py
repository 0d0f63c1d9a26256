"""Leak checks: each operation runs 2000 times after a warm-up; then libember's
allocated bytes, the reference counts of the inputs (and of the Tensor type and
dtype objects, which every live tensor or dtype result holds) and the memory
traced by tracemalloc must be back where they started."""
import gc
import sys
import tracemalloc

import numpy as np
import pytest
import torch

import ember

N = 2000
CALLS = {"repr": 200}  # NumPy-formatted repr is slow; 200 calls still exceed the bound if one object leaks
WARMUP = 100
TRACED_BOUND = 16 * 1024  # bytes; a leak of one small object per call exceeds it

T = ember.tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
U = ember.tensor(np.linspace(-1, 1, 12).reshape(3, 4))
I = ember.tensor(np.arange(12).reshape(3, 4))
A = np.arange(12, dtype=np.float64).reshape(3, 4)
A16 = A.astype(np.float16)
RO = A.copy()
RO.flags.writeable = False
TT = torch.arange(12, dtype=torch.int32).reshape(3, 4)
T16 = torch.zeros(3, dtype=torch.float16)
S = 2.5
BIG = 12345678901
LST = [[1.0, 2.0], [3.0, 4.0]]
WATCHED = [T, U, I, A, A16, RO, TT, T16, S, BIG, LST, ember.Tensor,
           ember.bool, ember.uint8, ember.int8, ember.int32, ember.int64, ember.float32, ember.float64]


def raises(exc, fn):
    try:
        fn()
    except exc:
        return
    raise AssertionError(f"{fn} did not raise {exc.__name__}")


def setitem():
    c = T.clone()
    c[0] = S
    c[1:, ::2] = U[1:, ::2]
    c[..., 0] = I[:, 0]


def inplace():
    c = U.clone()
    c += T
    c *= S
    c -= 1


def capsule_unconsumed():
    T.__dlpack__()
    T.__dlpack__(max_version=(1, 0))
    T.T.__dlpack__(max_version=(1, 0), copy=True)


def capsule_consumed():
    ember.from_dlpack(T.__dlpack__())
    ember.from_dlpack(U.__dlpack__(max_version=(1, 0)))


def consumed_twice():
    cap = T.__dlpack__()
    ember.from_dlpack(cap)
    raises(TypeError, lambda: ember.from_dlpack(cap))


OPS = {
    # creation
    "tensor_from_list": lambda: ember.tensor(LST),
    "asarray_list": lambda: ember.asarray(LST, dtype=ember.float64),
    "asarray_scalars": lambda: (ember.asarray(S), ember.asarray(BIG), ember.asarray(True)),
    "zeros_ones_full_empty": lambda: (ember.zeros((3, 4)), ember.ones(5, dtype=ember.int8),
                                      ember.full((2, 2), S), ember.empty((4,))),
    "arange_linspace_eye": lambda: (ember.arange(10), ember.linspace(0, 1, 7), ember.eye(3)),
    "like": lambda: (ember.zeros_like(T), ember.full_like(I, 3), ember.empty_like(U)),
    "clone_astype": lambda: (T.clone(), T.astype(ember.int32), T.T.contiguous(), ember.astype(I, ember.float64)),
    # operators
    "tensor_tensor_ops": lambda: (T + U, T - U, T * U, T / U, T // U, T % U, T ** 2, T @ U.T, I & I, I << 1),
    "tensor_scalar_ops": lambda: (T + S, S - T, T * 2, 3 / U, I + BIG, T > 1, S == U, -T, abs(U), ~I),
    "inplace_ops": inplace,
    "python_conversions": lambda: (float(T[0, 1]), int(I[1, 1]), bool(T[0, 1]), T[1, 2].item(), len(T),
                                   T.tolist(), T.shape, T.dtype, T.strides, T.stride()),
    "repr": lambda: (repr(U), str(I)),
    # indexing and views
    "getitem": lambda: (T[0], T[1, 2], T[1:, ::2], T[..., None], T[:, -1], T[::-1], T[None, 0, ...]),
    "setitem": setitem,
    "views": lambda: (T.T, T.mT, T.T.T, U[::2].T),
    # NumPy round trips
    "numpy_from_tensor": lambda: (np.asarray(T), T.numpy(), T.T.numpy(), memoryview(U), T.__array_interface__),
    "tensor_from_numpy": lambda: (ember.from_numpy(A), ember.asarray(A), ember.asarray(A, copy=True),
                                  ember.asarray(A.T), ember.asarray(A16), ember.asarray(RO)),
    "numpy_round_trip": lambda: np.asarray(ember.from_numpy(np.asarray(ember.asarray(A[::-1])))),
    # DLPack round trips
    "dlpack_numpy": lambda: (np.from_dlpack(T), np.from_dlpack(T.T), ember.from_dlpack(A),
                             ember.from_dlpack(A[:, ::-1]), ember.from_dlpack(RO, copy=True)),
    "dlpack_torch": lambda: (torch.from_dlpack(T), torch.from_dlpack(I.T), ember.from_dlpack(TT),
                             ember.from_dlpack(TT.T, copy=True)),
    "dlpack_round_trip": lambda: ember.from_dlpack(torch.from_dlpack(ember.from_dlpack(np.from_dlpack(U)))),
    "capsules_unconsumed": capsule_unconsumed,
    "capsules_consumed": capsule_consumed,
    # errors raised and caught
    "error_shapes": lambda: raises(ValueError, lambda: T + ember.zeros((5,))),
    "error_index": lambda: (raises(IndexError, lambda: T[10]), raises(IndexError, lambda: T[0, 0, 0])),
    "error_conversion": lambda: (raises(TypeError, lambda: ember.asarray([1, [2, 3]])),
                                 raises(TypeError, lambda: ember.asarray(np.zeros(2, np.complex64))),
                                 raises(OverflowError, lambda: ember.full((2,), 1) + 10 ** 30)),
    "error_from_numpy": lambda: (raises(ValueError, lambda: ember.from_numpy(RO)),
                                 raises(ValueError, lambda: ember.asarray(A16, copy=False)),
                                 raises(TypeError, lambda: ember.from_numpy(LST))),
    "error_dlpack": lambda: (raises(TypeError, lambda: ember.from_dlpack(T16)),
                             raises(BufferError, lambda: ember.from_dlpack(RO)),
                             raises(BufferError, lambda: T.__dlpack__(dl_device=(2, 0))),
                             raises(TypeError, lambda: ember.from_dlpack(LST))),
    "error_consumed_capsule": consumed_twice,
    "error_operand": lambda: raises(TypeError, lambda: T + "x"),
}

# Functions of the op families, bound as they land.
FUNCS = {
    "exp": lambda: ember.exp(T), "sqrt": lambda: ember.sqrt(U), "tanh": lambda: ember.tanh(T.T),
    "maximum": lambda: ember.maximum(T, S), "where": lambda: ember.where(T > 2, T, 0.0),
    "clip": lambda: ember.clip(U, -0.5, 0.5), "matmul": lambda: ember.matmul(T, U.T),
    "sum": lambda: (ember.sum(T), ember.sum(I, axis=0, keepdims=True)), "mean": lambda: ember.mean(T, axis=1),
    "max": lambda: ember.max(U), "argmax": lambda: ember.argmax(T, axis=0), "var": lambda: ember.var(U),
    "cumsum": lambda: ember.cumsum(T, axis=1), "logsumexp": lambda: ember.logsumexp(U, axis=-1),
    "tril": lambda: ember.tril(T), "meshgrid": lambda: ember.meshgrid(T[0], U[1]),
    "reshape": lambda: ember.reshape(T, (4, 3)), "permute_dims": lambda: ember.permute_dims(T, (1, 0)),
    "concat": lambda: ember.concat([T, U]), "stack": lambda: ember.stack([T, T]),
    "flip": lambda: ember.flip(T), "squeeze": lambda: ember.squeeze(T[None], axis=0),
    "sort": lambda: ember.sort(U), "argsort": lambda: ember.argsort(U), "take": lambda: ember.take(T, I[0], axis=1),
}
OPS.update({f"ember.{name}": fn for name, fn in FUNCS.items() if hasattr(ember, name)})
for name, call in [("reshape", lambda: T.reshape(4, 3)), ("sum", lambda: T.sum(dim=0)),
                   ("transpose", lambda: T.transpose(0, 1)), ("view", lambda: T.view(2, 6))]:
    if hasattr(ember.Tensor, name):
        OPS[f"Tensor.{name}"] = call


def refcounts():
    return [sys.getrefcount(x) for x in WATCHED]


@pytest.mark.parametrize("op", OPS)
def test_no_leak(op):
    fn = OPS[op]
    tracemalloc.start()
    try:
        for _ in range(WARMUP):
            fn()
        gc.collect()
        refs = refcounts()
        alloc = ember._C._allocated_bytes()
        traced = tracemalloc.get_traced_memory()[0]
        for _ in range(CALLS.get(op, N)):
            fn()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - traced
    finally:
        tracemalloc.stop()
    assert ember._C._allocated_bytes() == alloc, "libember memory leaked"
    after = refcounts()
    changed = {repr(WATCHED[i])[:40]: (refs[i], after[i]) for i in range(len(refs)) if refs[i] != after[i]}
    assert not changed, f"reference counts changed (before, after): {changed}"
    assert grown < TRACED_BOUND, f"traced Python memory grew by {grown} bytes"


def test_leak_checks_can_fail():
    """The three checks notice a leak of one tensor, one reference or one object per call."""
    kept, tp = [], ember.Tensor
    alloc, rc = ember._C._allocated_bytes(), sys.getrefcount(tp)
    kept.append(ember.zeros((4,)))
    assert ember._C._allocated_bytes() > alloc and sys.getrefcount(tp) == rc + 1
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept.extend(ember.from_dlpack(A) for _ in range(N))
        assert tracemalloc.get_traced_memory()[0] - before > TRACED_BOUND
    finally:
        tracemalloc.stop()
