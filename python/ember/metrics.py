"""ember.metrics: regression, classification and clustering scores with
scikit-learn's names, arguments and conventions (including its choices for
edge cases: zero_division, constant targets, ties in ROC curves).

Inputs may be NumPy arrays, ember tensors or lists.  The heavy parts
(sorting for ROC curves, pairwise distances for silhouettes) run in
libember."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

import ember

from .ml._validation import check_array, column_or_1d, to_numpy, type_of_target

__all__ = ["mean_squared_error", "root_mean_squared_error", "mean_absolute_error", "r2_score", "accuracy_score",
           "precision_score", "recall_score", "f1_score", "fbeta_score", "precision_recall_fscore_support",
           "confusion_matrix", "classification_report", "roc_auc_score", "roc_curve", "log_loss",
           "silhouette_score", "silhouette_samples"]


class UndefinedMetricWarning(UserWarning):
    """A metric is ill-defined for the input (e.g. no predicted samples)."""


# ---- regression ----------------------------------------------------------------------------------

def _regression_inputs(y_true: Any, y_pred: Any, sample_weight: Any) -> tuple[np.ndarray, np.ndarray, Any]:
    yt = to_numpy(y_true).astype(np.float64)
    yp = to_numpy(y_pred).astype(np.float64)
    if yt.ndim == 1:
        yt = yt.reshape(-1, 1)
    if yp.ndim == 1:
        yp = yp.reshape(-1, 1)
    if yt.shape[0] != yp.shape[0]:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: [{yt.shape[0]}, "
                         f"{yp.shape[0]}]")
    if yt.shape[1] != yp.shape[1]:
        raise ValueError(f"y_true and y_pred have different number of output ({yt.shape[1]}!={yp.shape[1]})")
    if not (np.isfinite(yt).all() and np.isfinite(yp).all()):
        raise ValueError("Input contains NaN or infinity.")
    w = None if sample_weight is None else to_numpy(sample_weight).astype(np.float64)
    return yt, yp, w


def _average_outputs(per_output: np.ndarray, multioutput: Any) -> Any:
    if isinstance(multioutput, str):
        if multioutput == "raw_values":
            return per_output
        if multioutput == "uniform_average":
            return float(np.mean(per_output))
        raise ValueError(f"multioutput must be 'raw_values', 'uniform_average' or weights, got {multioutput!r}")
    return float(np.average(per_output, weights=np.asarray(multioutput, dtype=np.float64)))


def mean_squared_error(y_true: Any, y_pred: Any, *, sample_weight: Any = None,
                       multioutput: Any = "uniform_average") -> Any:
    """Mean of (y_true - y_pred)^2 (weighted), averaged over outputs."""
    yt, yp, w = _regression_inputs(y_true, y_pred, sample_weight)
    return _average_outputs(np.average((yt - yp) ** 2, axis=0, weights=w), multioutput)


def root_mean_squared_error(y_true: Any, y_pred: Any, *, sample_weight: Any = None,
                            multioutput: Any = "uniform_average") -> Any:
    """Square root of the mean squared error, per output, then averaged."""
    yt, yp, w = _regression_inputs(y_true, y_pred, sample_weight)
    return _average_outputs(np.sqrt(np.average((yt - yp) ** 2, axis=0, weights=w)), multioutput)


def mean_absolute_error(y_true: Any, y_pred: Any, *, sample_weight: Any = None,
                        multioutput: Any = "uniform_average") -> Any:
    """Mean of |y_true - y_pred| (weighted), averaged over outputs."""
    yt, yp, w = _regression_inputs(y_true, y_pred, sample_weight)
    return _average_outputs(np.average(np.abs(yt - yp), axis=0, weights=w), multioutput)


def r2_score(y_true: Any, y_pred: Any, *, sample_weight: Any = None, multioutput: Any = "uniform_average",
             force_finite: bool = True) -> Any:
    """Coefficient of determination 1 - SS_res / SS_tot.  A constant y_true
    gives 1.0 for a perfect prediction and 0.0 otherwise (force_finite)."""
    yt, yp, w = _regression_inputs(y_true, y_pred, sample_weight)
    if yt.shape[0] < 2:
        warnings.warn("R^2 score is not well-defined with less than two samples.", UndefinedMetricWarning)
        return float("nan")
    ww = np.ones(yt.shape[0]) if w is None else w
    num = (ww[:, None] * (yt - yp) ** 2).sum(axis=0)
    mean = np.average(yt, axis=0, weights=ww)
    den = (ww[:, None] * (yt - mean) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1.0 - num / den
    if force_finite:
        r2 = np.where(den == 0, np.where(num == 0, 1.0, 0.0), r2)
    return _average_outputs(r2, multioutput)


# ---- classification ------------------------------------------------------------------------------

def _labels_inputs(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    yt = column_or_1d(y_true)
    yp = column_or_1d(y_pred)
    if len(yt) != len(yp):
        raise ValueError(f"Found input variables with inconsistent numbers of samples: [{len(yt)}, {len(yp)}]")
    for name, y in (("y_true", yt), ("y_pred", yp)):
        if type_of_target(y).startswith("continuous"):
            raise ValueError(f"Classification metrics can't handle a mix of {type_of_target(yt)} and "
                             f"{type_of_target(yp)} targets" if name == "y_pred" else
                             "Classification metrics can't handle continuous targets in y_true")
    return yt, yp


def accuracy_score(y_true: Any, y_pred: Any, *, normalize: bool = True, sample_weight: Any = None) -> float:
    """Fraction (or, with normalize=False, number) of exact matches."""
    yt, yp = _labels_inputs(y_true, y_pred)
    hits = (yt == yp).astype(np.float64)
    if not normalize:
        return float(hits.sum() if sample_weight is None else (hits * to_numpy(sample_weight)).sum())
    return float(np.average(hits, weights=None if sample_weight is None else to_numpy(sample_weight)))


def confusion_matrix(y_true: Any, y_pred: Any, *, labels: Any = None, sample_weight: Any = None,
                     normalize: str | None = None) -> np.ndarray:
    """C[i, j] = number of samples of true class labels[i] predicted as labels[j]
    (labels default: the sorted union of both); normalize 'true', 'pred' or 'all'."""
    yt, yp = _labels_inputs(y_true, y_pred)
    labels = np.unique(np.concatenate([yt, yp])) if labels is None else np.asarray(labels)
    if labels.size == 0:
        raise ValueError("'labels' should contains at least one label.")
    index = {v: i for i, v in enumerate(labels.tolist())}
    ti = np.array([index.get(v, -1) for v in yt.tolist()], dtype=np.int64)
    pi = np.array([index.get(v, -1) for v in yp.tolist()], dtype=np.int64)
    keep = (ti >= 0) & (pi >= 0)
    w = np.ones(len(yt)) if sample_weight is None else to_numpy(sample_weight).astype(np.float64)
    k = len(labels)
    cm = np.bincount(ti[keep] * k + pi[keep], weights=w[keep], minlength=k * k).reshape(k, k)
    if sample_weight is None:
        cm = cm.astype(np.int64)
    if normalize is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            if normalize == "true":
                cm = cm / cm.sum(axis=1, keepdims=True)
            elif normalize == "pred":
                cm = cm / cm.sum(axis=0, keepdims=True)
            elif normalize == "all":
                cm = cm / cm.sum()
            else:
                raise ValueError("normalize must be one of {'true', 'pred', 'all', None}")
        cm = np.nan_to_num(cm)
    return cm


def _prf_counts(yt: np.ndarray, yp: np.ndarray, labels: np.ndarray, w: np.ndarray):
    tp = np.array([w[(yt == c) & (yp == c)].sum() for c in labels])
    pred = np.array([w[yp == c].sum() for c in labels])
    true = np.array([w[yt == c].sum() for c in labels])
    return tp, pred, true


def _divide(num: np.ndarray, den: np.ndarray, zero_division: Any, what: str, warn_for: tuple) -> np.ndarray:
    mask = den == 0
    out = np.divide(num, np.where(mask, 1, den), dtype=np.float64)
    if mask.any():
        zd = np.nan if (isinstance(zero_division, float) and np.isnan(zero_division)) else \
            (0.0 if zero_division == "warn" else float(zero_division))
        out[mask] = zd
        if zero_division == "warn" and what in warn_for:
            warnings.warn(f"{what.capitalize()} is ill-defined and being set to 0.0 in labels with no "
                          f"{'predicted' if what == 'precision' else 'true'} samples. Use `zero_division` "
                          "parameter to control this behavior.", UndefinedMetricWarning, stacklevel=3)
    return out


def precision_recall_fscore_support(y_true: Any, y_pred: Any, *, beta: float = 1.0, labels: Any = None,
                                    pos_label: Any = 1, average: str | None = None,
                                    warn_for: tuple = ("precision", "recall", "f-score"),
                                    sample_weight: Any = None, zero_division: Any = "warn"):
    """(precision, recall, F-beta, support) per label (average=None) or
    averaged: 'binary' (pos_label only), 'micro', 'macro' or 'weighted'."""
    if beta < 0:
        raise ValueError("beta should be >=0 in the F-beta score")
    yt, yp = _labels_inputs(y_true, y_pred)
    present = np.unique(np.concatenate([yt, yp]))
    w = np.ones(len(yt)) if sample_weight is None else to_numpy(sample_weight).astype(np.float64)
    if average == "binary":
        if type_of_target(np.concatenate([yt, yp])) == "multiclass" or len(present) > 2:
            raise ValueError(f"Target is multiclass but average='binary'. Please choose another average setting, "
                             f"one of [None, 'micro', 'macro', 'weighted'].")
        if pos_label not in present.tolist() and len(present) >= 2:
            raise ValueError(f"pos_label={pos_label!r} is not a valid label. It should be one of "
                             f"{present.tolist()}")
        labels = np.asarray([pos_label])
    elif average not in (None, "micro", "macro", "weighted"):
        raise ValueError(f"average has to be one of (None, 'micro', 'macro', 'weighted', 'binary'), got {average!r}")
    labels = present if labels is None else np.asarray(labels)
    tp, pred, true = _prf_counts(yt, yp, labels, w)
    if average == "micro":
        tp, pred, true = np.array([tp.sum()]), np.array([pred.sum()]), np.array([true.sum()])
    precision = _divide(tp, pred, zero_division, "precision", warn_for)
    recall = _divide(tp, true, zero_division, "recall", warn_for)
    b2 = beta * beta
    if np.isposinf(beta):
        f = recall
    else:  # (1 + b2) tp / ((1 + b2) tp + b2 fn + fp), defined whenever a label occurs at all
        f = _divide((1 + b2) * tp, b2 * true + pred, zero_division, "f-score", warn_for)
    if average is None:
        return precision, recall, f, true.astype(np.int64) if sample_weight is None else true
    if average == "weighted":
        if true.sum() == 0:
            zd = 0.0 if zero_division == "warn" else float(zero_division)
            return zd, zd, zd, None
        weights = true
    else:
        weights = None
    return (float(np.average(precision, weights=weights)), float(np.average(recall, weights=weights)),
            float(np.average(f, weights=weights)), None)


def precision_score(y_true: Any, y_pred: Any, *, labels: Any = None, pos_label: Any = 1, average: str | None = "binary",
                    sample_weight: Any = None, zero_division: Any = "warn") -> Any:
    """tp / (tp + fp); see precision_recall_fscore_support for average."""
    return precision_recall_fscore_support(y_true, y_pred, labels=labels, pos_label=pos_label, average=average,
                                           warn_for=("precision",), sample_weight=sample_weight,
                                           zero_division=zero_division)[0]


def recall_score(y_true: Any, y_pred: Any, *, labels: Any = None, pos_label: Any = 1, average: str | None = "binary",
                 sample_weight: Any = None, zero_division: Any = "warn") -> Any:
    """tp / (tp + fn); see precision_recall_fscore_support for average."""
    return precision_recall_fscore_support(y_true, y_pred, labels=labels, pos_label=pos_label, average=average,
                                           warn_for=("recall",), sample_weight=sample_weight,
                                           zero_division=zero_division)[1]


def fbeta_score(y_true: Any, y_pred: Any, *, beta: float, labels: Any = None, pos_label: Any = 1,
                average: str | None = "binary", sample_weight: Any = None, zero_division: Any = "warn") -> Any:
    """(1 + beta^2) P R / (beta^2 P + R)."""
    return precision_recall_fscore_support(y_true, y_pred, beta=beta, labels=labels, pos_label=pos_label,
                                           average=average, warn_for=("f-score",), sample_weight=sample_weight,
                                           zero_division=zero_division)[2]


def f1_score(y_true: Any, y_pred: Any, *, labels: Any = None, pos_label: Any = 1, average: str | None = "binary",
             sample_weight: Any = None, zero_division: Any = "warn") -> Any:
    """Harmonic mean of precision and recall, 2 P R / (P + R)."""
    return fbeta_score(y_true, y_pred, beta=1.0, labels=labels, pos_label=pos_label, average=average,
                       sample_weight=sample_weight, zero_division=zero_division)


def classification_report(y_true: Any, y_pred: Any, *, labels: Any = None, target_names: Any = None,
                          sample_weight: Any = None, digits: int = 2, output_dict: bool = False,
                          zero_division: Any = "warn") -> Any:
    """Text (or dict) table of per-class precision, recall, F1 and support, with
    accuracy and macro/weighted averages, laid out like scikit-learn's."""
    yt, yp = _labels_inputs(y_true, y_pred)
    labels = np.unique(np.concatenate([yt, yp])) if labels is None else np.asarray(labels)
    names = [str(c) for c in labels] if target_names is None else [str(n) for n in target_names]
    if len(names) != len(labels):
        raise ValueError(f"Number of classes, {len(labels)}, does not match size of target_names, {len(names)}. "
                         "Try specifying the labels parameter")
    p, r, f, s = precision_recall_fscore_support(yt, yp, labels=labels, sample_weight=sample_weight,
                                                 zero_division=zero_division)
    rows = {n: {"precision": float(p[i]), "recall": float(r[i]), "f1-score": float(f[i]), "support": float(s[i])}
            for i, n in enumerate(names)}
    total = float(np.sum(s))
    avgs = {}
    micro_is_accuracy = labels is None or set(np.unique(np.concatenate([yt, yp])).tolist()) <= set(labels.tolist())
    if micro_is_accuracy:
        acc = accuracy_score(yt, yp, sample_weight=sample_weight)
        avgs["accuracy"] = acc
    else:
        mp, mr, mf, _ = precision_recall_fscore_support(yt, yp, labels=labels, average="micro",
                                                        sample_weight=sample_weight, zero_division=zero_division)
        avgs["micro avg"] = {"precision": mp, "recall": mr, "f1-score": mf, "support": total}
    for avg in ("macro", "weighted"):
        ap, ar, af, _ = precision_recall_fscore_support(yt, yp, labels=labels, average=avg,
                                                        sample_weight=sample_weight, zero_division=zero_division)
        avgs[f"{avg} avg"] = {"precision": ap, "recall": ar, "f1-score": af, "support": total}
    if output_dict:
        rows.update(avgs)
        return rows
    width = max(len("weighted avg"), *(len(n) for n in names), digits)

    def row(name: str, values: list[str]) -> str:
        return f"{name:>{width}s} " + "".join(f" {v:>9}" for v in values)

    keys = ("precision", "recall", "f1-score")
    lines = [row("", ["precision", "recall", "f1-score", "support"]), ""]
    for n in names:
        lines.append(row(n, [f"{rows[n][k]:.{digits}f}" for k in keys] + [str(int(round(rows[n]["support"])))]))
    lines.append("")
    for key, v in avgs.items():
        if key == "accuracy":
            lines.append(row(key, ["", "", f"{v:.{digits}f}", str(int(round(total)))]))
        else:
            lines.append(row(key, [f"{v[k]:.{digits}f}" for k in keys] + [str(int(round(v["support"])))]))
    return "\n".join(lines) + "\n"


