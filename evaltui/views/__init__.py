"""Views over the store above the comparison: history (trend) and saved views."""
