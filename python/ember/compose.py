"""ColumnTransformer: different transformers for different columns, as in
``sklearn.compose``."""
from __future__ import annotations

from typing import Any

import numpy as np

from .ml._base import TransformerMixin, check_is_fitted, clone
from .ml._validation import feature_names_of, is_dataframe, to_numpy
from .pipeline import _Composite, _hstack, _run_branches

__all__ = ["ColumnTransformer", "make_column_transformer", "make_column_selector"]


class make_column_selector:
    """A callable picking DataFrame columns by name pattern and/or dtype, for
    the columns of a ColumnTransformer entry."""

    def __init__(self, pattern: str | None = None, *, dtype_include: Any = None, dtype_exclude: Any = None):
        self.pattern = pattern
        self.dtype_include = dtype_include
        self.dtype_exclude = dtype_exclude

    def __call__(self, df: Any) -> list[str]:
        import re

        if not is_dataframe(df):
            raise ValueError("make_column_selector can only be applied to pandas dataframes")
        cols = df
        if self.dtype_include is not None or self.dtype_exclude is not None:
            cols = cols.select_dtypes(include=self.dtype_include, exclude=self.dtype_exclude)
        names = list(cols.columns)
        if self.pattern is not None:
            names = [c for c in names if re.search(self.pattern, str(c))]
        return names