# ---- scores of probabilities ---------------------------------------------------------------------

def _binary_clf_curve(y_true: np.ndarray, y_score: np.ndarray, pos_label: Any, sample_weight: Any):
    """Cumulative (fps, tps, thresholds) at each distinct score, descending.
    libember's stable argsort orders the scores."""
    classes = np.unique(y_true)
    if pos_label is None:
        if not (np.array_equal(classes, [0, 1]) or np.array_equal(classes, [-1, 1]) or
                np.array_equal(classes, [0]) or np.array_equal(classes, [-1]) or np.array_equal(classes, [1])):
            raise ValueError(f"y_true takes value in {set(classes.tolist())} and pos_label is not specified: either "
                             "make y_true take value in {0, 1} or {-1, 1} or pass pos_label explicitly.")
        pos_label = 1
    y = (y_true == pos_label).astype(np.float64)
    w = np.ones(len(y)) if sample_weight is None else to_numpy(sample_weight).astype(np.float64)
    order = np.asarray(ember.argsort(ember.asarray(-y_score.astype(np.float64)), stable=True))
    s, y, w = y_score[order], y[order], w[order]
    distinct = np.where(np.diff(s))[0]
    ends = np.r_[distinct, len(y) - 1]
    tps = np.cumsum(y * w)[ends]
    fps = np.cumsum((1 - y) * w)[ends]
    return fps, tps, s[ends]


