package dev.shopstream.silver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class RawParserTest {

  private static final RawParser PARSER = new RawParser(new String[] {"a", "b", "c"});

  private static String[] parse(String json) {
    byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
    return PARSER.parse(bytes, 0, bytes.length);
  }

  @Test
  void stringFieldsInDeclaredOrderAbsentAndNullAreNull() {
    assertArrayEquals(new String[] {"x", null, "z"}, parse("{\"c\":\"z\",\"a\":\"x\",\"b\":null}"));
    assertArrayEquals(new String[] {null, null, null}, parse(" {} "));
  }

  @Test
  void otherValuesAreReRenderedLikeSparkDoes() {
    assertArrayEquals(
        new String[] {"1.5", "12", "true"}, parse("{\"a\":1.50,\"b\":12,\"c\":true}"));
    assertArrayEquals(
        new String[] {"1.0E10", "\"Infinity\"", "-0.0"},
        parse("{\"a\":1e10,\"b\":1e400,\"c\":-0.0}"));
    assertArrayEquals(
        new String[] {"{\"x\":[1,{\"y\":null}]}", null, null},
        parse("{\"a\": {\"x\": [1, {\"y\": null}]}}"));
  }

  @Test
  void escapesAreDecodedAndTheLastDuplicateWins() {
    assertArrayEquals(
        new String[] {"q\"\u00e9\n", "2", null}, parse("{\"a\":\"q\\\"\\u00e9\\n\",\"b\":1,\"b\":2}"));
  }

  @Test
  void anythingButExactlyOneObjectIsNull() {
    for (String text :
        new String[] {
          "{\"a\":1}}", "{\"a\":1} junk", "{\"a\":1}{\"a\":2}", "{\"a\":1,}", "[1]", "42",
          "null", "\"s\"", "{'a':1}", "{\"a\":NaN}", "{\"a\":01}", "{\"a\":\"x\u0001\"}", "nope",
          "{\"a\":1},{\"a\":2}", "{\"a\":" .repeat(1001) + "1" + "}".repeat(1001)
        }) {
      assertNull(parse(text), text);
    }
  }

  @Test
  void aFieldThatFailsToParseIsNullButTheRecordSurvivesAsInSpark() {
    // Spark's partial results: the broken array's error leaves "b" null; the stray ']'
    // then closes the array Spark believes it is still in.
    assertArrayEquals(new String[] {"1", null, null}, parse("{\"a\":\"1\",\"b\":[1,]]}"));
  }

  @Test
  void readsASliceOfTheBuffer() {
    byte[] bytes = "xx{\"a\":\"in\"}yy".getBytes(StandardCharsets.UTF_8);
    assertArrayEquals(new String[] {"in", null, null}, PARSER.parse(bytes, 2, bytes.length - 4));
  }
}
