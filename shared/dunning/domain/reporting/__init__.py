"""The weekly collections report, one job per module.

- ``facts``: collection cases rebuilt from ledger entries (what happened to each case, as of one
  instant).
- ``rates``: what works, computed over those cases: cure, contact, response, promise-kept and
  plan-completion rates, roll rates, the funnel, the cure curve, champion vs challenger.
- ``report``: the report itself (its summary, counts and tables) from ledger entries and accounts.
- ``render``: the report as one self-contained HTML page and as CSV files.
"""
