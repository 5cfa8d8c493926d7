"""Blind pairwise human evaluation: studies, annotation app, exchange formats, agreement, calibration."""