def roc_curve(y_true: Any, y_score: Any, *, pos_label: Any = None, sample_weight: Any = None,
              drop_intermediate: bool = True):
    """(fpr, tpr, thresholds) of the receiver operating characteristic; the
    first threshold is +inf (no sample predicted positive)."""
    yt = column_or_1d(y_true)
    ys = column_or_1d(y_score).astype(np.float64)
    if len(yt) != len(ys):
        raise ValueError(f"Found input variables with inconsistent numbers of samples: [{len(yt)}, {len(ys)}]")
    fps, tps, thr = _binary_clf_curve(yt, ys, pos_label, sample_weight)
    if drop_intermediate and len(fps) > 2:
        keep = np.where(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])[0]
        fps, tps, thr = fps[keep], tps[keep], thr[keep]
    tps, fps = np.r_[0, tps], np.r_[0, fps]
    thr = np.r_[np.inf, thr]
    return _roc_rate(fps, "negative", "false"), _roc_rate(tps, "positive", "true"), thr


def _roc_rate(counts: np.ndarray, samples: str, rate: str) -> np.ndarray:
    # cumulative counts over their total; NaN (with scikit-learn's warning) when there are none
    if counts[-1] <= 0:
        warnings.warn(f"No {samples} samples in y_true, {rate} positive value should be meaningless",
                      UndefinedMetricWarning)
        return np.full(counts.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        return counts / counts[-1]


def _binary_auc(y_true: np.ndarray, y_score: np.ndarray, sample_weight: Any, pos_label: Any = None) -> float:
    if len(np.unique(y_true)) != 2:
        raise ValueError("Only one class is present in y_true. ROC AUC score is not defined in that case.")
    fpr, tpr, _ = roc_curve(y_true, y_score, pos_label=pos_label, sample_weight=sample_weight,
                            drop_intermediate=False)
    return float(np.trapezoid(tpr, fpr))


def roc_auc_score(y_true: Any, y_score: Any, *, average: str | None = "macro", sample_weight: Any = None,
                  multi_class: str = "raise", labels: Any = None) -> Any:
    """Area under the ROC curve.  Binary: y_score is the positive class's
    score.  Multiclass (y_score of shape (n, n_classes), rows summing to 1):
    multi_class='ovr' (one-vs-rest, averaged 'macro' or 'weighted') or 'ovo'
    (Hand & Till's pairwise average)."""
    yt = column_or_1d(y_true)
    ys = to_numpy(y_score).astype(np.float64)
    kind = type_of_target(yt)
    if kind == "binary" and (ys.ndim == 1 or ys.shape[1] == 1):
        classes = np.unique(yt)
        return _binary_auc(yt, ys.ravel(), sample_weight, pos_label=classes[-1] if len(classes) == 2 else None)
    if kind == "binary" and ys.ndim == 2 and ys.shape[1] == 2:
        classes = np.unique(yt)
        return _binary_auc(yt, ys[:, 1], sample_weight, pos_label=classes[-1])
    if kind != "multiclass" and not (kind == "binary" and ys.ndim == 2):
        raise ValueError(f"{kind} format is not supported")
    if multi_class == "raise":
        raise ValueError("multi_class must be in ('ovo', 'ovr')")
    if not np.allclose(1, ys.sum(axis=1)):
        raise ValueError("Target scores need to be probabilities for multiclass roc_auc, i.e. they should sum up "
                         "to 1.0 over classes")
    classes = np.unique(yt) if labels is None else np.asarray(labels)
    if ys.shape[1] != len(classes):
        raise ValueError(f"Number of classes in y_true not equal to the number of columns in 'y_score'")
    if multi_class == "ovr":
        aucs = np.array([_binary_auc((yt == c).astype(int), ys[:, i], sample_weight, pos_label=1)
                         for i, c in enumerate(classes)])
        if average is None:
            return aucs
        if average == "weighted":
            return float(np.average(aucs, weights=[(yt == c).sum() for c in classes]))
        return float(aucs.mean())
    if multi_class == "ovo":
        if sample_weight is not None:
            raise ValueError("sample_weight is not supported for multiclass one-vs-one ROC AUC")
        scores = []
        weights = []
        for a in range(len(classes)):
            for b in range(a + 1, len(classes)):
                m = (yt == classes[a]) | (yt == classes[b])
                ab = _binary_auc((yt[m] == classes[a]).astype(int), ys[m, a], None, pos_label=1)
                ba = _binary_auc((yt[m] == classes[b]).astype(int), ys[m, b], None, pos_label=1)
                scores.append((ab + ba) / 2)
                weights.append(m.mean())
        return float(np.average(scores, weights=weights if average == "weighted" else None))
    raise ValueError(f"multi_class='{multi_class}' is not supported; use 'ovr' or 'ovo'")


def log_loss(y_true: Any, y_pred: Any, *, normalize: bool = True, sample_weight: Any = None,
             labels: Any = None) -> float:
    """Cross-entropy -sum_k y_k log p_k of predicted probabilities (clipped to
    [eps, 1 - eps] of their dtype), averaged over samples (normalize=True)."""
    yt = column_or_1d(y_true)
    yp = to_numpy(y_pred).astype(np.float64)
    classes = np.unique(yt) if labels is None else np.asarray(labels)
    if len(classes) < 2 and labels is None:
        raise ValueError(f"y_true contains only one label ({classes[0]!r}). Please provide the true labels "
                         "explicitly through the labels argument.")
    if yp.ndim == 1:
        yp = np.column_stack([1 - yp, yp])
    if yp.shape[1] != len(classes):
        raise ValueError(f"y_true and y_pred contain different number of classes {len(classes)}, {yp.shape[1]}. "
                         f"Please provide the true labels explicitly through the labels argument. Classes found in "
                         f"y_true: {classes.tolist()}")
    if len(yt) != len(yp):
        raise ValueError(f"Found input variables with inconsistent numbers of samples: [{len(yt)}, {len(yp)}]")
    eps = np.finfo(yp.dtype).eps
    yp = np.clip(yp, eps, 1 - eps)
    idx = np.searchsorted(classes, yt)
    if (idx >= len(classes)).any() or (classes[np.minimum(idx, len(classes) - 1)] != yt).any():
        raise ValueError("y_true contains values not listed in labels")
    loss = -np.log(yp[np.arange(len(yt)), idx] / yp.sum(axis=1))
    if not normalize:
        return float(np.sum(loss if sample_weight is None else loss * to_numpy(sample_weight)))
    return float(np.average(loss, weights=None if sample_weight is None else to_numpy(sample_weight)))


# ---- clustering ----------------------------------------------------------------------------------

def silhouette_samples(X: Any, labels: Any, *, metric: str = "euclidean") -> np.ndarray:
    """Silhouette of each sample: (b - a) / max(a, b), a = mean distance to its
    own cluster, b = smallest mean distance to another cluster (0 for
    singleton clusters).  Pairwise Euclidean distances come from one libember
    matmul: |x|^2 + |y|^2 - 2 x.y."""
    if metric != "euclidean":
        raise ValueError(f"metric={metric!r} is not supported by ember; only 'euclidean'")
    Xa = check_array(X, dtype=np.float64)
    lab = column_or_1d(labels)
    if len(lab) != len(Xa):
        raise ValueError(f"Found input variables with inconsistent numbers of samples: [{len(Xa)}, {len(lab)}]")
    classes, idx = np.unique(lab, return_inverse=True)
    k = len(classes)
    if not 2 <= k <= len(Xa) - 1:
        raise ValueError(f"Number of labels is {k}. Valid values are 2 to n_samples - 1 (inclusive)")
    Xt = ember.asarray(Xa)
    sq = ember.sum(Xt * Xt, axis=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (Xt @ Xt.T)
    D = np.sqrt(np.maximum(np.asarray(d2), 0.0))
    np.fill_diagonal(D, 0.0)
    onehot = np.zeros((len(Xa), k))
    onehot[np.arange(len(Xa)), idx] = 1.0
    sums = np.asarray(ember.asarray(D) @ ember.asarray(onehot))  # distance sums to each cluster
    counts = onehot.sum(axis=0)
    own = counts[idx] - 1
    a = np.where(own > 0, sums[np.arange(len(Xa)), idx] / np.maximum(own, 1), 0.0)
    means = sums / counts
    means[np.arange(len(Xa)), idx] = np.inf
    b = means.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (b - a) / np.maximum(a, b)
    return np.where(own > 0, np.nan_to_num(s), 0.0)


def silhouette_score(X: Any, labels: Any, *, metric: str = "euclidean", sample_size: int | None = None,
                     random_state: Any = None) -> float:
    """Mean silhouette over the samples (or a random subset of sample_size)."""
    if sample_size is not None:
        from .ml._validation import seed_from

        Xa = check_array(X)
        lab = column_or_1d(labels)
        idx = np.asarray(ember.Generator(seed_from(random_state)).permutation(len(Xa)))[:sample_size]
        X, labels = Xa[idx], lab[idx]
    return float(np.mean(silhouette_samples(X, labels, metric=metric)))
