"""Running stages in the foreground: one runner, one stop-on-signal, one "query failed" error.

signals.py     SIGINT/SIGTERM -> a stop event (counting signals: a second Ctrl-C insists)
runner.py      start Spark, start a stage's queries, wait with status lines, stop cleanly
stages.py      `silver`, `gold` and `process` as the runner runs them
up.py          `up`: broker, Silver + Gold, the live generator, a dashboard handed in
warm_up.py     the driver's usual work once, for Spark's class archive (`make jars`)
"""
