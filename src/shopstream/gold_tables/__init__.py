"""Gold tables declared once: `model` (what a declaration is), `tables` (the declarations),
`render` (their SQL: schema and the commit's upserts) and `truth` (their ground truth)."""
