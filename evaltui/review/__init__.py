"""The review layer: triage, its state, the taxonomy, case lifecycle, findings files, the codebook."""
