"""The chapter hierarchy's rules, in one place; the inbox and outbox pipelines call into it.

- `levels`: the levels a chapter has, and which may join which.
- `affiliation`: a chapter joins a parent, the parent decides, either side leaves — asked
  from here (the command line, the workspace) or received from a chapter elsewhere (the
  inbox's handlers are thin adapters over it).
- `relay`: what passes along the links — items going up from a subchapter, down from a
  parent, deletions following them, which of our chapters take an object announced to us.
- `scope` and `tallies`: who a decision counts at a moment, and its counts climbing up.

The queries stay in storage/hierarchy.py: nothing above storage/ runs SQL
(tests/storage/test_seam.py).
"""
