"""ember.nn.fit / evaluate / predict / History: the numbers are a hand-written
loop's to the bit, the progress display in its three forms (plain lines when
the output is not a terminal, a redrawn line in a terminal, one display handle
in Jupyter), the plot, and the argument errors."""
import io
import re
import sys
import types

import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
from ember.data import DataLoader, TensorDataset
from ember.optim import lr_scheduler

N_TRAIN, N_VAL = 200, 90


def _data():
    X, y = ember.datasets.load_digits(return_X_y=True)
    Xn = X.numpy()
    Xn = ((Xn - Xn.mean()) / Xn.std()).astype(np.float32)
    Xtr, ytr = ember.asarray(Xn[:N_TRAIN]), ember.asarray(y.numpy()[:N_TRAIN])
    Xva, yva = ember.asarray(Xn[N_TRAIN:N_TRAIN + N_VAL]), ember.asarray(y.numpy()[N_TRAIN:N_TRAIN + N_VAL])
    return Xtr, ytr, Xva, yva


class Spy(nn.Module):
    """Records (training, grad enabled) at each forward, so the tests see the modes fit uses."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, x):
        self.calls.append((self.training, ember.is_grad_enabled()))
        return x


def _model(seed):
    ember.random.manual_seed(seed)
    # Dropout draws from the default generator in train mode and is the identity in eval mode, so the
    # numbers below only agree if fit uses the same modes and the same random draws as the hand loop.
    return nn.Sequential(Spy(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 10))


def _params(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def _scheduler(kind, opt, epochs, steps):
    if kind == "step":
        return lr_scheduler.StepLR(opt, step_size=1, gamma=0.7), "epoch"
    if kind == "onecycle":
        return lr_scheduler.OneCycleLR(opt, max_lr=0.05, epochs=epochs, steps_per_epoch=steps), "batch"
    if kind == "plateau":
        return lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0, threshold=0.5), "epoch"
    return None, "epoch"


def _hand_loop(model, loss_fn, opt, loader, val_loader, epochs, sched, interval, clip):
    """The loop users write: what fit must reproduce exactly."""
    hist = {"loss": [], "acc": [], "val_loss": [], "val_acc": []}
    params = [p for g in opt.param_groups for p in g["params"]]
    for _ in range(epochs):
        model.train()
        tot = {"loss": 0.0, "acc": 0.0}
        n = 0
        for xb, yb in loader:
            opt.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(params, clip)
            opt.step()
            if sched is not None and interval == "batch":
                sched.step()
            b = yb.shape[0]
            tot["loss"] += float(loss) * b
            tot["acc"] += float(np.mean(out.detach().numpy().argmax(1) == yb.numpy())) * b
            n += b
        hist["loss"].append(tot["loss"] / n)
        hist["acc"].append(tot["acc"] / n)
        model.eval()
        vt = {"loss": 0.0, "acc": 0.0}
        vn = 0
        with ember.no_grad():
            for xb, yb in val_loader:
                out = model(xb)
                b = yb.shape[0]
                vt["loss"] += float(loss_fn(out, yb)) * b
                vt["acc"] += float(np.mean(out.numpy().argmax(1) == yb.numpy())) * b
                vn += b
        hist["val_loss"].append(vt["loss"] / vn)
        hist["val_acc"].append(vt["acc"] / vn)
        if sched is not None and interval == "epoch":
            if isinstance(sched, lr_scheduler.ReduceLROnPlateau):
                sched.step(hist["val_loss"][-1])
            else:
                sched.step()
    return hist


@pytest.mark.parametrize("sched_kind, clip", [(None, None), ("step", None), ("onecycle", 1.0), ("plateau", None)])
def test_history_equals_hand_written_loop(sched_kind, clip):
    Xtr, ytr, Xva, yva = _data()
    epochs = 4
    runs = []
    for use_fit in (False, True):
        model = _model(seed=3)
        opt = ember.optim.Adam(model.parameters(), lr=0.01)
        loader = DataLoader(TensorDataset(Xtr, ytr), batch_size=32, shuffle=True, generator=ember.random.Generator(7))
        val_loader = DataLoader(TensorDataset(Xva, yva), batch_size=40)
        sched, interval = _scheduler(sched_kind, opt, epochs, len(loader))
        loss_fn = nn.CrossEntropyLoss()
        if use_fit:
            model.eval()  # fit switches to train() for training and restores this mode at the end
            hist = nn.fit(model, loss_fn, opt, loader, epochs, val_loader=val_loader, metrics=["accuracy"],
                          scheduler=sched, scheduler_interval=interval, clip_grad_norm=clip, progress=False)
            assert isinstance(hist, nn.History) and not model.training
        else:
            hist = _hand_loop(model, loss_fn, opt, loader, val_loader, epochs, sched, interval, clip)
        runs.append((hist, _params(model), [g["lr"] for g in opt.param_groups], model[0].calls))
    (h_ref, p_ref, lr_ref, calls_ref), (h_fit, p_fit, lr_fit, calls_fit) = runs
    assert dict(h_fit) == h_ref  # every epoch's loss and metric, to the bit
    assert h_fit.epochs == epochs and list(h_fit) == ["loss", "acc", "val_loss", "val_acc"]
    assert p_fit.keys() == p_ref.keys()
    for k in p_ref:
        assert np.array_equal(p_fit[k], p_ref[k]), k
    assert lr_fit == lr_ref
    if sched_kind is not None:
        assert lr_fit[0] != 0.01  # the scheduler was stepped
    # Training forwards ran in train mode with gradients, validation in eval mode under no_grad.
    n_batches = -(-N_TRAIN // 32)
    n_val = -(-N_VAL // 40)
    assert calls_fit == calls_ref == ([(True, True)] * n_batches + [(False, False)] * n_val) * epochs


def test_history_values_are_means_over_samples():
    """Independent of the loop's code: with one validation batch, val_loss is the loss of the whole
    validation set after training; with a per-sample metric the epoch value is the fraction over all
    samples."""
    Xtr, ytr, Xva, yva = _data()
    model = _model(seed=0)
    opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    h = nn.fit(model, nn.CrossEntropyLoss(), opt, DataLoader(TensorDataset(Xtr, ytr), batch_size=64), 3,
               val_loader=[(Xva, yva)], metrics={"acc": "accuracy", "hits": lambda o, t: (o.argmax(1) == t).sum()},
               progress=False)
    model.eval()
    with ember.no_grad():
        logits = model(Xva).numpy()
    ref = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(yva.numpy())).item()
    assert h["val_loss"][-1] == pytest.approx(ref, rel=1e-6)
    assert h["val_acc"][-1] == np.mean(logits.argmax(1) == yva.numpy())
    # "hits" is a count, not a mean: with one validation batch the recorded value is the count itself.
    assert h["val_hits"][-1] == pytest.approx(np.sum(logits.argmax(1) == yva.numpy()), rel=1e-12)
    assert 0 < h["loss"][-1] < h["loss"][0]


def test_evaluate_and_predict_match_references():
    Xtr, ytr, Xva, yva = _data()
    model = _model(seed=1)
    nn.fit(model, nn.CrossEntropyLoss(), ember.optim.Adam(model.parameters(), lr=0.01),
           DataLoader(TensorDataset(Xtr, ytr), batch_size=32), 2, progress=False)
    model.train()
    full = nn.predict(model, Xva, batch_size=1000)
    assert model.training  # mode restored
    assert not full.requires_grad
    model.eval()
    with ember.no_grad():
        direct = model(Xva).numpy()
    assert np.array_equal(full.numpy(), direct)
    parts = nn.predict(model, Xva, batch_size=16)  # 6 batches, concatenated
    np.testing.assert_allclose(parts.numpy(), direct, rtol=1e-5, atol=1e-6)
    from_loader = nn.predict(model, DataLoader(TensorDataset(Xva, yva), batch_size=1000))  # target ignored
    assert np.array_equal(from_loader.numpy(), direct)
    assert np.array_equal(nn.predict(model, Xva.numpy(), batch_size=1000).numpy(), direct)

    res = nn.evaluate(model, DataLoader(TensorDataset(Xva, yva), batch_size=1000), nn.CrossEntropyLoss(),
                      metrics=["accuracy"])
    assert res["acc"] == np.mean(direct.argmax(1) == yva.numpy())
    ref = torch.nn.functional.cross_entropy(torch.from_numpy(direct), torch.from_numpy(yva.numpy())).item()
    assert res["loss"] == pytest.approx(ref, rel=1e-6)
    assert set(res) == {"loss", "acc"}
    mae = nn.evaluate(model, [(Xva, ember.zeros((N_VAL, 10)))], metrics=["mae", "mse"])
    assert mae["mae"] == pytest.approx(np.abs(direct).mean(), rel=1e-6)
    assert mae["mse"] == pytest.approx(np.square(direct.astype(np.float64)).mean(), rel=1e-6)


# ---- progress display -----------------------------------------------------------------------------
def _fit_small(epochs=3, **kw):
    Xtr, ytr, Xva, yva = _data()
    model = _model(seed=2)
    return nn.fit(model, nn.CrossEntropyLoss(), ember.optim.Adam(model.parameters(), lr=0.01),
                  DataLoader(TensorDataset(Xtr, ytr), batch_size=32, shuffle=True, generator=ember.random.Generator(0)),
                  epochs, val_loader=DataLoader(TensorDataset(Xva, yva), batch_size=45), metrics=["accuracy"], **kw)


def test_progress_plain_lines_when_not_a_terminal():
    buf = io.StringIO()
    h = _fit_small(file=buf)
    out = buf.getvalue()
    assert "\r" not in out and "\x1b" not in out
    lines = out.splitlines()
    assert len(lines) == 3 and out.endswith("\n")
    for i, line in enumerate(lines):
        assert line.startswith(f"Epoch {i + 1}/3 7/7 ")
        assert re.search(r" \d+(\.\d+)?m?s \d+\.\d it/s ", line), line
        for key in ("loss", "acc", "val_loss", "val_acc"):
            m = re.search(rf"(?<![a-z_]){key}=([0-9.]+)", line)
            assert m, (key, line)
            assert m.group(1) == f"{h[key][i]:.4f}"
    assert f"loss={h['loss'][-1]:.4f}" in lines[-1]


def test_progress_off_writes_nothing(capsys):
    buf = io.StringIO()
    _fit_small(epochs=1, file=buf, progress=False)
    _fit_small(epochs=1, progress=False)
    assert buf.getvalue() == "" and capsys.readouterr().out == ""


def test_progress_defaults_to_stdout(capsys):
    h = _fit_small(epochs=2)
    out = capsys.readouterr().out
    assert out.count("\n") == 2 and f"val_acc={h['val_acc'][-1]:.4f}" in out


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_terminal_redraws_one_line_per_epoch(monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    buf = _Tty()
    h = _fit_small(file=buf)
    out = buf.getvalue()
    finished = out.split("\n")
    assert finished[-1] == "" and len(finished) == 4  # one kept line per epoch
    for i, chunk in enumerate(finished[:3]):
        frames = chunk.split("\r")
        assert frames[0] == "" and len(frames) >= 3  # first batch, last batch, final line at least
        live, final = frames[1:-1], frames[-1]
        assert all(len(f) <= 59 for f in live)  # cut to the terminal width so '\r' returns to its start
        assert live[0].startswith(f"Epoch {i + 1}/3 [==>" + " " * 17 + "] 1/7 ")  # 20 * 1 // 7 = 2 filled
        assert final.startswith(f"Epoch {i + 1}/3 [" + "=" * 20 + "] 7/7 ")
        assert f"val_loss={h['val_loss'][i]:.4f}" in final and f"loss={h['loss'][i]:.4f}" in final


def test_progress_terminal_interrupted_epoch_ends_its_line():
    buf = _Tty()
    Xtr, ytr, _, _ = _data()
    model = nn.Sequential(nn.Linear(64, 10))

    def bad_loader():
        yield Xtr[:8], ytr[:8]
        raise KeyboardInterrupt

    class Loader:
        def __iter__(self):
            return bad_loader()

    with pytest.raises(KeyboardInterrupt):
        nn.fit(model, nn.CrossEntropyLoss(), ember.optim.SGD(model.parameters(), lr=0.1), Loader(), 2, file=buf)
    assert buf.getvalue().startswith("\rEpoch 1/2 1 batches") and buf.getvalue().endswith("\n")


def _fake_ipython(monkeypatch, kernel=True):
    events = []

    class Handle:
        def update(self, obj):
            events.append(("update", repr(obj), obj._repr_html_()))

    def display(obj, display_id=False):
        events.append(("display", repr(obj), obj._repr_html_()))
        assert display_id is True
        return Handle()

    shell = types.SimpleNamespace(kernel=object()) if kernel else types.SimpleNamespace()
    ipy = types.ModuleType("IPython")
    ipy.get_ipython = lambda: shell
    disp = types.ModuleType("IPython.display")
    disp.display = display
    ipy.display = disp
    monkeypatch.setitem(sys.modules, "IPython", ipy)
    monkeypatch.setitem(sys.modules, "IPython.display", disp)
    return events


def test_progress_notebook_updates_one_display(monkeypatch, capsys):
    events = _fake_ipython(monkeypatch)
    h = _fit_small()
    assert capsys.readouterr().out == ""  # nothing printed: everything goes to the display
    assert [e[0] for e in events].count("display") == 1 and events[0][0] == "display"
    updates = [e for e in events if e[0] == "update"]
    assert len(updates) >= 3 * 2
    final_text, final_html = updates[-1][1], updates[-1][2]
    lines = final_text.splitlines()
    assert len(lines) == 3
    for i, line in enumerate(lines):
        assert line.startswith(f"Epoch {i + 1}/3 7/7 ") and f"val_acc={h['val_acc'][i]:.4f}" in line
    assert "<pre" in final_html and "Epoch 3/3" in final_html
    assert any('<progress value="' in e[2] and 'max="7"' in e[2] for e in updates)  # live bar mid-epoch


def test_progress_terminal_ipython_is_not_a_notebook(monkeypatch):
    events = _fake_ipython(monkeypatch, kernel=False)  # terminal IPython: no kernel attribute
    buf = io.StringIO()
    _fit_small(epochs=1, file=buf)
    _fit_small(epochs=1)
    assert events == [] and buf.getvalue().count("\n") == 1


# ---- plot -----------------------------------------------------------------------------------------
def test_plot_draws_the_history():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    h = _fit_small(epochs=4, progress=False)
    fig = h.plot()
    try:
        axes = fig.axes
        assert [ax.get_title() for ax in axes] == ["loss", "acc"]
        for ax, key in zip(axes, ["loss", "acc"]):
            lines = {ln.get_label(): ln for ln in ax.get_lines()}
            assert set(lines) == {"train", "validation"}
            for label, k in (("train", key), ("validation", "val_" + key)):
                assert list(lines[label].get_xdata()) == [1, 2, 3, 4]
                assert list(lines[label].get_ydata()) == h[k]
        sub = h.plot(keys=["acc"])
        assert [ax.get_title() for ax in sub.axes] == ["acc"]
        plt.close(sub)
        with pytest.raises(ValueError, match="no values recorded for \\['f1'\\]"):
            h.plot(keys=["f1"])
    finally:
        plt.close(fig)
    before = set(plt.get_fignums())
    _fit_small(epochs=1, progress=False, plot=True)
    new = set(plt.get_fignums()) - before
    assert len(new) == 1
    plt.close(new.pop())


def test_plot_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib...` raise ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    h = nn.History(loss=[1.0, 0.5])
    with pytest.raises(ImportError, match="matplotlib"):
        h.plot()
    with pytest.warns(RuntimeWarning, match="matplotlib"):
        h2 = _fit_small(epochs=1, progress=False, plot=True)
    assert h2.epochs == 1


# ---- errors ---------------------------------------------------------------------------------------
def test_bad_arguments():
    Xtr, ytr, _, _ = _data()
    model = nn.Sequential(nn.Linear(64, 10))
    opt = ember.optim.SGD(model.parameters(), lr=0.1)
    loss = nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(Xtr, ytr), batch_size=50)
    with pytest.raises(ValueError, match="epochs must be a positive integer, got 0"):
        nn.fit(model, loss, opt, loader, epochs=0)
    with pytest.raises(TypeError, match="epochs must be an int"):
        nn.fit(model, loss, opt, loader, epochs=2.5)
    with pytest.raises(TypeError, match="epochs must be an int"):
        nn.fit(model, loss, opt, loader, epochs=True)
    with pytest.raises(TypeError, match="train_loader must yield batches.*got a Tensor.*DataLoader"):
        nn.fit(model, loss, opt, Xtr, epochs=1)
    with pytest.raises(TypeError, match="train_loader must yield batches.*ndarray"):
        nn.fit(model, loss, opt, Xtr.numpy(), epochs=1)
    with pytest.raises(TypeError, match="train_loader must be an iterable.*got int"):
        nn.fit(model, loss, opt, 5, epochs=1)
    with pytest.raises(TypeError, match="one-shot iterator"):
        nn.fit(model, loss, opt, iter(loader), epochs=2)
    with pytest.raises(TypeError, match="val_loader must be an iterable"):
        nn.fit(model, loss, opt, loader, epochs=1, val_loader=3.0)
    with pytest.raises(TypeError, match="at least two elements, got a list of 1 element"):
        nn.fit(model, loss, opt, DataLoader(TensorDataset(Xtr), batch_size=50), epochs=1, progress=False)
    with pytest.raises(ValueError, match="train_loader yielded no batches"):
        nn.fit(model, loss, opt, [], epochs=1, progress=False)
    with pytest.raises(ValueError, match="must return a scalar.*shape \\(50,\\).*reduction"):
        nn.fit(model, nn.CrossEntropyLoss(reduction="none"), opt, loader, epochs=1, progress=False)
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        nn.fit(model, loss, opt, loader, epochs=1, metrics=["f1"])
    with pytest.raises(ValueError, match="reserved"):
        nn.fit(model, loss, opt, loader, epochs=1, metrics={"val_acc": "accuracy"})
    with pytest.raises(TypeError, match="optimizer must have step"):
        nn.fit(model, loss, object(), loader, epochs=1)
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        nn.fit(model, "cross_entropy", opt, loader, epochs=1)
    with pytest.raises(ValueError, match="scheduler_interval must be 'epoch' or 'batch'"):
        nn.fit(model, loss, opt, loader, epochs=1, scheduler_interval="step")
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        nn.fit(model, loss, opt, loader, epochs=1, scheduler=lr_scheduler.ReduceLROnPlateau(opt),
               scheduler_interval="batch")
    with pytest.raises(ValueError, match="clip_grad_norm must be positive"):
        nn.fit(model, loss, opt, loader, epochs=1, clip_grad_norm=0)
    with pytest.raises(ValueError, match="evaluate needs a loss_fn or at least one metric"):
        nn.evaluate(model, loader)
    with pytest.raises(ValueError, match="loader yielded no batches"):
        nn.evaluate(model, [], loss)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        nn.predict(model, Xtr, batch_size=0)
    reg = nn.Sequential(nn.Linear(64, 1))
    with pytest.raises(ValueError, match="accuracy needs class scores of shape \\(N, C, ...\\) with C >= 2"):
        nn.evaluate(reg, [(Xtr, ytr)], metrics=["accuracy"])
    with pytest.raises(ValueError, match="accuracy: target of shape \\(3,\\) does not match"):
        nn.evaluate(model, [(Xtr, ytr[:3])], metrics=["accuracy"])
