"""Input validation shared by ember's estimators.

Inputs may be NumPy arrays, ember tensors, nested lists or pandas DataFrames
(pandas is never imported here: a DataFrame is recognised by its attributes).
Validation turns them into C-contiguous NumPy arrays, which the C core reads
without a copy (``ember.asarray`` shares their memory), and raises the errors
a scikit-learn user knows, with the same wording, so messages and
``sklearn.utils.estimator_checks`` agree.

Outputs follow the input: an estimator given ember tensors returns ember
tensors, and NumPy arrays otherwise (``wrap_like``).
"""
from __future__ import annotations

import numbers
import os
import warnings
from typing import Any

import numpy as np

from ._base import DataConversionWarning

FLOAT_DTYPES = (np.float64, np.float32)


def _is_tensor(x: Any) -> bool:
    from .. import Tensor

    return isinstance(x, Tensor)


def is_dataframe(x: Any) -> bool:
    """True for a pandas DataFrame (without importing pandas)."""
    return type(x).__module__.startswith("pandas") and hasattr(x, "columns") and hasattr(x, "iloc")


def to_numpy(x: Any) -> np.ndarray:
    """x as a NumPy array, sharing memory where it can."""
    if isinstance(x, np.ndarray):
        return x
    if is_dataframe(x) or type(x).__module__.startswith("pandas"):
        return x.to_numpy()
    return np.asarray(x)


def wrap_like(result: Any, like: Any) -> Any:
    """result (a NumPy array) as an ember tensor if `like` was one, else as is."""
    if _is_tensor(like) and isinstance(result, np.ndarray) and result.dtype != object and \
            result.dtype.kind in "biuf":
        from .. import asarray

        return asarray(np.ascontiguousarray(result))
    return result


def feature_names_of(X: Any) -> np.ndarray | None:
    """The column names of a DataFrame whose column names are all strings."""
    if not is_dataframe(X):
        return None
    names = list(X.columns)
    kinds = {type(n) is str for n in names}
    if kinds == {True}:
        return np.asarray(names, dtype=object)
    if len(kinds) > 1:
        raise TypeError("Feature names are only supported if all input features have string names, but your "
                        "input has mixed types of names; convert them all to str.")
    return None


def _shape_text(a: np.ndarray) -> str:
    return str(a.shape)


def reject_sparse(X: Any, estimator: Any = None) -> None:
    """TypeError for SciPy sparse input (ember works on dense data)."""
    if type(X).__module__.startswith("scipy.sparse"):
        est = f" to {type(estimator).__name__}" if estimator is not None else ""
        raise TypeError(f"Sparse data was passed{est}, but dense data is required. Use '.toarray()' to convert "
                        "to a dense numpy array.")


def check_array(X: Any, *, dtype: Any = FLOAT_DTYPES, ensure_2d: bool = True, allow_nd: bool = False,
                allow_nan: bool = False, allow_inf: bool = False, ensure_min_samples: int = 1,
                ensure_min_features: int = 1, input_name: str = "X", estimator: Any = None,
                copy: bool = False) -> np.ndarray:
    """X as a C-contiguous NumPy array after scikit-learn's checks.

    dtype: a dtype, None (keep), or a tuple of accepted float dtypes (keep X's
    if it is one of them, else convert to the first)."""
    est = f" by {type(estimator).__name__}" if estimator is not None else ""
    reject_sparse(X, estimator)
    a = to_numpy(X) if not isinstance(X, (list, tuple)) else np.asarray(X)
    if np.iscomplexobj(a):
        raise ValueError("Complex data not supported\n" + repr(a)[:200])
    if isinstance(dtype, tuple):
        target = a.dtype if a.dtype in dtype else dtype[0]
    else:
        target = dtype
    if target is not None and a.dtype != target:
        if a.dtype.kind in "OUS" and np.dtype(target).kind == "f":
            a = a.astype(target)  # TypeError/ValueError from NumPy name the bad value
        else:
            a = a.astype(target)
    if ensure_2d:
        if a.ndim == 0:
            raise ValueError(f"Expected 2D array, got scalar array instead:\narray={a!r}.\nReshape your data either "
                             "using array.reshape(-1, 1) if your data has a single feature or array.reshape(1, -1) "
                             "if it contains a single sample.")
        if a.ndim == 1:
            raise ValueError(f"Expected 2D array, got 1D array instead:\narray={np.array2string(a, threshold=20)}.\n"
                             "Reshape your data either using array.reshape(-1, 1) if your data has a single feature "
                             "or array.reshape(1, -1) if it contains a single sample.")
        if a.ndim > 2 and not allow_nd:
            raise ValueError(f"Found array with dim {a.ndim}{est}. Expected <= 2.")
    if a.dtype.kind in "fc":
        _check_finite(a, allow_nan, allow_inf, input_name, estimator)
    if ensure_min_samples > 0 and a.ndim >= 1:
        n = a.shape[0]
        if n < ensure_min_samples:
            raise ValueError(f"Found array with {n} sample(s) (shape={a.shape}) while a minimum of "
                             f"{ensure_min_samples} is required{est}.")
    if ensure_min_features > 0 and a.ndim == 2 and a.shape[1] < ensure_min_features:
        raise ValueError(f"Found array with {a.shape[1]} feature(s) (shape={a.shape}) while a minimum of "
                         f"{ensure_min_features} is required{est}.")
    if copy and np.shares_memory(a, X if isinstance(X, np.ndarray) else a):
        a = a.copy()
    return np.ascontiguousarray(a)


