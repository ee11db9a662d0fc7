"""The audit log: the catalogue of actions it records (``actions``) and its page (``views``)."""
