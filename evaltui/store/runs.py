"""The owner of the run tables: runs, cases, results, run_cases, attr_sets,
run_criteria and trajectories. No other module names them in SQL
(tests/test_table_owners.py); others call the functions here, which take and
return typed objects."""

from __future__ import annotations

# -- import and listing (Store.import_run, runs, resolvers) --------------------------


# -- case status (retire, restore, quarantine: lifecycle) ----------------------------


# -- history (trend) -----------------------------------------------------------------


# -- the comparison's reads (compare/engine, rows, measures, paths) ------------------
