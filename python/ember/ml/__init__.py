"""ember.ml: classic machine learning with scikit-learn's conventions.

Estimators follow scikit-learn's API (fit / predict / transform / score,
get_params / set_params, fitted attributes ending in ``_``); see
``docs/ml.md``.  The numerical work runs in libember."""
from ._base import (BaseEstimator, ClassifierMixin, ClusterMixin, DataConversionWarning, NotFittedError,
                    RegressorMixin, TransformerMixin, check_is_fitted, clone)

__all__ = ["BaseEstimator", "ClassifierMixin", "ClusterMixin", "DataConversionWarning", "NotFittedError",
           "RegressorMixin", "TransformerMixin", "check_is_fitted", "clone"]
from ._naive_bayes import BernoulliNB, GaussianNB, MultinomialNB  # noqa: E402

__all__ += ["GaussianNB", "MultinomialNB", "BernoulliNB"]
from ._neighbors import KNeighborsClassifier, KNeighborsRegressor  # noqa: E402

__all__ += ["KNeighborsClassifier", "KNeighborsRegressor"]
from ._cluster import DBSCAN, KMeans, MiniBatchKMeans  # noqa: E402

__all__ += ["KMeans", "MiniBatchKMeans", "DBSCAN"]
from ._tree import (DecisionTreeClassifier, DecisionTreeRegressor, RandomForestClassifier,  # noqa: E402
                    RandomForestRegressor)

__all__ += ["DecisionTreeClassifier", "DecisionTreeRegressor", "RandomForestClassifier", "RandomForestRegressor"]
from ._linear import (ConvergenceWarning, ElasticNet, Lasso, LinearRegression, LinearSVC,  # noqa: E402
                      LogisticRegression, Perceptron, Ridge, SGDClassifier, SGDRegressor)

__all__ += ["LinearRegression", "Ridge", "Lasso", "ElasticNet", "LogisticRegression", "SGDClassifier",
            "SGDRegressor", "Perceptron", "LinearSVC", "ConvergenceWarning"]
from ._hgb import HistGradientBoostingClassifier, HistGradientBoostingRegressor  # noqa: E402

__all__ += ["HistGradientBoostingClassifier", "HistGradientBoostingRegressor"]
from ._decomposition import PCA  # noqa: E402

__all__ += ["PCA"]
