"""Events as JSON bytes: column-wise for canonical rows, field by field for noisy ones.

Canonical rows are prefix + tail + device suffix. The prefix is fixed-width (uuid,
zero-padded customer id, ms timestamp, session id), so a whole batch of prefixes is one
uint8 matrix; tails and suffixes are looked up in small tables built once per world.
"""

from __future__ import annotations

import time

import numpy as np

from shopstream.bronze.batch import ADD_TO_CART, MINUTE_MS, PAGE_VIEW, PURCHASE
from shopstream.bronze.customers import ID_WIDTH
from shopstream.bronze.world import World
from shopstream.contract import EVENT_TYPES

Fields = dict[bytes, bytes | None]  # field name -> JSON value bytes; None = absent

EVENT_TYPE_JSON = [b'"%s"' % name.encode() for name in EVENT_TYPES]
_HEX_PAIRS = np.array([b"%02x" % byte for byte in range(256)]).view(np.uint16)
_QUANTITIES = 5  # quantities 1..5 have their own tails


def hex_ascii(raw: np.ndarray) -> np.ndarray:
    """(n, k) uint8 -> (n, 2k) uint8 ASCII lowercase hex (one table lookup per byte)."""
    return _HEX_PAIRS[raw].view(np.uint8).reshape(raw.shape[0], raw.shape[1] * 2)


