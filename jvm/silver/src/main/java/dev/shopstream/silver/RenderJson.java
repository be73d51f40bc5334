package dev.shopstream.silver;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.api.java.UDF2;

/**
 * Spark UDF {@code (record STRUCT<...>, types STRING) -> STRING}: {@code to_json} of a
 * flat record (see {@link JsonRecordWriter}); a null record gives null.
 *
 * <p>{@code types} is a comma-separated literal, one per field: {@code string}, {@code int},
 * {@code bigint}, {@code decimal}, or {@code timestamp} / {@code date} for fields handed
 * over as {@code unix_micros} / {@code unix_date}. Passing those as numbers keeps Spark's
 * java.sql conversion (which rebases dates before 1582 to the Julian calendar, losing some)
 * out of the way, and costs nothing.
 */
public final class RenderJson implements UDF2<Row, String, String> {

  private transient String typeList;
  private transient String[] types;
  private transient JsonRecordWriter writer;

  @Override
  public String call(Row record, String fieldTypes) {
    if (record == null) {
      return null;
    }
    if (writer == null) {
      writer = new JsonRecordWriter();
    }
    if (!fieldTypes.equals(typeList)) {
      types = fieldTypes.split(",");
      typeList = fieldTypes;
    }
    String[] names = record.schema().fieldNames();
    if (names.length != types.length) {
      throw new IllegalArgumentException(
          "RenderJson got " + names.length + " fields but " + types.length + " types");
    }
    JsonRecordWriter out = writer.start();
    try {
      for (int i = 0; i < names.length; i++) {
        Object value = record.isNullAt(i) ? null : record.get(i);
        switch (types[i]) {
          case "string" -> out.string(names[i], (String) value);
          case "int" -> out.integer(names[i], (Integer) value);
          case "bigint" -> out.bigint(names[i], (Long) value);
          case "decimal" -> out.decimal(names[i], (BigDecimal) value);
          case "timestamp" -> out.timestamp(names[i], (Long) value);
          case "date" -> out.date(names[i], (Integer) value);
          default -> throw new IllegalArgumentException(
              "RenderJson cannot write field " + names[i] + " of type " + types[i]);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.finish();
  }
}
