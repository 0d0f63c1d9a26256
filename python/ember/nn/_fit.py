"""Training helpers: ``fit``, ``evaluate``, ``predict`` and ``History``.

``fit`` runs the loop every PyTorch user writes by hand (zero_grad, forward,
loss, backward, step; per-epoch validation in ``eval()`` mode under
``ember.no_grad()``) and records per-epoch averages.  It performs exactly the
operations of that hand-written loop in the same order, so a seeded run gives
the same bits with or without it.

The progress display is written here (no tqdm dependency) and picks one of
three forms: in a terminal one line per epoch redrawn in place with ``\\r``;
when the output is not a terminal (a log file, a pipe, CI) one plain line per
finished epoch; in Jupyter a single display that is updated in place.
"""
from __future__ import annotations

import html
import importlib
import math
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Optional, TextIO, Union

import numpy as np

from .._C import Tensor

__all__ = ["fit", "evaluate", "predict", "History", "accuracy"]

MetricFn = Callable[[Any, Any], Any]


# ---- metrics --------------------------------------------------------------------------------------
def _np(t: Any) -> np.ndarray:
    return np.asarray(t.detach().numpy() if isinstance(t, Tensor) else t)


def accuracy(output: Any, target: Any) -> float:
    """Fraction of samples whose highest-scoring class (argmax over axis 1 of
    ``output``, shape (N, C, ...)) equals ``target`` (class indices, shape
    (N, ...)), or equals the argmax of ``target`` when it holds class
    probabilities of ``output``'s shape.  For one-column binary outputs pass
    your own metric, e.g. ``lambda out, y: float(((out > 0) == y).float().mean())``."""
    out, t = _np(output), _np(target)
    if out.ndim < 2 or out.shape[1] < 2:
        raise ValueError(f"accuracy needs class scores of shape (N, C, ...) with C >= 2, got output of shape "
                         f"{tuple(out.shape)}; for a binary output with one column pass a metric function of "
                         "your own")
    pred = out.argmax(axis=1)
    if t.shape == out.shape and t.dtype.kind == "f":
        t = t.argmax(axis=1)
    if t.shape != pred.shape:
        raise ValueError(f"accuracy: target of shape {tuple(t.shape)} does not match output of shape "
                         f"{tuple(out.shape)} (expected class indices of shape {tuple(pred.shape)})")
    return float(np.mean(pred == t)) if pred.size else 0.0


def _mae(output: Any, target: Any) -> float:
    """Mean absolute error over all elements."""
    out, t = _np(output), _np(target)
    if out.shape != t.shape:
        raise ValueError(f"mae: output shape {tuple(out.shape)} != target shape {tuple(t.shape)}")
    return float(np.mean(np.abs(out.astype(np.float64) - t)))


def _mse(output: Any, target: Any) -> float:
    """Mean squared error over all elements."""
    out, t = _np(output), _np(target)
    if out.shape != t.shape:
        raise ValueError(f"mse: output shape {tuple(out.shape)} != target shape {tuple(t.shape)}")
    return float(np.mean(np.square(out.astype(np.float64) - t)))


_NAMED: dict[str, tuple[str, MetricFn]] = {
    "accuracy": ("acc", accuracy), "acc": ("acc", accuracy), "mae": ("mae", _mae), "mse": ("mse", _mse)}


def _metric_fns(metrics: Any) -> dict[str, MetricFn]:
    """Normalise the metrics argument to {name: fn(output, target)}."""
    if metrics is None:
        return {}
    if isinstance(metrics, Mapping):
        items = list(metrics.items())
    elif isinstance(metrics, (str,)) or callable(metrics):
        items = [(None, metrics)]
    elif isinstance(metrics, Iterable):
        items = [(None, m) for m in metrics]
    else:
        raise TypeError(f"metrics must be a dict of name -> function, or a list of names/functions; got "
                        f"{type(metrics).__name__}")
    out: dict[str, MetricFn] = {}
    for name, m in items:
        if isinstance(m, str):
            if m not in _NAMED:
                raise ValueError(f"unknown metric {m!r}; known names are {sorted(_NAMED)} (or pass a function "
                                 "fn(output, target) -> float)")
            default_name, fn = _NAMED[m]
        elif callable(m):
            default_name, fn = getattr(m, "__name__", "metric"), m
        else:
            raise TypeError(f"metric {m!r} is neither a name nor a function fn(output, target) -> float")
        key = str(name) if name is not None else default_name
        if key in ("loss",) or key.startswith("val_"):
            raise ValueError(f"metric name {key!r} is reserved (the history uses 'loss' and 'val_*')")
        if key in out:
            raise ValueError(f"two metrics are named {key!r}: pass a dict to name them")
        out[key] = fn
    return out


