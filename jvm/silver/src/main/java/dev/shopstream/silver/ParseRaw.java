package dev.shopstream.silver;

import java.nio.charset.StandardCharsets;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.api.java.UDF2;

/**
 * Spark UDF {@code (value BINARY, fields STRING) -> STRUCT<first STRING, braced BOOLEAN,
 * record STRUCT<field STRING, ...>>} over a valid UTF-8 value:
 *
 * <ul>
 *   <li>{@code first}: its first character after JSON whitespace; null when it is blank;
 *   <li>{@code braced}: whether it starts with '{' and ends with '}' after that whitespace;
 *   <li>{@code record}: the fields as {@link RawParser} reads them, null when the value is
 *       not exactly one object (or blank).
 * </ul>
 *
 * <p>{@code fields} is a comma-separated literal naming the record's fields in order
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
    int start = 0;
    int end = value.length;
    while (start < end && isJsonWhitespace(value[start])) {
      start++;
    }
    while (end > start && isJsonWhitespace(value[end - 1])) {
      end--;
    }
    if (start == end) {
      return RowFactory.create(null, false, null);
    }
    int firstLength = Math.min(utf8Length(value[start]), end - start);
    String first = new String(value, start, firstLength, StandardCharsets.UTF_8);
    boolean braced = value[start] == '{' && value[end - 1] == '}';
    String[] record = parser.parse(value, 0, value.length);
    return RowFactory.create(
        first, braced, record == null ? null : RowFactory.create((Object[]) record));
  }

  private static boolean isJsonWhitespace(byte b) {
    return b == ' ' || b == '\t' || b == '\n' || b == '\r';
  }

  /** Bytes of the UTF-8 sequence a leading byte starts. */
  private static int utf8Length(byte lead) {
    int b = lead & 0xff;
    return b < 0xc0 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
  }
}
