"""ember demo: tensors, broadcasting, reductions, and NumPy sharing memory.

Run with `make demo`.  Later capabilities (training, export, serving) grow
this script into the whole train -> evaluate -> export -> serve path.
"""
import numpy as np

import ember


def section(title):
    print(f"\n== {title} ==")


section("tensors")
x = ember.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
print("x =", x)
print("shape", x.shape, "dtype", x.dtype, "strides (bytes)", x.strides)
print("x.T =", x.T)
print("x[:, ::-1] =", x[:, ::-1])

section("broadcasting and type promotion")
row = ember.arange(3)  # int64
print("x + row =", x + row)
print("x * 2 =", x * 2, "(a Python scalar keeps float32)")
print("(row > 0) & (row < 2) =", (row > 0) & (row < 2))

section("reductions")
print("sum over axis 0:", ember.sum(x, axis=0))
print("mean:", ember.mean(x).item())
print("std (correction=1) per row:", ember.std(x, axis=1, correction=1))
print("argmax per row:", ember.argmax(x, axis=1))
print("logsumexp over everything:", round(ember.logsumexp(x).item(), 4))

section("NumPy round trip without copies")
a = np.zeros((2, 3), dtype=np.float32)
t = ember.from_numpy(a)
t[0, 1] = 42.0                       # write through the tensor ...
print("numpy sees the write:", a[0, 1] == 42.0)
back = np.asarray(t)                 # ... and back to NumPy, still shared
back[1, 2] = -1.0
print("tensor sees the write:", t[1, 2].item() == -1.0)
print("same memory:", np.shares_memory(a, back))

section("matmul")
w = ember.asarray(np.arange(6, dtype=np.float32).reshape(3, 2))
print("x @ w =", x @ w)
