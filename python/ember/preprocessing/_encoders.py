"""Categorical encoders: OneHotEncoder, OrdinalEncoder, LabelEncoder.

Categories are found with NumPy's unique (sorted), so string and numeric
columns both work; the encoded output is numeric and dense (ember has no
sparse matrices, so ``sparse_output`` defaults to False and True is refused).
"""
from __future__ import annotations

from typing import Any

import numpy as np

import ember

from ..ml._base import BaseEstimator, TransformerMixin, check_is_fitted
from ..ml._validation import column_or_1d, feature_names_of, reject_sparse, to_numpy

__all__ = ["OneHotEncoder", "OrdinalEncoder", "LabelEncoder"]


def _columns(X: Any) -> tuple[list[np.ndarray], Any]:
    """The columns of a 2-D table (DataFrame columns keep their own dtypes)."""
    reject_sparse(X)
    if type(X).__module__.startswith("pandas") and hasattr(X, "columns"):
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"Found array with shape={X.shape}: 0 sample(s) or 0 feature(s) while a minimum of 1 "
                             "is required.")
        return [X.iloc[:, j].to_numpy() for j in range(X.shape[1])], feature_names_of(X)
    a = to_numpy(X) if not isinstance(X, (list, tuple)) else np.asarray(X, dtype=object)
    if np.iscomplexobj(a):
        raise ValueError("Complex data not supported")
    if a.ndim == 2 and a.shape[1] == 0:
        raise ValueError(f"0 feature(s) (shape={a.shape}) while a minimum of 1 is required.")
    if a.ndim != 2:
        raise ValueError(f"Expected 2D array, got {a.ndim}D array instead. Reshape your data either using "
                         "array.reshape(-1, 1) if your data has a single feature or array.reshape(1, -1) if it "
                         "contains a single sample.")
    if a.shape[0] == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={a.shape}) while a minimum of 1 is required.")
    if a.dtype.kind in "fc" and not np.isfinite(a).all():
        if np.isinf(a).any():
            raise ValueError("Input X contains infinity or a value too large for dtype('float64').")
    return [a[:, j] for j in range(a.shape[1])], None


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, (float, np.floating)) and v != v)


def _categories_of(col: np.ndarray) -> np.ndarray:
    if col.dtype == object:
        present = [v for v in col if not _is_missing(v)]
        try:
            set(present)
        except TypeError as e:
            raise TypeError(f"Encoder categories must be hashable: argument must be a string or number, {e}") \
                from None
        kinds = {type(v) is str for v in present}
        if len(kinds) > 1:
            raise TypeError("Encoders require their input argument must be uniformly strings or numbers. "
                            f"Got {sorted({type(v).__name__ for v in present})}")
        cats = np.array(sorted(set(present)), dtype=object)
        if len(present) < len(col):
            cats = np.append(cats, np.nan).astype(object)  # missing is its own category, last
        return cats
    u = np.unique(col)  # NaN (if any) sorts last
    if u.dtype.kind == "f" and u.size > 1 and np.isnan(u[-2:]).all():
        u = u[: np.argmax(np.isnan(u)) + 1]
    return u


def _lookup(col: np.ndarray, cats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index of each value in cats, whether it was found)."""
    if col.dtype.kind in "biuf" and cats.dtype.kind in "biuf":
        colf = col.astype(np.float64)
        catsf = cats.astype(np.float64)
        has_nan_cat = catsf.size and np.isnan(catsf[-1])
        real = catsf[:-1] if has_nan_cat else catsf
        idx = np.searchsorted(real, colf)
        idx_c = np.minimum(idx, max(len(real) - 1, 0))
        found = (len(real) > 0) & (real[idx_c] == colf) if len(real) else np.zeros(len(colf), bool)
        idx = np.where(found, idx_c, -1)
        if has_nan_cat:
            nan = np.isnan(colf)
            idx = np.where(nan, len(catsf) - 1, idx)
            found = found | nan
        return idx, found
    table = {}
    for i, c in enumerate(cats):
        table["__nan__" if _is_missing(c) else c] = i
    idx = np.array([table.get("__nan__" if _is_missing(v) else v, -1) for v in col], dtype=np.int64)
    return idx, idx >= 0


class _BaseEncoder(TransformerMixin, BaseEstimator):
    _allow_nan = True

    def _fit_categories(self, X: Any) -> list[np.ndarray]:
        cols, names = _columns(X)
        self.n_features_in_ = len(cols)
        if names is not None:
            self.feature_names_in_ = names
        else:
            self.__dict__.pop("feature_names_in_", None)
        if isinstance(self.categories, str):
            if self.categories != "auto":
                raise ValueError(f"categories must be 'auto' or a list of arrays, got {self.categories!r}")
            self.categories_ = [_categories_of(c) for c in cols]
        else:
            if len(self.categories) != len(cols):
                raise ValueError(f"Shape mismatch: if categories is an array, it has to be of shape (n_features,)"
                                 f" = ({len(cols)},), got {len(self.categories)} lists")
            self.categories_ = []
            for j, (given, col) in enumerate(zip(self.categories, cols)):
                cats = np.asarray(given, dtype=object if col.dtype == object else None)
                _, found = _lookup(col, cats)
                if self._unknown_is_error() and not found.all():
                    bad = col[~found][0]
                    raise ValueError(f"Found unknown categories [{bad!r}] in column {j} during fit")
                self.categories_.append(cats)
        return cols

    def _codes(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        check_is_fitted(self, "categories_")
        cols, names = _columns(X)
        if len(cols) != self.n_features_in_:
            raise ValueError(f"X has {len(cols)} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input.")
        codes = np.empty((len(cols[0]), len(cols)), dtype=np.int64)
        known = np.empty(codes.shape, dtype=bool)
        for j, (col, cats) in enumerate(zip(cols, self.categories_)):
            codes[:, j], known[:, j] = _lookup(col, cats)
            if self._unknown_is_error() and not known[:, j].all():
                bad = col[~known[:, j]][0]
                raise ValueError(f"Found unknown categories [{bad!r}] in column {j} during transform")
        return codes, known

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output feature names."""
        from ._scalers import _names_out

        return _names_out(self, input_features)


