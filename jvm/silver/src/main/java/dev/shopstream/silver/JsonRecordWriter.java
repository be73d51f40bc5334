package dev.shopstream.silver;

import com.fasterxml.jackson.core.JsonGenerator;
import java.io.CharArrayWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.chrono.IsoChronology;
import java.time.format.DateTimeFormatter;
import java.time.format.ResolverStyle;
import java.util.Locale;

/**
 * One flat JSON object, written exactly as Spark's {@code to_json} writes it with the
 * session time zone UTC and {@code ignoreNullFields=false}: fields in order, nulls kept,
 * strings escaped and decimals spelled by the same Jackson generator (writing characters,
 * as Spark's does: a UTF-8 one would escape characters outside the BMP), timestamps as
 * {@code yyyy-MM-dd'T'HH:mm:ss.SSSXXX} (UTC: {@code Z}) and dates as {@code yyyy-MM-dd}.
 *
 * <p>Not thread-safe; reuse one per thread: {@link #start()}, fields, {@link #finish()}.
 */
public final class JsonRecordWriter {

  private static final long MICROS_PER_SECOND = 1_000_000L;
  private static final long SECONDS_PER_DAY = 86_400L;
  // Spark's formatters, for years the fast path does not spell (outside 0000-9999):
  // "yyyy" is "uuuu" there, so year 10000 is "+10000" and year -1 is "-0001".
  private static final DateTimeFormatter TIMESTAMP =
      DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSXXX", Locale.US)
          .withChronology(IsoChronology.INSTANCE)
          .withResolverStyle(ResolverStyle.STRICT)
          .withZone(ZoneOffset.UTC);
  private static final DateTimeFormatter DATE =
      DateTimeFormatter.ofPattern("uuuu-MM-dd", Locale.US)
          .withChronology(IsoChronology.INSTANCE)
          .withResolverStyle(ResolverStyle.STRICT);

  private final CharArrayWriter buffer = new CharArrayWriter(512);
  private final char[] digits = new char[24];
  private JsonGenerator generator;

  public JsonRecordWriter start() {
    buffer.reset();
    try {
      generator = RawParser.FACTORY.createGenerator(buffer);
      generator.writeStartObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return this;
  }

  public String finish() {
    try {
      generator.writeEndObject();
      generator.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return buffer.toString();
  }

  public void string(String name, String value) throws IOException {
    generator.writeFieldName(name);
    if (value == null) {
      generator.writeNull();
    } else {
      generator.writeString(value);
    }
  }

  public void integer(String name, Integer value) throws IOException {
    generator.writeFieldName(name);
    if (value == null) {
      generator.writeNull();
    } else {
      generator.writeNumber(value.intValue());
    }
  }

  public void bigint(String name, Long value) throws IOException {
    generator.writeFieldName(name);
    if (value == null) {
      generator.writeNull();
    } else {
      generator.writeNumber(value.longValue());
    }
  }

  public void decimal(String name, BigDecimal value) throws IOException {
    generator.writeFieldName(name);
    if (value == null) {
      generator.writeNull();
    } else {
      generator.writeNumber(value);
    }
  }

  /** A TIMESTAMP given as microseconds since the epoch (Spark's internal value). */
  public void timestamp(String name, Long micros) throws IOException {
    generator.writeFieldName(name);
    if (micros == null) {
      generator.writeNull();
      return;
    }
    long seconds = Math.floorDiv(micros, MICROS_PER_SECOND);
    int millis = (int) (Math.floorMod(micros, MICROS_PER_SECOND) / 1000);
    long days = Math.floorDiv(seconds, SECONDS_PER_DAY);
    int secondOfDay = (int) Math.floorMod(seconds, SECONDS_PER_DAY);
    LocalDate date = LocalDate.ofEpochDay(days);
    if (date.getYear() < 0 || date.getYear() > 9999) {
      generator.writeString(TIMESTAMP.format(Instant.ofEpochSecond(seconds, millis * 1_000_000L)));
      return;
    }
    int n = putDate(date);
    digits[n++] = 'T';
    n = put2(n, secondOfDay / 3600);
    digits[n++] = ':';
    n = put2(n, secondOfDay / 60 % 60);
    digits[n++] = ':';
    n = put2(n, secondOfDay % 60);
    digits[n++] = '.';
    digits[n++] = (char) ('0' + millis / 100);
    n = put2(n, millis % 100);
    digits[n++] = 'Z';
    generator.writeString(digits, 0, n);
  }

  /** A DATE given as days since the epoch (Spark's internal value). */
  public void date(String name, Integer days) throws IOException {
    generator.writeFieldName(name);
    if (days == null) {
      generator.writeNull();
      return;
    }
    LocalDate date = LocalDate.ofEpochDay(days);
    if (date.getYear() < 0 || date.getYear() > 9999) {
      generator.writeString(DATE.format(date));
      return;
    }
    generator.writeString(digits, 0, putDate(date));
  }

  private int putDate(LocalDate date) {
    int year = date.getYear();
    int n = put2(0, year / 100);
    n = put2(n, year % 100);
    digits[n++] = '-';
    n = put2(n, date.getMonthValue());
    digits[n++] = '-';
    return put2(n, date.getDayOfMonth());
  }

  private int put2(int at, int value) {
    digits[at] = (char) ('0' + value / 10);
    digits[at + 1] = (char) ('0' + value % 10);
    return at + 2;
  }
}
