"""Measuring the judges, over the store: blind human judgments (`judgments`), the calibration
samples they are drawn in (`samples`, `draw`), hidden gold answers (`gold`), the judging
queue (`queue`), files of labels (`files`) and the figures (`report`), which call the pure
estimators of `evaltui.estimate`. docs/calibration.md.
"""
