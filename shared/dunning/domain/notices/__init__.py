"""Customer notices, one job per module (DESIGN sections 5 and 6).

- ``facts``: what a notice may say about one account (amounts, deadline, signed links), before any
  locale formatting.
- ``render``: the bundled Jinja2 templates, Babel formatting per locale and channel, SMS sizing.
- ``lint``: the CONTENT and TONE linter a rendered notice (or any text) must pass before a customer
  reads it, and the lint of every bundled template.
- ``tone`` and ``tone_lexicon``: the TONE rules (threats, shaming, insults, false authority in
  English and Chinese), how disguises are undone, and the words they look for.
- ``samples``: made-up accounts and facts used to preview and lint templates.

The policy lint, which checks a policy's steps against these templates, lives beside the policy in
``dunning.domain.policy_lint``.
"""
