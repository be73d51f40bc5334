package dev.shopstream.silver;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.api.java.UDF2;

/**
 * Spark UDF {@code (value BINARY, fields STRING) -> STRUCT<field STRING, ...>}: the raw
 * record's fields as {@link RawParser} reads them, null when it is not one object.
 *
 * <p>{@code fields} is a comma-separated literal naming the struct's fields in order
 * (Silver passes {@code contract.RAW_FIELDS}); the parser for it is built once per task.
 */
public final class ParseRaw implements UDF2<byte[], String, Row> {

  private transient String fieldList;
  private transient RawParser parser;

  @Override
  public Row call(byte[] value, String fields) {
    if (value == null) {
      return null;
    }
    if (parser == null || !fields.equals(fieldList)) {
      parser = new RawParser(fields.split(","));
      fieldList = fields;
    }
    String[] row = parser.parse(value, 0, value.length);
    return row == null ? null : RowFactory.create((Object[]) row);
  }
}
