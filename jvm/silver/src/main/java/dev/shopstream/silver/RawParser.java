package dev.shopstream.silver;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonFactoryBuilder;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.util.ByteArrayBuilder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Spark's {@code from_json('[' || text || ']', 'array<struct<f1 string, ...>>')}, read from
 * the UTF-8 bytes instead of through a character reader.
 *
 * <p>It follows Spark 4.2's JacksonParser step for step (array root, struct elements, string
 * fields, PERMISSIVE mode with partial results), because Silver's output must stay
 * byte-identical: a string field given any other JSON value holds that value re-rendered
 * by Jackson's generator (so {@code 1.50} reads as {@code "1.5"}, {@code 1e400} as
 * {@code "\"Infinity\""}); duplicate keys: the last one wins; a field whose value fails
 * to parse is left null while the rest of the record survives (Spark's partial results).
 * Only the case Silver uses is kept: exactly one non-null element, else null.
 */
public final class RawParser {

  /** Spark's JSONOptions.buildJsonFactory() for Silver's options: every leniency off. */
  static final JsonFactory FACTORY =
      new JsonFactoryBuilder()
          .streamReadConstraints(
              StreamReadConstraints.builder()
                  .maxNestingDepth(1000)
                  .maxNumberLength(1000)
                  .maxStringLength(20_000_000)
                  .build())
          .build();

  private final String[] fields;
  private final Map<String, Integer> index = new HashMap<>();

  /** A parser for objects whose fields of interest are {@code fields}, in output order. */
  public RawParser(String[] fields) {
    this.fields = fields.clone();
    for (int i = 0; i < fields.length; i++) {
      index.put(fields[i], i);
    }
  }

  public int width() {
    return fields.length;
  }

  /**
   * The fields (null = absent or JSON null) of the single object in {@code '[' + bytes +
   * ']'}, or null when that is not exactly one object (Spark: no result, or not one row).
   */
  public String[] parse(byte[] utf8, int offset, int length) {
    byte[] wrapped = new byte[length + 2];
    wrapped[0] = '[';
    System.arraycopy(utf8, offset, wrapped, 1, length);
    wrapped[length + 1] = ']';
    List<String[]> rows;
    try (JsonParser parser = FACTORY.createParser(wrapped)) {
      if (parser.nextToken() != JsonToken.START_ARRAY) {
        return null; // unreachable: the text starts with '['
      }
      rows = convertArray(parser);
    } catch (IOException | RuntimeException e) {
      return null; // a bad record: PERMISSIVE mode yields null
    }
    return rows.size() == 1 ? rows.get(0) : null;
  }

  /** JacksonParser.convertArray: elements that are partial records are kept (and counted). */
  private List<String[]> convertArray(JsonParser parser) throws IOException {
    List<String[]> rows = new ArrayList<>(1);
    while (nextUntil(parser, JsonToken.END_ARRAY)) {
      try {
        rows.add(convertElement(parser));
      } catch (PartialRecord partial) {
        rows.add(partial.row);
      }
    }
    return rows;
  }

  /** parseJsonToken for the struct type: null stays null, only an object converts. */
  private String[] convertElement(JsonParser parser) throws IOException {
    JsonToken token = parser.currentToken();
    while (token == JsonToken.FIELD_NAME) {
      token = parser.nextToken();
    }
    if (token == null || token == JsonToken.VALUE_NULL) {
      return null;
    }
    if (token != JsonToken.START_OBJECT) {
      throw new IllegalStateException("cannot convert " + token + " to a struct");
    }
    return convertObject(parser);
  }

  /** JacksonParser.convertObject with partial results: a failing field is skipped. */
  private String[] convertObject(JsonParser parser) throws IOException {
    String[] row = new String[fields.length];
    Exception bad = null;
    while (nextUntil(parser, JsonToken.END_OBJECT)) {
      Integer i = index.get(parser.currentName());
      if (i == null) {
        parser.skipChildren();
        continue;
      }
      try {
        row[i] = convertString(parser);
      } catch (IOException | RuntimeException e) {
        if (bad == null) {
          bad = e;
        }
        parser.skipChildren();
      }
    }
    if (bad != null) {
      throw new PartialRecord(row);
    }
    return row;
  }

  /** The StringType converter: text of a string, else the value re-rendered by Jackson. */
  private static String convertString(JsonParser parser) throws IOException {
    JsonToken token = parser.currentToken();
    while (token == JsonToken.FIELD_NAME) {
      token = parser.nextToken();
    }
    if (token == null || token == JsonToken.VALUE_NULL) {
      return null;
    }
    if (token == JsonToken.VALUE_STRING) {
      return parser.getText();
    }
    ByteArrayBuilder out = new ByteArrayBuilder(64);
    try (JsonGenerator generator = FACTORY.createGenerator(out, JsonEncoding.UTF8)) {
      generator.copyCurrentStructure(parser);
    }
    return new String(out.toByteArray(), StandardCharsets.UTF_8);
  }

  private static boolean nextUntil(JsonParser parser, JsonToken stopOn) throws IOException {
    JsonToken token = parser.nextToken();
    return token != null && token != stopOn;
  }

  /** Control flow for a record some of whose fields failed to convert. */
  private static final class PartialRecord extends RuntimeException {
    final String[] row;

    PartialRecord(String[] row) {
      super(null, null, false, false);
      this.row = row;
    }
  }
}
