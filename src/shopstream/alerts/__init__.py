"""Business alerts: statistical checks on per-minute metrics, a state machine, a webhook.

One module one idea: `stats` (tail probabilities), `budget` (false-alarm budget -> alpha),
`rules` (the checks, declared once), `detector` (pure evaluation + open/resolve state),
`announce` (what changed since the last announcement), `webhook` (Alertmanager v4
payload, bounded POST). See docs/alerts.md.
"""
