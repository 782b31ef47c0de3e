"""What users call: ``sg.compile`` and ``sg.check``."""
