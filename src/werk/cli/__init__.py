"""The ``werk`` command line: command groups per resource; the only place that exits."""