class OneHotEncoder(_BaseEncoder):
    """Encodes each categorical column as one 0/1 column per category.

    categories 'auto' (sorted unique values) or a list per column; drop None,
    'first', 'if_binary' or a category per column; handle_unknown 'error' or
    'ignore' (an unknown value gives all zeros).  NaN/None is its own category.
    Dense output only: sparse_output=True is refused."""

    def __init__(self, *, categories: Any = "auto", drop: Any = None, sparse_output: bool = False,
                 dtype: Any = np.float64, handle_unknown: str = "error"):
        self.categories = categories
        self.drop = drop
        self.sparse_output = sparse_output
        self.dtype = dtype
        self.handle_unknown = handle_unknown

    def _unknown_is_error(self) -> bool:
        if self.handle_unknown not in ("error", "ignore"):
            raise ValueError(f"handle_unknown should be 'error' or 'ignore', got {self.handle_unknown!r}")
        return self.handle_unknown == "error"

    def fit(self, X: Any, y: Any = None) -> "OneHotEncoder":
        """Learns categories_ (and drop_idx_)."""
        if self.sparse_output:
            raise ValueError("OneHotEncoder(sparse_output=True): ember has no sparse matrices; use "
                             "sparse_output=False")
        self._unknown_is_error()
        self._fit_categories(X)
        if self.drop is None:
            self.drop_idx_ = None
        elif self.drop == "first":
            self.drop_idx_ = np.zeros(len(self.categories_), dtype=object)
        elif self.drop == "if_binary":
            self.drop_idx_ = np.array([0 if len(c) == 2 else None for c in self.categories_], dtype=object)
        else:
            drop = np.asarray(self.drop, dtype=object)
            if len(drop) != len(self.categories_):
                raise ValueError(f"`drop` should have length equal to the number of features "
                                 f"({len(self.categories_)}), got {len(drop)}")
            idx = []
            for j, (d, cats) in enumerate(zip(drop, self.categories_)):
                if d is None:
                    idx.append(None)
                    continue
                code, found = _lookup(np.asarray([d], dtype=cats.dtype if cats.dtype != object else object), cats)
                if not found[0]:
                    raise ValueError(f"The following categories were supposed to be dropped, but were not found "
                                     f"in the training data.\nCategory: {d!r}, Feature: {j}")
                idx.append(int(code[0]))
            self.drop_idx_ = np.array(idx, dtype=object)
        return self

    def _kept(self, j: int) -> np.ndarray:
        n = len(self.categories_[j])
        keep = np.ones(n, dtype=bool)
        if self.drop_idx_ is not None and self.drop_idx_[j] is not None:
            keep[self.drop_idx_[j]] = False
        return keep

    def transform(self, X: Any) -> Any:
        """The one-hot matrix, shape (n_samples, total kept categories)."""
        codes, known = self._codes(X)
        n = codes.shape[0]
        blocks = []
        for j in range(codes.shape[1]):
            width = len(self.categories_[j])
            onehot = np.asarray(ember.one_hot(ember.asarray(np.where(known[:, j], codes[:, j], 0)), width))
            onehot = onehot * known[:, j : j + 1]
            blocks.append(onehot[:, self._kept(j)])
        out = np.concatenate(blocks, axis=1).astype(self.dtype) if blocks else np.zeros((n, 0), self.dtype)
        return ember.asarray(out) if isinstance(X, ember.Tensor) else out

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Back to categories (an all-zero block gives None, or the dropped category)."""
        check_is_fitted(self, "categories_")
        a = to_numpy(X)
        out = np.empty((a.shape[0], len(self.categories_)), dtype=object)
        pos = 0
        for j, cats in enumerate(self.categories_):
            keep = self._kept(j)
            width = int(keep.sum())
            block = a[:, pos : pos + width]
            pos += width
            kept_cats = cats[keep]
            hit = block.max(axis=1) > 0 if width else np.zeros(len(a), bool)
            vals = kept_cats[np.argmax(block, axis=1)] if width else np.empty(len(a), dtype=object)
            if self.drop_idx_ is not None and self.drop_idx_[j] is not None:
                vals = np.where(hit, vals, cats[self.drop_idx_[j]])
            else:
                vals = np.where(hit, vals, None)
            out[:, j] = vals
        if pos != a.shape[1]:
            raise ValueError(f"Shape of the passed X data is not correct. Expected {pos} columns, got {a.shape[1]}.")
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """'<feature>_<category>' for each output column."""
        names = super().get_feature_names_out(input_features)
        return np.asarray([f"{names[j]}_{c}" for j, cats in enumerate(self.categories_)
                           for c in cats[self._kept(j)]], dtype=object)


class OrdinalEncoder(_BaseEncoder):
    """Encodes each categorical column as integers 0..n_categories-1 (as
    ``dtype``, float64 by default).  handle_unknown 'error' or
    'use_encoded_value' (then unknown_value is used); encoded_missing_value
    for NaN/None (NaN by default)."""

    def __init__(self, *, categories: Any = "auto", dtype: Any = np.float64, handle_unknown: str = "error",
                 unknown_value: Any = None, encoded_missing_value: Any = np.nan):
        self.categories = categories
        self.dtype = dtype
        self.handle_unknown = handle_unknown
        self.unknown_value = unknown_value
        self.encoded_missing_value = encoded_missing_value

    def _unknown_is_error(self) -> bool:
        if self.handle_unknown not in ("error", "use_encoded_value"):
            raise ValueError(f"handle_unknown should be 'error' or 'use_encoded_value', got {self.handle_unknown!r}")
        return self.handle_unknown == "error"

    def fit(self, X: Any, y: Any = None) -> "OrdinalEncoder":
        """Learns categories_."""
        if self.handle_unknown == "use_encoded_value" and not isinstance(self.unknown_value, (int, np.integer)) \
                and not (isinstance(self.unknown_value, float) and np.isnan(self.unknown_value)):
            raise TypeError("unknown_value should be an integer or np.nan when handle_unknown is "
                            f"'use_encoded_value', got {self.unknown_value!r}.")
        self._unknown_is_error()
        self._fit_categories(X)
        # NaN is not a category of its own here: it maps to encoded_missing_value
        self._nan_cat = [len(c) > 0 and _is_missing(c[-1]) for c in self.categories_]
        return self

    def transform(self, X: Any) -> Any:
        """The integer codes, shape (n_samples, n_features)."""
        codes, known = self._codes(X)
        out = codes.astype(np.float64)
        if self.handle_unknown == "use_encoded_value":
            out[~known] = self.unknown_value
        for j, has_nan in enumerate(self._nan_cat):
            if has_nan:
                out[codes[:, j] == len(self.categories_[j]) - 1, j] = self.encoded_missing_value
        out = out.astype(self.dtype)
        return ember.asarray(out) if isinstance(X, ember.Tensor) else out

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Codes back to categories (unknown_value gives None)."""
        check_is_fitted(self, "categories_")
        a = to_numpy(X)
        out = np.empty(a.shape, dtype=object)
        for j, cats in enumerate(self.categories_):
            col = a[:, j]
            ok = np.isfinite(col) & (col >= 0) & (col < len(cats))
            out[:, j] = None
            out[ok, j] = cats[col[ok].astype(np.int64)]
            if self._nan_cat[j]:
                out[np.isnan(col), j] = np.nan
        return out


