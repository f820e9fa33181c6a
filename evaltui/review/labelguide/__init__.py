"""The label guide grown from reviewers' notes, over the store (issue #29).

`notes` reads the notes through triage (open ones to code, coded ones to compare with),
`proposals` runs the codebook over them (ids, the taxonomy version, new in the
candidate), `ratify` accepts a proposal as a class, merges or rejects it, and turns the
suggested labels a reviewer confirms into findings; `rulings` owns the rulings' table.
The taxonomy's versions are taxonomy.py's. Method: docs/triage.md, "From notes to classes".
"""