# ---- History --------------------------------------------------------------------------------------
class History(dict[str, list[float]]):
    """What ``fit`` returns: a dict of per-epoch lists, ``history["loss"][i]``
    is epoch i+1's training loss (the mean over the epoch's samples of the
    per-batch losses), ``history["val_loss"]`` and ``history["val_<metric>"]``
    the validation values, ``history["<metric>"]`` the training metrics.
    ``plot()`` draws the curves."""

    @property
    def epochs(self) -> int:
        """The number of epochs recorded."""
        return max((len(v) for v in self.values()), default=0)

    def plot(self, keys: Optional[Sequence[str]] = None, figsize: Optional[tuple[float, float]] = None) -> Any:
        """Draw the training curves with matplotlib: one panel per quantity
        (loss and each metric; keys picks them), the training values and the
        validation values (``val_*``) against the epoch number.  Returns the
        matplotlib Figure (in a script call ``matplotlib.pyplot.show()``; in
        Jupyter it shows by itself).  Raises ImportError when matplotlib is
        not installed."""
        try:
            import matplotlib.pyplot as plt
        except ImportError as e:
            raise ImportError("History.plot needs matplotlib, which is not installed "
                              "(pip install matplotlib)") from e
        bases: list[str] = []
        for k in self:
            base = k[4:] if k.startswith("val_") else k
            if base not in bases:
                bases.append(base)
        if keys is not None:
            unknown = [k for k in keys if k not in bases]
            if unknown:
                raise ValueError(f"History.plot: no values recorded for {unknown}; recorded: {bases}")
            bases = list(keys)
        if not bases or self.epochs == 0:
            raise ValueError("History.plot: the history is empty")
        n = len(bases)
        fig, axes = plt.subplots(1, n, figsize=figsize or (4.5 * n, 3.5), squeeze=False)
        for ax, base in zip(axes[0], bases):
            for key, label in ((base, "train"), ("val_" + base, "validation")):
                if key in self and len(self[key]):
                    ys = self[key]
                    ax.plot(range(1, len(ys) + 1), ys, marker="o" if len(ys) < 30 else None,
                            markersize=3, label=label)
            ax.set_title(base)
            ax.set_xlabel("epoch")
            ax.grid(True, alpha=0.3)
            ax.legend()
        fig.tight_layout()
        return fig


# ---- progress display -----------------------------------------------------------------------------
def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return str(v)
    return f"{v:.4f}" if v == 0 or 1e-3 <= abs(v) < 1e5 else f"{v:.4g}"


def _logs_text(logs: Mapping[str, float]) -> str:
    return "  ".join(f"{k}={_fmt(v)}" for k, v in logs.items())


def _in_notebook() -> bool:
    """True inside a Jupyter kernel.  Only looks when IPython is already
    imported (never imports it): a kernel's shell has a ``kernel`` attribute,
    the terminal IPython shell does not."""
    ipy = sys.modules.get("IPython")
    if ipy is None:
        return False
    try:
        shell = ipy.get_ipython()
    except Exception:  # an IPython too old or stubbed out: treat as no notebook
        return False
    return shell is not None and hasattr(shell, "kernel")


