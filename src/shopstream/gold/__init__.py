"""Gold: exactly-once aggregates from clean events into the warehouse."""
