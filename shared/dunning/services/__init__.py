"""Use cases: domain + adapters composed. The only thing handlers call."""
