"""Bronze: realistic event generation, ground truth and the high-throughput Kafka producer.

- `generator`: seeded shopper sessions rendered column-wise to JSON bytes, with noise;
- `noise`: the noise kinds, their rates and the dead-letter reason each must produce;
- `truth`: what a correct pipeline must end with (counts, reasons, gold rows);
- `producer`: sends batches to Kafka (acks=all, idempotent), rate control, summary.
"""
