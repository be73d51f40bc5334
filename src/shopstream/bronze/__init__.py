"""Bronze: realistic event generation, ground truth and the high-throughput Kafka producer.

- `generator`: seeded shopper sessions, batch by batch (config in, `EventBatch` out);
- `world`: the customers, currencies and priced catalog events are drawn from;
- `batch`: `EventBatch`, the messages plus the generator's classification of every row;
- `encoding`: JSON bytes, column-wise for canonical rows, field by field for noisy ones;
- `noise`: the noise kinds, each declared once (rate, flag help, reason, application);
- `seed_compat`: the seed producer's shape (`--seed-compat`);
- `truth`: what a correct pipeline must end with (counts, reasons, gold rows);
- `producer`: sends batches to Kafka (acks=all, idempotent), rate control, summary.
"""
