"""ember.data: datasets, data loaders and file readers."""
