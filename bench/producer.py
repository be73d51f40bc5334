"""Producer benchmark script: `python bench/producer.py [--events N] [--no-kafka-perf]`.

Same as `shopstream bench producer` (the code lives in `shopstream.bench.producer`);
writes bench/results/producer.json and producer.png.
"""

import sys

from shopstream.cli import main

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "bench", "producer", *sys.argv[1:]]
    main()
