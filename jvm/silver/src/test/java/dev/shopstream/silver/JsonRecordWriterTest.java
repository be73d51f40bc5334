package dev.shopstream.silver;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;

class JsonRecordWriterTest {

  private final JsonRecordWriter writer = new JsonRecordWriter();

  @Test
  void fieldsInOrderNullsKeptNumbersPlain() throws IOException {
    JsonRecordWriter out = writer.start();
    out.string("s", "a\"b\\c\n\u0001\u00e9\u6771\uD83D\uDE00");
    out.string("n", null);
    out.integer("i", 7);
    out.bigint("l", 9_000_000_000L);
    out.decimal("d", new BigDecimal("10.50"));
    out.decimal("z", null);
    assertEquals(
        "{\"s\":\"a\\\"b\\\\c\\n\\u0001\u00e9\u6771\uD83D\uDE00\",\"n\":null,\"i\":7,\"l\":9000000000,"
            + "\"d\":10.50,\"z\":null}",
        out.finish());
  }

  @Test
  void timestampsAndDatesAsSparkWritesThemInUtc() throws IOException {
    JsonRecordWriter out = writer.start();
    out.timestamp("t", 1_764_072_000_123_456L);
    out.timestamp("e", -1L);
    out.date("d", 20_417);
    out.timestamp("n", null);
    assertEquals(
        "{\"t\":\"2025-11-25T12:00:00.123Z\",\"e\":\"1969-12-31T23:59:59.999Z\","
            + "\"d\":\"2025-11-25\",\"n\":null}",
        out.finish());
  }

  @Test
  void theFastPathSpellsEveryYearLikeJavaTime() throws IOException {
    DateTimeFormatter timestamp =
        DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSXXX", Locale.US)
            .withZone(ZoneOffset.UTC);
    DateTimeFormatter date = DateTimeFormatter.ofPattern("uuuu-MM-dd", Locale.US);
    Random random = new Random(42);
    long span = 400_000L * 365 * 86_400 * 1_000_000; // years -200000..200000, both paths
    for (int i = 0; i < 20_000; i++) {
      long micros = (i % 2 == 0) ? random.nextLong() % span : random.nextLong() % (span / 40);
      Instant instant = Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L))
          .plusNanos(Math.floorMod(micros, 1_000_000L) * 1000);
      int days = (int) Math.floorDiv(micros, 86_400_000_000L);
      JsonRecordWriter out = writer.start();
      out.timestamp("t", micros);
      out.date("d", days);
      String want =
          "{\"t\":\"" + timestamp.format(instant) + "\",\"d\":\""
              + date.format(LocalDate.ofEpochDay(days)) + "\"}";
      assertEquals(want, out.finish(), "micros " + micros);
    }
  }
}