def _check_finite(a: np.ndarray, allow_nan: bool, allow_inf: bool, name: str, estimator: Any) -> None:
    if allow_nan and allow_inf:
        return
    # one pass in the common (finite) case
    if np.isfinite(a).all():
        return
    if not allow_nan and np.isnan(a).any():
        hint = ""
        if estimator is not None:
            hint = (f"\n{type(estimator).__name__} does not accept missing values encoded as NaN natively. "
                    "Impute them first, e.g. with ember.preprocessing.SimpleImputer in a Pipeline.")
        raise ValueError(f"Input {name} contains NaN.{hint}")
    if not allow_inf and np.isinf(a).any():
        raise ValueError(f"Input {name} contains infinity or a value too large for {a.dtype!r}.")


def check_result_finite(out: np.ndarray, X: np.ndarray, estimator: Any, name: str = "X") -> None:
    """For predict paths that skip the finiteness check of X: a NaN or inf in
    a row of X makes that row's result NaN or inf, so X is scanned (and the
    usual error raised) only when the result is not finite.  A finite X whose
    result overflows passes, as it would have."""
    if out.dtype.kind == "f" and not np.isfinite(out).all() and X.dtype.kind in "fc":
        _check_finite(X, False, False, name, estimator)


def column_or_1d(y: Any, *, warn: bool = False, dtype: Any = None) -> np.ndarray:
    """y as a 1-D array; a column vector is raveled (with a DataConversionWarning
    when warn=True), anything else 2-D is an error."""
    a = to_numpy(y)
    if dtype is not None:
        a = a.astype(dtype)
    if a.ndim == 1:
        return np.ascontiguousarray(a)
    if a.ndim == 2 and a.shape[1] == 1:
        if warn:
            warnings.warn("A column-vector y was passed when a 1d array was expected. Please change the shape of y "
                          "to (n_samples, ), for example using ravel().", DataConversionWarning, stacklevel=3)
        return np.ascontiguousarray(a.ravel())
    raise ValueError(f"y should be a 1d array, got an array of shape {a.shape} instead.")


def validate_data(est: Any, X: Any, y: Any = "no_validation", *, reset: bool = True, multi_output: bool = False,
                  y_numeric: bool = False, dtype: Any = FLOAT_DTYPES, **check_kw: Any):
    """Checks X (and y) for estimator `est` and records or checks the number
    and names of the features: ``reset=True`` (fit) stores n_features_in_ and
    feature_names_in_, ``reset=False`` (predict, transform) checks them.

    y: "no_validation" (the default) checks X only; anything else, None
    included, is a required target.  Returns X, or (X, y) for a target."""
    _check_feature_names(est, X, reset)
    allow_nan = check_kw.pop("allow_nan", getattr(est, "_allow_nan", False))
    Xa = check_array(X, dtype=dtype, allow_nan=allow_nan, estimator=est, **check_kw)
    if Xa.ndim == 2:
        est._check_n_features(Xa.shape[1], reset)
    if isinstance(y, str) and y == "no_validation":
        return Xa
    if y is None:
        raise ValueError(f"{type(est).__name__} requires y to be passed, but the target y is None.")
    if multi_output:
        ya = check_array(y, dtype=None, ensure_2d=False, input_name="y", estimator=est)
    else:
        ya = column_or_1d(y, warn=True)
        if ya.dtype.kind in "fc":
            _check_finite(ya, False, False, "y", None)
    if y_numeric and ya.dtype.kind == "O":
        ya = ya.astype(np.float64)
    if len(ya) != len(Xa):
        raise ValueError(f"Found input variables with inconsistent numbers of samples: [{len(Xa)}, {len(ya)}]")
    return Xa, ya


