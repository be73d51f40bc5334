"""The attack target as its own process: a writer serving the SQL endpoint while a Gold
stand-in commits beside it, driven over stdin/stdout by the attack tests.

In its own process, as in `shopstream up`: the attacking clients (psycopg, raw sockets)
then compete with Gold for the machine, not for the test process's GIL. Commands, one per
line on stdin, each answered by one JSON line: `stats` (Gold's commits so far, open
connections, statements cancelled for memory), `checkpoint` (the writer checkpoints: it
fails while a client's snapshot holds it), `quit`.

    python tests/attack_server.py HOME '{"statement_timeout_seconds": 3, ...}'
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from attack_target import GoldLoop
from sql_served import fill

from shopstream.config import load_settings
from shopstream.sqlendpoint import SqlEndpoint, endpoint_password
from shopstream.warehouse import open_warehouse


def main(home: Path, limits: dict[str, object]) -> None:
    settings = load_settings(home=home, sql={"port": 0, **limits})
    wh = open_warehouse(settings)
    fill(wh)  # type: ignore[arg-type]
    (home / "secret.txt").write_text("TOP-SECRET-CONTENT\n")
    endpoint = SqlEndpoint(wh, settings).start()  # type: ignore[arg-type]
    gold = GoldLoop(wh).start()  # type: ignore[arg-type]
    say({"port": endpoint.port, "password": endpoint_password(settings)})
    for line in sys.stdin:
        command = line.strip()
        if command == "stats":
            server = endpoint._server
            say({
                "commits": gold.commits,
                "errors": [str(e) for e in gold.errors],
                "open_connections": server.open_connections if server else None,
                "memory_cancelled": endpoint._config.memory.cancelled,
                "threads": threading.active_count(),
            })  # fmt: skip
        elif command == "checkpoint":
            try:
                wh.execute("CHECKPOINT")
                say({"ok": True})
            except Exception as err:
                say({"ok": False, "error": str(err)})
        elif command == "quit":
            break
    gold.stop()
    endpoint.stop()
    wh.close()


def say(data: object) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(Path(sys.argv[1]), json.loads(sys.argv[2]))
