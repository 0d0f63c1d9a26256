"""ember.nn.functional: stateless neural-network operations, as in
``torch.nn.functional``.  Each family lives in its own private module and is
re-exported here."""
