"""ember.data: datasets, data loaders and file readers."""
from .dataset import Dataset, TensorDataset, Subset, ConcatDataset, random_split  # noqa: F401
from .dataloader import DataLoader, default_collate  # noqa: F401
from ._csv import read_csv  # noqa: F401
