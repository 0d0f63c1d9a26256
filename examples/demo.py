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

section("classic ML on shipped data: impute -> scale -> logistic regression")
from ember.datasets import load_digits  # noqa: E402
from ember.metrics import classification_report  # noqa: E402
from ember.ml import LogisticRegression, RandomForestClassifier  # noqa: E402
from ember.model_selection import cross_val_score, train_test_split  # noqa: E402
from ember.preprocessing import SimpleImputer, StandardScaler, make_pipeline  # noqa: E402

digits = load_digits(dtype=ember.float64)
X, y = np.asarray(digits.data), np.asarray(digits.target)
X = X.copy()
X[np.random.default_rng(0).uniform(size=X.shape) < 0.05] = np.nan  # 5% missing values to impute
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
pipe = make_pipeline(SimpleImputer(strategy="mean"), StandardScaler(), LogisticRegression(C=0.1, max_iter=300))
scores = cross_val_score(pipe, X_train, y_train, cv=5)
print(f"5-fold cross-validated accuracy: {scores.mean():.3f} +- {scores.std():.3f}")
pipe.fit(X_train, y_train)
print(f"held-out accuracy: {pipe.score(X_test, y_test):.3f}")
print(classification_report(y_test, pipe.predict(X_test), digits=3))

forest = make_pipeline(SimpleImputer(), RandomForestClassifier(n_estimators=100, random_state=0))
forest.fit(X_train, y_train)
print(f"random forest held-out accuracy: {forest.score(X_test, y_test):.3f}")

section("neural net on shipped digits: an MLP trained with ember.nn.fit")
import ember.nn as nn  # noqa: E402
from ember.data import DataLoader, TensorDataset  # noqa: E402
from ember.optim.lr_scheduler import OneCycleLR  # noqa: E402

X, y = load_digits(return_X_y=True)  # float32 pixel counts 0..16, int64 labels
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
mean, std = X_train.mean(), X_train.std()  # standardise with the training set's statistics
X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
ember.random.manual_seed(0)  # the initial weights and the shuffling: same run, same bits
model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
train_loader = DataLoader(TensorDataset(X_train, y_train), batch_size=64, shuffle=True)
opt = ember.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
epochs = 20
sched = OneCycleLR(opt, max_lr=1e-2, epochs=epochs, steps_per_epoch=len(train_loader))
history = nn.fit(model, nn.CrossEntropyLoss(), opt, train_loader, epochs, metrics=["accuracy"],
                 scheduler=sched, scheduler_interval="batch")  # progress bar on stdout
test = nn.evaluate(model, DataLoader(TensorDataset(X_test, y_test), batch_size=256), nn.CrossEntropyLoss(),
                   metrics=["accuracy"])
print(f"MLP held-out accuracy: {test['acc']:.3f} (test loss {test['loss']:.3f}; "
      f"training loss {history['loss'][0]:.3f} -> {history['loss'][-1]:.3f})")
