"""Decisions with a proportional say, counted up the hierarchy.

`opening` opens one for a chapter and takes one in that reached a chapter from above;
`ballots` records a member's ballot (web form and paper ballots alike); `counting` makes
each chapter's signed tally, passes tallies up, takes them in, closes decisions on time
and publishes the result; `wire` is the decision's `Question`. The hierarchy's rules for
tallies (what counts, how they add up) are `hierarchy/tallies.py`'s.
"""
