"""ember.preprocessing: scaling, imputation, encoding and feature expansion,
with scikit-learn's names and semantics.  Pipeline, make_pipeline,
FeatureUnion and ColumnTransformer (from ember.pipeline and ember.compose) are
re-exported here for convenience."""
from ._encoders import LabelEncoder, OneHotEncoder, OrdinalEncoder
from ._impute import SimpleImputer
from ._polynomial import PolynomialFeatures
from ._scalers import MaxAbsScaler, MinMaxScaler, Normalizer, RobustScaler, StandardScaler, normalize
from ..compose import ColumnTransformer, make_column_selector, make_column_transformer
from ..pipeline import FeatureUnion, Pipeline, make_pipeline, make_union

__all__ = ["StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler", "Normalizer", "normalize",
           "SimpleImputer", "OneHotEncoder", "OrdinalEncoder", "LabelEncoder", "PolynomialFeatures",
           "Pipeline", "make_pipeline", "FeatureUnion", "make_union", "ColumnTransformer",
           "make_column_transformer", "make_column_selector"]