def _uuid_into(out: np.ndarray, column: int, rng: np.random.Generator) -> None:
    """Write random version-4 UUIDs (36 ASCII chars) into out[:, column:column+36]."""
    raw = rng.integers(0, 256, size=(out.shape[0], 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    digits, start = hex_ascii(raw), column
    out[:, start : start + 8] = digits[:, 0:8]
    out[:, start + 9 : start + 13] = digits[:, 8:12]
    out[:, start + 14 : start + 18] = digits[:, 12:16]
    out[:, start + 19 : start + 23] = digits[:, 16:20]
    out[:, start + 24 : start + 36] = digits[:, 20:32]
    out[:, [start + 8, start + 13, start + 18, start + 23]] = ord("-")


def session_hex(sessions: np.ndarray) -> np.ndarray:
    """uint64 session ids -> (n, 16) uint8 ASCII hex, as `f"{id:016x}"` spells them."""
    raw = sessions.astype(">u8").view(np.uint8).reshape(len(sessions), 8)
    return hex_ascii(raw)


def random_uuids(rng: np.random.Generator, count: int) -> np.ndarray:
    """`count` random RFC 4122 version-4 UUID strings as an `S36` array, no uuid4() per row."""
    out = np.empty((count, 36), dtype=np.uint8)
    _uuid_into(out, 0, rng)
    return out.view("S36").ravel()


def _iso_body(ts_ms: np.ndarray) -> np.ndarray:
    """Epoch millis -> (n, 23) uint8 `YYYY-MM-DDTHH:MM:SS.mmm`."""
    body = np.ascontiguousarray(ts_ms.astype("datetime64[ms]").astype("S23"))
    return body.view(np.uint8).reshape(-1, 23)


def iso_utc(ts_ms: np.ndarray) -> np.ndarray:
    """Epoch millis -> `"YYYY-MM-DDTHH:MM:SS.mmmZ"` JSON strings (quoted), as an `S26` array."""
    out = np.empty((len(ts_ms), 26), dtype=np.uint8)
    out[:, 0] = out[:, 25] = ord('"')
    out[:, 1:24] = _iso_body(ts_ms)
    out[:, 24] = ord("Z")
    return out.view("S26").ravel()


def iso_z(ts_ms: np.ndarray) -> np.ndarray:
    """Epoch millis -> (n, 24) uint8 `YYYY-MM-DDTHH:MM:SS.mmmZ` (unquoted)."""
    out = np.empty((len(ts_ms), 24), dtype=np.uint8)
    out[:, :23] = _iso_body(ts_ms)
    out[:, 23] = ord("Z")
    return out


def iso_timestamp(ts_ms: int, offset_minutes: int | None = 0) -> bytes:
    """One timestamp as an ISO-8601 JSON string: offset 0 = `Z`, None = naive, else `+hh:mm`."""
    local = ts_ms + (offset_minutes or 0) * MINUTE_MS
    seconds, millis = divmod(local, 1000)
    parts = time.gmtime(seconds)
    body = b"%04d-%02d-%02dT%02d:%02d:%02d.%03d" % (*parts[:6], millis)
    if offset_minutes is None:
        suffix = b""
    elif offset_minutes == 0:
        suffix = b"Z"
    else:
        hours, minutes = divmod(abs(offset_minutes), 60)
        suffix = (b"+" if offset_minutes > 0 else b"-") + b"%02d:%02d" % (hours, minutes)
    return b'"' + body + suffix + b'"'


def format_cents(cents: int) -> bytes:
    """Minor units -> JSON number text: 1234 -> 12.34, 1200 -> 12."""
    whole, fraction = divmod(cents, 100)
    return b"%d" % whole if fraction == 0 else b"%d.%02d" % (whole, fraction)


def json_string(text: str) -> bytes:
    """A JSON string of plain ASCII text (ids, codes, names: nothing to escape)."""
    return b'"%s"' % text.encode()


def join_fields(fields: Fields) -> bytes:
    """JSON object from field -> JSON value bytes; None = field absent."""
    members = [b'"' + name + b'":' + value for name, value in fields.items() if value is not None]
    return b"{" + b",".join(members) + b"}"


class RowEncoder:
    """Canonical JSON rows of one world, a batch at a time."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.currency_json = [json_string(code) for code in world.currencies]
        # The seed's world lists its few customers; a growing base spells ids from indexes.
        self._fixed_ids: np.ndarray | None = None
        width = ID_WIDTH
        if world.customers is None:
            self._fixed_ids = np.array([name.encode() for name in world.customer_ids])
            width = self._fixed_ids.dtype.itemsize
        prefix = (
            b'{"event_id":"' + b"u" * 36 + b'","customer_id":"' + b"c" * width
            + b'","event_timestamp":"' + b"t" * 23 + b'Z","session_id":"' + b"s" * 16 + b'",'
        )  # fmt: skip
        self._prefix_row = np.frombuffer(prefix, dtype=np.uint8)
        self._column_uuid = prefix.index(b"u" * 36)
        self._column_customer = prefix.index(b"c" * width)
        self._column_time = prefix.index(b"t" * 23)
        self._column_session = prefix.index(b"s" * 16)
        self._id_width = width
        self._device_suffix = np.array([b',"device":"%s"}' % d.encode() for d in world.devices])
        self._tail = self._tails()
        # JSON values for noisy rows, which are rebuilt field by field.
        self._product_json = [json_string(product) for product in world.product_ids]
        self._category_json = [json_string(category) for category in world.product_category]
        self._device_json = [json_string(device) for device in world.devices]

    def _tails(self) -> np.ndarray:
        """Tail per (product, combo): combo 0 = page view, else (type, currency, quantity)."""
        world = self.world
        self._combos = [(PAGE_VIEW, -1, 1)] + [
            (event_type, currency, quantity)
            for event_type in (ADD_TO_CART, PURCHASE)
            for currency in range(len(world.currencies))
            for quantity in range(1, _QUANTITIES + 1)
        ]
        table = []
        for product in range(len(world.product_ids)):
            product_fields = b'"product_id":"%s","category":"%s"' % (
                world.product_ids[product].encode(),
                world.product_category[product].encode(),
            )
            for event_type, currency, quantity in self._combos:
                if event_type == PAGE_VIEW:
                    table.append(b'"event_type":"PAGE_VIEW",' + product_fields)
                    continue
                table.append(
                    b'"event_type":"%s","amount":%s,"quantity":%d,"currency":"%s",%s'
                    % (
                        EVENT_TYPES[event_type].encode(),
                        format_cents(int(world.price_cents[product, currency]) * quantity),
                        quantity,
                        world.currencies[currency].encode(),
                        product_fields,
                    )
                )
        return np.array(table)

    def _tail_index(
        self,
        event_type: np.ndarray,
        product: np.ndarray,
        currency: np.ndarray,
        quantity: np.ndarray,
    ) -> np.ndarray:
        """Row of `_tail` for each event."""
        currencies = len(self.world.currencies)
        combo = 1 + ((event_type.astype(np.int64) - 1) * currencies + currency) * _QUANTITIES
        combo = np.where(event_type == PAGE_VIEW, 0, combo + quantity - 1)
        return product.astype(np.int64) * len(self._combos) + combo

    def customer_ids(self, customers: np.ndarray) -> np.ndarray:
        """(n, width) uint8 customer ids of the given customer indexes."""
        if self._fixed_ids is None:
            assert self.world.customers is not None
            return self.world.customers.ids[customers]
        return self._fixed_ids[customers].view(np.uint8).reshape(len(customers), -1)

    def customer_keys(self, customers: np.ndarray) -> list[bytes]:
        """The Kafka key (the customer id) of each given customer index."""
        ids = np.ascontiguousarray(self.customer_ids(customers))
        return ids.view(f"S{self._id_width}").ravel().tolist()

    def encode(
        self, events: dict[str, np.ndarray], ts_ms: np.ndarray, rng: np.random.Generator
    ) -> tuple[list[bytes], list[bytes], list[bytes]]:
        """(prefixes, values, keys) of canonical rows; each row gets a fresh random event_id."""
        count = len(ts_ms)
        matrix = np.empty((count, len(self._prefix_row)), dtype=np.uint8)
        matrix[:] = self._prefix_row
        _uuid_into(matrix, self._column_uuid, rng)
        width = self._id_width
        customer_at, time_at, session_at = (
            self._column_customer,
            self._column_time,
            self._column_session,
        )
        ids = self.customer_ids(events["customer"])
        matrix[:, customer_at : customer_at + width] = ids
        keys = np.ascontiguousarray(ids).view(f"S{width}").ravel().tolist()
        matrix[:, time_at : time_at + 23] = _iso_body(ts_ms)
        matrix[:, session_at : session_at + 16] = session_hex(events["session"])
        prefixes = matrix.view(f"S{matrix.shape[1]}").ravel().tolist()
        tail_rows = self._tail_index(
            events["event_type"], events["product"], events["currency"], events["quantity"]
        )
        tails = self._tail[tail_rows].tolist()
        suffixes = self._device_suffix[events["device"]].tolist()
        values = [b"%s%s%s" % row for row in zip(prefixes, tails, suffixes, strict=True)]
        return prefixes, values, keys

    def fields(
        self,
        rows: np.ndarray,
        prefixes: list[bytes],
        keys: list[bytes],
        events: dict[str, np.ndarray],
        cents: np.ndarray,
    ) -> list[Fields]:
        """Canonical `rows` as fields (the values their bytes hold), for noise to rewrite."""
        uuid_at, time_at, session_at = (
            self._column_uuid,
            self._column_time,
            self._column_session,
        )
        columns = zip(
            rows.tolist(),
            events["event_type"][rows].tolist(),
            events["product"][rows].tolist(),
            events["device"][rows].tolist(),
            cents[rows].tolist(),
            events["quantity"][rows].tolist(),
            events["currency"][rows].tolist(),
            strict=True,
        )
        out = []
        for index, event_type, product, device, row_cents, quantity, currency in columns:
            prefix = prefixes[index]
            fields: Fields = {
                b"event_id": prefix[uuid_at - 1 : uuid_at + 37],
                b"event_type": EVENT_TYPE_JSON[event_type],
                b"customer_id": b'"' + keys[index] + b'"',
                b"event_timestamp": prefix[time_at - 1 : time_at + 25],
                b"amount": None,
                b"quantity": None,
                b"currency": None,
                b"session_id": prefix[session_at - 1 : session_at + 17],
                b"product_id": self._product_json[product],
                b"category": self._category_json[product],
                b"device": self._device_json[device],
            }
            if row_cents >= 0:
                fields[b"amount"] = format_cents(row_cents)
                fields[b"quantity"] = b"%d" % quantity
                fields[b"currency"] = self.currency_json[currency]
            out.append(fields)
        return out