class LabelEncoder(TransformerMixin, BaseEstimator):
    """Encodes target labels as 0..n_classes-1 (classes_ sorted)."""

    def fit(self, y: Any) -> "LabelEncoder":
        """Learns classes_."""
        self.classes_ = np.unique(column_or_1d(y, warn=True))
        return self

    def fit_transform(self, y: Any) -> Any:  # type: ignore[override]
        """Learns classes_ and returns the codes of y."""
        return self.fit(y).transform(y)

    def transform(self, y: Any) -> Any:
        """The codes of y; an unseen label raises ValueError."""
        check_is_fitted(self, "classes_")
        a = column_or_1d(y, warn=True)
        if a.size == 0:
            return np.array([], dtype=np.int64)
        idx = np.searchsorted(self.classes_, a)
        idx_c = np.minimum(idx, len(self.classes_) - 1)
        bad = self.classes_[idx_c] != a
        if bad.any():
            raise ValueError(f"y contains previously unseen labels: {np.unique(a[bad]).tolist()}")
        return ember.asarray(idx_c) if isinstance(y, ember.Tensor) else idx_c

    def inverse_transform(self, y: Any) -> np.ndarray:
        """Labels of the codes y."""
        check_is_fitted(self, "classes_")
        a = column_or_1d(y).astype(np.int64)
        if a.size and (a.min() < 0 or a.max() >= len(self.classes_)):
            raise ValueError(f"y contains previously unseen labels: "
                             f"{sorted(set(a[(a < 0) | (a >= len(self.classes_))].tolist()))}")
        return self.classes_[a]