class _Progress:
    """Counts the batches of an epoch and the running averages; subclasses
    decide how to show them."""

    BAR = 20

    def __init__(self, epochs: int, total: Optional[int]) -> None:
        self.epochs, self.total = epochs, total
        self.epoch = 0
        self.done = 0
        self.t0 = self.t_batch = 0.0
        self.last_draw = 0.0

    def start_epoch(self, epoch: int) -> None:
        self.epoch, self.done = epoch, 0
        self.t0 = self.t_batch = self.last_draw = time.perf_counter()

    def line(self, logs: Mapping[str, float], bar: bool) -> str:
        elapsed = time.perf_counter() - self.t0
        w = len(str(self.epochs))
        parts = [f"Epoch {self.epoch:>{w}}/{self.epochs}"]
        if self.total:
            if bar:
                filled = min(self.BAR, self.BAR * self.done // self.total)
                head = ">" if filled < self.BAR else ""
                parts.append("[" + "=" * filled + head + " " * (self.BAR - filled - len(head)) + "]")
            parts.append(f"{self.done}/{self.total}")
        else:
            parts.append(f"{self.done} batches")
        parts.append(f"{elapsed * 1e3:.0f}ms" if elapsed < 1 else f"{elapsed:.1f}s")
        busy = self.t_batch - self.t0  # the rate counts training batches only, not the validation after them
        if busy > 0:
            parts.append(f"{self.done / busy:.1f} it/s")
        text = " ".join(parts)
        return text + "  " + _logs_text(logs) if logs else text

    def batch(self, done: int, logs: Mapping[str, float]) -> None:
        self.done = done
        now = self.t_batch = time.perf_counter()
        # Redraw at most ten times a second: drawing each batch of a fast model costs more than the batch.
        if done == 1 or done == self.total or now - self.last_draw >= 0.1:
            self.last_draw = now
            self.draw(logs)

    def draw(self, logs: Mapping[str, float]) -> None:
        pass

    def end_epoch(self, logs: Mapping[str, float]) -> None:
        pass

    def close(self) -> None:
        pass


class _TerminalProgress(_Progress):
    """A terminal: the current epoch's line is redrawn in place with '\\r'
    and kept (newline) when the epoch ends.  Not a terminal: one plain line
    per finished epoch, nothing in between."""

    def __init__(self, epochs: int, total: Optional[int], file: TextIO, tty: bool) -> None:
        super().__init__(epochs, total)
        self.file, self.tty = file, tty
        self.shown = 0  # length of the line now on screen, so a shorter one can blank its tail
        self.open = False

    def _write(self, text: str, final: bool) -> None:
        # A line wider than the terminal wraps, and '\r' then returns only to the start of its last row:
        # the live line is cut to the width; the final one may wrap since a newline follows it.
        if not final:
            width = shutil.get_terminal_size((100, 24)).columns
            text = text[:max(width - 1, 10)]
        pad = " " * max(0, self.shown - len(text))
        self.file.write("\r" + text + pad + ("\n" if final else ""))
        self.file.flush()
        self.shown = 0 if final else len(text)
        self.open = not final

    def draw(self, logs: Mapping[str, float]) -> None:
        if self.tty:
            self._write(self.line(logs, bar=True), final=False)

    def end_epoch(self, logs: Mapping[str, float]) -> None:
        if self.tty:
            self._write(self.line(logs, bar=True), final=True)
        else:
            self.file.write(self.line(logs, bar=False) + "\n")
            self.file.flush()

    def close(self) -> None:
        if self.open:  # interrupted mid-epoch: keep the last drawn line, move past it
            self.file.write("\n")
            self.file.flush()
            self.open = False


class _NotebookView:
    """What the Jupyter display shows: a progress element and the current
    line, then the finished epochs' lines (HTML, with a text fallback)."""

    def __init__(self) -> None:
        self.value, self.max = 0, 0
        self.current = ""
        self.finished: list[str] = []

    def _repr_html_(self) -> str:
        bar = (f'<progress value="{self.value}" max="{self.max}" style="width:16em;vertical-align:middle">'
               "</progress> ") if self.max else ""
        rows = "\n".join(html.escape(s) for s in self.finished)
        cur = f"<div>{bar}<code>{html.escape(self.current)}</code></div>" if self.current else ""
        done = f'<pre style="margin:0">{rows}</pre>' if rows else ""
        return f"<div>{done}{cur}</div>"

    def __repr__(self) -> str:
        return "\n".join(self.finished + ([self.current] if self.current else []))


class _NotebookProgress(_Progress):
    def __init__(self, epochs: int, total: Optional[int]) -> None:
        super().__init__(epochs, total)
        # IPython is there (_in_notebook found its kernel); imported by name so ember needs no stubs of it.
        display = importlib.import_module("IPython.display").display
        self.view = _NotebookView()
        self.view.max = total or 0
        self.handle = display(self.view, display_id=True)

    def _update(self) -> None:
        if self.handle is not None:
            self.handle.update(self.view)

    def draw(self, logs: Mapping[str, float]) -> None:
        self.view.value = self.done
        self.view.current = self.line(logs, bar=False)
        self._update()

    def end_epoch(self, logs: Mapping[str, float]) -> None:
        self.view.finished.append(self.line(logs, bar=False))
        self.view.current = ""
        self._update()


def _make_progress(progress: bool, file: Optional[TextIO], epochs: int, total: Optional[int]) -> _Progress:
    if not progress:
        return _Progress(epochs, total)
    if file is None:
        if _in_notebook():
            try:
                return _NotebookProgress(epochs, total)
            except ImportError:
                pass
        file = sys.stdout
    try:
        tty = bool(file.isatty())
    except (AttributeError, ValueError):  # a file-like object without isatty, or a closed one
        tty = False
    return _TerminalProgress(epochs, total, file, tty)


# ---- the loop -------------------------------------------------------------------------------------
def _check_loader(loader: Any, what: str, reiterate: bool) -> None:
    if isinstance(loader, (Tensor, np.ndarray)):
        raise TypeError(f"{what} must yield batches (inputs, target), got a {type(loader).__name__}: wrap the "
                        "data in a loader, e.g. DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)")
    if not isinstance(loader, Iterable):
        raise TypeError(f"{what} must be an iterable of (inputs, target) batches such as an "
                        f"ember.data.DataLoader, got {type(loader).__name__}")
    if reiterate and iter(loader) is loader:
        raise TypeError(f"{what} is a one-shot iterator ({type(loader).__name__}) that would be exhausted "
                        "after the first epoch: pass the DataLoader (or a list of batches) itself")


def _split_batch(batch: Any, what: str) -> tuple[tuple[Any, ...], Any]:
    """(inputs, target) of a batch: the last element is the target, the ones before it the model's inputs."""
    if isinstance(batch, (list, tuple)) and len(batch) >= 2:
        return tuple(batch[:-1]), batch[-1]
    desc = (f"a {type(batch).__name__} of {len(batch)} element" if isinstance(batch, (list, tuple))
            else f"a {type(batch).__name__}")
    raise TypeError(f"{what} must yield batches (inputs..., target) of at least two elements, got {desc}; "
                    "a DataLoader over TensorDataset(X, y) yields such batches")


def _count(target: Any) -> int:
    shape = getattr(target, "shape", None)
    if shape is None:
        try:
            return len(target)
        except TypeError:
            return 1
    return int(shape[0]) if len(shape) else 1


def _scalar_loss(loss: Any) -> float:
    if not isinstance(loss, Tensor):
        raise TypeError(f"loss_fn must return an ember Tensor, got {type(loss).__name__}")
    if loss.size != 1:
        raise ValueError(f"loss_fn must return a scalar, got a tensor of shape {tuple(loss.shape)}: use "
                         "reduction='mean' (or 'sum')")
    return float(loss)


def _set_mode(model: Any, training: bool) -> None:
    if hasattr(model, "train"):
        model.train(training)


class _Averages:
    """Sample-weighted running means of the loss and metrics over one pass."""

    def __init__(self, names: Iterable[str]) -> None:
        self.n = 0
        self.sums = {k: 0.0 for k in names}

    def add(self, n: int, values: Mapping[str, float]) -> None:
        self.n += n
        for k, v in values.items():
            self.sums[k] += v * n

    def means(self) -> dict[str, float]:
        return {k: s / self.n for k, s in self.sums.items()} if self.n else {}


def _batch_metrics(fns: Mapping[str, MetricFn], output: Any, target: Any) -> dict[str, float]:
    from ..autograd import no_grad
    if not fns:
        return {}
    out = output.detach() if isinstance(output, Tensor) else output
    with no_grad():
        return {k: float(fn(out, target)) for k, fn in fns.items()}


def _evaluate(model: Any, loader: Any, loss_fn: Any, fns: Mapping[str, MetricFn], what: str) -> dict[str, float]:
    from ..autograd import no_grad
    names = (["loss"] if loss_fn is not None else []) + list(fns)
    avg = _Averages(names)
    with no_grad():
        for batch in loader:
            inputs, target = _split_batch(batch, what)
            output = model(*inputs)
            values = {"loss": _scalar_loss(loss_fn(output, target))} if loss_fn is not None else {}
            values.update(_batch_metrics(fns, output, target))
            avg.add(_count(target), values)
    if avg.n == 0:
        raise ValueError(f"{what} yielded no batches")
    return avg.means()


def evaluate(model: Any, loader: Any, loss_fn: Optional[Callable[[Any, Any], Tensor]] = None,
             metrics: Any = None) -> dict[str, float]:
    """The mean loss and metrics of model over loader's (inputs, target)
    batches, computed in ``eval()`` mode under ``ember.no_grad()`` (the
    model's previous mode is restored).  Returns ``{"loss": ..., name: ...}``;
    each value is the mean over samples of the per-batch values (for a
    mean-reduced loss, the mean over the whole data).  metrics as in
    :func:`fit`."""
    fns = _metric_fns(metrics)
    if loss_fn is None and not fns:
        raise ValueError("evaluate needs a loss_fn or at least one metric")
    _check_loader(loader, "loader", reiterate=False)
    was_training = getattr(model, "training", None)
    _set_mode(model, False)
    try:
        return _evaluate(model, loader, loss_fn, fns, "loader")
    finally:
        if was_training is not None:
            _set_mode(model, bool(was_training))


def predict(model: Any, data: Any, batch_size: int = 256) -> Tensor:
    """The model's outputs for data, concatenated along axis 0, computed in
    ``eval()`` mode under ``ember.no_grad()`` (the model's previous mode is
    restored).  data is a Tensor or NumPy array of inputs (run batch_size rows
    at a time), or an iterable of batches such as a DataLoader: a batch that
    is a Tensor or a one-element list is the input; in a longer batch the
    last element is taken as the target and ignored, as in :func:`fit`."""
    from .. import asarray, concat
    from ..autograd import no_grad
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if isinstance(data, np.ndarray):
        data = asarray(data)
    if isinstance(data, Tensor):
        if data.ndim == 0:
            raise ValueError("predict needs inputs with a batch axis, got a 0-d tensor")
        batches: Iterable[Any] = (data[i:i + batch_size] for i in range(0, data.shape[0], batch_size))
    else:
        _check_loader(data, "data", reiterate=False)
        batches = data
    was_training = getattr(model, "training", None)
    _set_mode(model, False)
    outs = []
    try:
        with no_grad():
            for batch in batches:
                if isinstance(batch, (list, tuple)):
                    if not batch:
                        raise TypeError("predict: data yielded an empty batch")
                    inputs = tuple(batch) if len(batch) == 1 else tuple(batch[:-1])
                else:
                    inputs = (batch,)
                outs.append(model(*inputs))
    finally:
        if was_training is not None:
            _set_mode(model, bool(was_training))
    if not outs:
        raise ValueError("predict: data holds no samples")
    return outs[0] if len(outs) == 1 else concat(outs, axis=0)


def fit(model: Any, loss_fn: Callable[[Any, Any], Tensor], optimizer: Any, train_loader: Any, epochs: int = 1, *,
        val_loader: Any = None, metrics: Any = None, scheduler: Any = None, scheduler_interval: str = "epoch",
        clip_grad_norm: Optional[float] = None, progress: bool = True, plot: bool = False,
        file: Optional[TextIO] = None) -> History:
    """Train model for epochs passes over train_loader and return a :class:`History`.

    Each batch ``(inputs..., target)`` runs ``optimizer.zero_grad()``,
    ``loss = loss_fn(model(*inputs), target)``, ``loss.backward()``,
    (``clip_grad_norm_`` of the optimizer's parameters when clip_grad_norm is
    given), ``optimizer.step()``; the model is in ``train()`` mode.  After each
    epoch, val_loader (if given) is evaluated in ``eval()`` mode under
    ``ember.no_grad()``.  The model's mode before the call is restored at the end.

    metrics: a dict ``{name: fn(output, target) -> float}`` or a list of
    names and functions; the names ``"accuracy"`` (recorded as ``acc``),
    ``"mae"`` and ``"mse"`` are built in.  A metric must be a mean over
    samples: an epoch's value is the sample-weighted mean of the batch values
    (so is the loss).  Training metrics are measured on each batch's output
    before the step, as in Keras.

    scheduler: an ``ember.optim.lr_scheduler`` scheduler, stepped after each
    epoch (scheduler_interval="batch": after each batch, as OneCycleLR wants);
    ``ReduceLROnPlateau`` is stepped with the epoch's val_loss (loss without
    validation).

    progress: show a progress display on file (default ``sys.stdout``): in a
    terminal one line per epoch redrawn in place (bar, batches, time, it/s,
    running loss and metrics); elsewhere one plain line per epoch; in Jupyter
    (with file None) one display updated in place.  plot: draw the history
    with matplotlib at the end (a warning, not an error, when matplotlib is
    missing).
    """
    if not isinstance(epochs, int) or isinstance(epochs, bool):
        raise TypeError(f"epochs must be an int, got {type(epochs).__name__}")
    if epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs}")
    if not callable(model):
        raise TypeError(f"model must be callable (an ember.nn.Module), got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable (e.g. ember.nn.CrossEntropyLoss()), got "
                        f"{type(loss_fn).__name__}")
    if not (hasattr(optimizer, "step") and hasattr(optimizer, "zero_grad")):
        raise TypeError(f"optimizer must have step() and zero_grad() (an ember.optim optimizer), got "
                        f"{type(optimizer).__name__}")
    _check_loader(train_loader, "train_loader", reiterate=epochs > 1)
    if val_loader is not None:
        _check_loader(val_loader, "val_loader", reiterate=epochs > 1)
    if scheduler is not None and not hasattr(scheduler, "step"):
        raise TypeError(f"scheduler must have a step() method, got {type(scheduler).__name__}")
    if scheduler_interval not in ("epoch", "batch"):
        raise ValueError(f"scheduler_interval must be 'epoch' or 'batch', got {scheduler_interval!r}")
    if clip_grad_norm is not None and not clip_grad_norm > 0:
        raise ValueError(f"clip_grad_norm must be positive, got {clip_grad_norm!r}")
    fns = _metric_fns(metrics)
    from ..optim.lr_scheduler import ReduceLROnPlateau
    plateau = isinstance(scheduler, ReduceLROnPlateau)
    if plateau and scheduler_interval == "batch":
        raise ValueError("ReduceLROnPlateau steps once per epoch with a loss: use scheduler_interval='epoch'")
    clip: Optional[tuple[list[Tensor], float]] = None
    if clip_grad_norm is not None:
        from .utils import clip_grad_norm_
        clip = ([p for g in optimizer.param_groups for p in g["params"]], float(clip_grad_norm))

    try:
        total: Optional[int] = len(train_loader)
    except TypeError:
        total = None
    history = History({k: [] for k in ["loss", *fns] + (["val_loss", *("val_" + k for k in fns)]
                                                        if val_loader is not None else [])})
    bar = _make_progress(progress, file, epochs, total)
    was_training = getattr(model, "training", None)
    try:
        for epoch in range(1, epochs + 1):
            _set_mode(model, True)
            bar.start_epoch(epoch)
            avg = _Averages(["loss", *fns])
            done = 0
            for batch in train_loader:
                inputs, target = _split_batch(batch, "train_loader")
                optimizer.zero_grad()
                output = model(*inputs)
                loss = loss_fn(output, target)
                value = _scalar_loss(loss)
                loss.backward()
                if clip is not None:
                    clip_grad_norm_(*clip)
                optimizer.step()
                if scheduler is not None and scheduler_interval == "batch":
                    scheduler.step()
                values = {"loss": value}
                values.update(_batch_metrics(fns, output, target))
                avg.add(_count(target), values)
                done += 1
                bar.batch(done, avg.means())
            if avg.n == 0:
                raise ValueError("train_loader yielded no batches")
            logs = avg.means()
            if val_loader is not None:
                _set_mode(model, False)
                val = _evaluate(model, val_loader, loss_fn, fns, "val_loader")
                logs.update({"val_" + k: v for k, v in val.items()})
            if scheduler is not None and scheduler_interval == "epoch":
                if plateau:
                    scheduler.step(logs.get("val_loss", logs["loss"]))
                else:
                    scheduler.step()
            for k, v in logs.items():
                history[k].append(v)
            bar.end_epoch(logs)
    finally:
        bar.close()
        if was_training is not None:
            _set_mode(model, bool(was_training))
    if plot:
        try:
            history.plot()
        except ImportError as e:
            warnings.warn(f"fit(plot=True): {e}; the history is returned without a plot", RuntimeWarning,
                          stacklevel=2)
    return history