class ColumnTransformer(TransformerMixin, _Composite):
    """Applies each (name, transformer, columns) entry to its columns and
    concatenates the results.  columns: an int, str (DataFrame column name),
    list of either, slice, boolean mask or a callable of X.  The transformer may
    be 'drop' or 'passthrough'.  remainder ('drop', 'passthrough' or a
    transformer) handles the columns no entry names.  n_jobs > 1 (or -1) runs
    the entries on parallel threads.  Output is one dense array."""

    _steps_attr = "transformers"

    def __init__(self, transformers: list[tuple[str, Any, Any]], *, remainder: Any = "drop",
                 sparse_threshold: float = 0.3, n_jobs: int | None = None,
                 transformer_weights: dict[str, float] | None = None, verbose: bool = False,
                 verbose_feature_names_out: bool = True, force_int_remainder_cols: Any = "deprecated"):
        self.transformers = transformers
        self.remainder = remainder
        self.sparse_threshold = sparse_threshold
        self.n_jobs = n_jobs
        self.transformer_weights = transformer_weights
        self.verbose = verbose
        self.verbose_feature_names_out = verbose_feature_names_out
        self.force_int_remainder_cols = force_int_remainder_cols

    def _column_indices(self, X: Any, key: Any) -> list[int]:
        n = X.shape[1] if hasattr(X, "shape") else len(X[0])
        names = list(X.columns) if is_dataframe(X) else None
        if callable(key):
            key = key(X)
        if isinstance(key, slice):
            if names is not None and (isinstance(key.start, str) or isinstance(key.stop, str)):
                start = names.index(key.start) if key.start is not None else 0
                stop = names.index(key.stop) + 1 if key.stop is not None else n
                return list(range(start, stop))
            return list(range(n))[key]
        keys = [key] if isinstance(key, (int, np.integer, str)) else list(key)
        if keys and all(isinstance(k, (bool, np.bool_)) for k in keys):
            if len(keys) != n:
                raise ValueError(f"A boolean column mask must have {n} entries, got {len(keys)}")
            return [i for i, k in enumerate(keys) if k]
        out = []
        for k in keys:
            if isinstance(k, str):
                if names is None:
                    raise ValueError(f"Specifying the columns using strings ({k!r}) is only supported for "
                                     "dataframes.")
                if k not in names:
                    raise ValueError(f"A given column is not a column of the dataframe: {k!r}")
                out.append(names.index(k))
            elif isinstance(k, (int, np.integer)):
                if not -n <= k < n:
                    raise IndexError(f"Column index {k} is out of bounds for {n} columns")
                out.append(int(k) % n)
            else:
                raise ValueError(f"No valid specification of the columns: {key!r}")
        return out

    @staticmethod
    def _take(X: Any, idx: list[int]) -> Any:
        if is_dataframe(X):
            return X.iloc[:, idx]
        return to_numpy(X)[:, idx]

    def _entries(self, X: Any) -> list[tuple[str, Any, list[int]]]:
        self._validate_names()
        entries = []
        used: set[int] = set()
        for entry in self.transformers:
            if len(entry) != 3:
                raise ValueError("ColumnTransformer entries must be (name, transformer, columns) tuples")
            name, trans, cols = entry
            idx = self._column_indices(X, cols)
            used.update(idx)
            entries.append((name, trans, idx))
        n = X.shape[1] if hasattr(X, "shape") else len(X[0])
        rest = [i for i in range(n) if i not in used]
        if not (isinstance(self.remainder, str) and self.remainder == "drop") and rest:
            entries.append(("remainder", self.remainder, rest))
        return entries

    def _weight(self, name: str, out: Any) -> Any:
        w = (self.transformer_weights or {}).get(name)
        return out if w is None else to_numpy(out) * w

    def fit_transform(self, X: Any, y: Any = None, **params: Any) -> np.ndarray:
        """Fits every entry on its columns and returns the concatenation."""
        if not is_dataframe(X):
            X = to_numpy(X) if not isinstance(X, list) else np.asarray(X, dtype=object)
            if X.ndim != 2:
                raise ValueError(f"ColumnTransformer expects 2-D input, got shape {X.shape}")
        entries = self._entries(X)

        def one(e: tuple[str, Any, list[int]]) -> tuple[tuple[str, Any, list[int]], Any]:
            name, trans, idx = e
            part = self._take(X, idx)
            if isinstance(trans, str):
                if trans == "drop":
                    return e, None
                if trans == "passthrough":
                    return e, to_numpy(part)
                raise ValueError(f"Transformer {name!r} must be an estimator, 'drop' or 'passthrough', "
                                 f"got {trans!r}")
            est = clone(trans)
            out = est.fit_transform(part, y) if hasattr(est, "fit_transform") else est.fit(part, y).transform(part)
            return (name, est, idx), self._weight(name, out)

        results = _run_branches(one, entries, self.n_jobs)
        self.transformers_ = [r[0] for r in results]
        self.n_features_in_ = X.shape[1]
        names = feature_names_of(X)
        if names is not None:
            self.feature_names_in_ = names
        else:
            self.__dict__.pop("feature_names_in_", None)
        return _hstack([r[1] for r in results if r[1] is not None])

    def fit(self, X: Any, y: Any = None, **params: Any) -> "ColumnTransformer":
        """Fits every entry on its columns."""
        self.fit_transform(X, y, **params)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """The concatenated transforms of X's columns."""
        check_is_fitted(self, "transformers_")
        if not is_dataframe(X):
            X = to_numpy(X) if not isinstance(X, list) else np.asarray(X, dtype=object)
        n = X.shape[1]
        if n != self.n_features_in_:
            raise ValueError(f"X has {n} features, but ColumnTransformer is expecting {self.n_features_in_} "
                             "features as input.")
        fitted_names = getattr(self, "feature_names_in_", None)
        if is_dataframe(X) and fitted_names is not None:
            cols = list(X.columns)
            missing = [c for c in fitted_names if c not in cols]
            if missing:
                raise ValueError(f"columns are missing: {set(missing)}")
            X = X[list(fitted_names)]

        def one(e: tuple[str, Any, list[int]]) -> Any:
            name, trans, idx = e
            if isinstance(trans, str):
                return None if trans == "drop" else to_numpy(self._take(X, idx))
            return self._weight(name, trans.transform(self._take(X, idx)))

        return _hstack([r for r in _run_branches(one, self.transformers_, self.n_jobs) if r is not None])

    @property
    def named_transformers_(self) -> dict[str, Any]:
        """The fitted transformers by name."""
        check_is_fitted(self, "transformers_")
        return {name: t for name, t, _ in self.transformers_}

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """'<entry>__<feature>' for each output column (without the prefix when
        verbose_feature_names_out=False)."""
        check_is_fitted(self, "transformers_")
        base = getattr(self, "feature_names_in_", None)
        if base is None:
            base = np.asarray([f"x{i}" for i in range(self.n_features_in_)], dtype=object)
        out = []
        for name, trans, idx in self.transformers_:
            if isinstance(trans, str):
                if trans == "drop":
                    continue
                names = base[idx]
            else:
                names = trans.get_feature_names_out(base[idx])
            out.extend(f"{name}__{n}" if self.verbose_feature_names_out else str(n) for n in names)
        if not self.verbose_feature_names_out and len(set(out)) != len(out):
            raise ValueError("Output feature names are not unique; set verbose_feature_names_out=True")
        return np.asarray(out, dtype=object)


def make_column_transformer(*transformers: tuple[Any, Any], remainder: Any = "drop", n_jobs: int | None = None,
                            verbose_feature_names_out: bool = True) -> ColumnTransformer:
    """A ColumnTransformer from (transformer, columns) pairs, named by class."""
    from .pipeline import _name_estimators

    named = _name_estimators(tuple(t for t, _ in transformers))
    entries = [(name, t, cols) for (name, t), (_, cols) in zip(named, transformers)]
    return ColumnTransformer(entries, remainder=remainder, n_jobs=n_jobs,
                             verbose_feature_names_out=verbose_feature_names_out)