def _check_feature_names(est: Any, X: Any, reset: bool) -> None:
    names = feature_names_of(X)
    if reset:
        if names is not None:
            est.feature_names_in_ = names
        elif hasattr(est, "feature_names_in_"):
            del est.feature_names_in_
        return
    fitted = getattr(est, "feature_names_in_", None)
    cls = type(est).__name__
    if fitted is None and names is None:
        return
    if names is not None and fitted is None:
        warnings.warn(f"X has feature names, but {cls} was fitted without feature names", UserWarning,
                      stacklevel=3)
        return
    if names is None and fitted is not None:
        warnings.warn(f"X does not have valid feature names, but {cls} was fitted with feature names",
                      UserWarning, stacklevel=3)
        return
    if len(names) != len(fitted) or (names != fitted).any():
        unseen = sorted(set(names) - set(fitted))
        missing = sorted(set(fitted) - set(names))
        msg = "The feature names should match those that were passed during fit.\n"
        if unseen:
            msg += "Feature names unseen at fit time:\n" + "".join(f"- {n}\n" for n in unseen)
        if missing:
            msg += "Feature names seen at fit time, yet now missing:\n" + "".join(f"- {n}\n" for n in missing)
        if not unseen and not missing:
            msg += "Feature names must be in the same order as they were in fit.\n"
        raise ValueError(msg)


def type_of_target(y: Any) -> str:
    """scikit-learn's target types: 'binary', 'multiclass', 'continuous',
    'multilabel-indicator', 'multiclass-multioutput', 'continuous-multioutput'
    or 'unknown'."""
    a = to_numpy(y)
    if a.ndim > 2 or a.dtype == object and a.size and not isinstance(a.flat[0], (str, numbers.Number)):
        return "unknown"
    if a.ndim == 2 and a.shape[1] == 0:
        return "unknown"
    if a.ndim == 2 and a.shape[1] > 1:
        if a.dtype.kind in "biu" and a.size and set(np.unique(a)).issubset({0, 1}):
            return "multilabel-indicator"
        suffix = "-multioutput"
    else:
        suffix = ""
        a = a.ravel()
    if a.dtype.kind == "f" and a.size and (np.any(a != a.astype(np.int64)) if np.isfinite(a).all() else True):
        return "continuous" + suffix
    if suffix:
        return "multiclass" + suffix
    n = len(np.unique(a)) if a.size else 0
    return "multiclass" if n > 2 else "binary"


def check_classification_targets(y: Any) -> None:
    """Raises ValueError unless y holds class labels (not continuous values)."""
    kind = type_of_target(y)
    if kind not in ("binary", "multiclass", "multiclass-multioutput", "multilabel-indicator"):
        raise ValueError(f"Unknown label type: {kind}. Maybe you are trying to fit a classifier, which expects "
                         "discrete classes on a regression target with continuous values.")


def check_sample_weight(sample_weight: Any, n_samples: int, dtype: Any = np.float64) -> np.ndarray:
    """Per-sample weights as a float array of length n_samples (None -> ones;
    a number -> that value everywhere); negative or non-finite weights are errors."""
    if sample_weight is None:
        return np.ones(n_samples, dtype=dtype)
    if isinstance(sample_weight, numbers.Number):
        return np.full(n_samples, sample_weight, dtype=dtype)
    w = to_numpy(sample_weight).astype(dtype)
    if w.ndim != 1:
        raise ValueError(f"Sample weights must be 1D array or scalar, got shape {w.shape}")
    if w.shape[0] != n_samples:
        raise ValueError(f"sample_weight.shape == {w.shape}, expected ({n_samples},)!")
    if not np.isfinite(w).all():
        raise ValueError("Input sample_weight contains NaN or infinity.")
    if (w < 0).any():
        raise ValueError("Negative values in data passed to sample_weight")
    if n_samples and not w.any():
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return np.ascontiguousarray(w)


def seed_from(random_state: Any) -> int:
    """A 64-bit seed for the C core's Philox generator from a random_state
    argument: None (fresh entropy), an int, a NumPy RandomState/Generator or an
    ember Generator (one draw from it)."""
    if random_state is None:
        return int.from_bytes(os.urandom(8), "little")
    if isinstance(random_state, (numbers.Integral, np.integer)):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative int, got {random_state}")
        return int(random_state) & 0xFFFFFFFFFFFFFFFF
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**63 - 1, dtype=np.int64))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    from .. import Generator

    if isinstance(random_state, Generator):
        return int(random_state.integers(0, 2**62).item())
    raise ValueError(f"{random_state!r} cannot be used to seed a random generator: pass None, an int, or a "
                     "NumPy/ember generator")
