package dev.metalayer.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class RequestIdsTest {
  private static final String PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

  @Test
  void aSafeIncomingIdIsKeptAsItIs() {
    RequestIds.Trace t = RequestIds.incoming("req-42_a.b:c+/=@Z", null, new SplittableRandom(1));
    assertThat(t.requestId()).isEqualTo("req-42_a.b:c+/=@Z");
    assertThat(t.traceparent()).isEmpty();
    assertThat(t.headers()).containsExactly(java.util.Map.entry("X-Request-Id", "req-42_a.b:c+/=@Z"));
  }

  @Test
  void hostileIdsAreReplacedByAFreshOne() {
    for (String hostile : new String[] {"", "a".repeat(129), "abc\r\nX-Evil: 1", "abc def", "caf\u00e9", "a\"b", "a\u0000b",
        "{\"json\":1}", "%0d%0a"}) {
      String id = RequestIds.incoming(hostile, null, new SplittableRandom(2)).requestId();
      assertThat(id).as(hostile).matches("[0-9a-f]{32}").isNotEqualTo(hostile);
    }
    assertThat(RequestIds.incoming("a".repeat(128), null, new SplittableRandom(2)).requestId()).hasSize(128);
  }

  @Test
  void aValidTraceparentGivesItsTraceIdAndGoesOnWithANewSpan() {
    RequestIds.Trace t = RequestIds.incoming(null, PARENT, new SplittableRandom(3));
    assertThat(t.requestId()).isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
    String next = t.traceparent().orElseThrow();
    assertThat(next).matches("00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01").isNotEqualTo(PARENT);
    assertThat(t.headers()).containsEntry("traceparent", next).containsEntry("X-Request-Id", t.requestId());
  }

  @Test
  void anIncomingIdWinsOverTheTraceIdAndTheTraceStillGoesOn() {
    RequestIds.Trace t = RequestIds.incoming("mine", PARENT, new SplittableRandom(4));
    assertThat(t.requestId()).isEqualTo("mine");
    assertThat(t.traceparent()).get().asString().startsWith("00-4bf92f3577b34da6a3ce929d0e0e4736-");
  }

  @Test
  void invalidTraceparentsAreDropped() {
    for (String bad : new String[] {
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // upper case
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01", // zero trace-id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // zero parent
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // forbidden version
        PARENT + "-extra", // version 00 has no more fields
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", // short
        "00-4bf92f3577b34da6a3ce929d0e0e4736\r\n-00f067aa0ba902b7-01"}) {
      RequestIds.Trace t = RequestIds.incoming(null, bad, new SplittableRandom(5));
      assertThat(t.traceparent()).as(bad).isEmpty();
      assertThat(t.requestId()).as(bad).matches("[0-9a-f]{32}").isNotEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
    }
  }

  @Test
  void aLaterVersionIsReadByItsFirstFieldsAndSentOnAsVersion00() {
    RequestIds.Trace t = RequestIds.incoming(null, "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-more",
        new SplittableRandom(6));
    assertThat(t.requestId()).isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
    assertThat(t.traceparent()).get().asString().startsWith("00-4bf92f3577b34da6a3ce929d0e0e4736-").endsWith("-01");
  }

  @Test
  void generatedIdsDifferAndATraceRefusesAnInvalidId() {
    SplittableRandom random = new SplittableRandom(7);
    assertThat(RequestIds.generate(random)).isNotEqualTo(RequestIds.generate(random));
    assertThatThrownBy(() -> new RequestIds.Trace("a b", Optional.empty())).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void everyLetterAndDigitAtTheEdgesOfItsRangeIsKeptAndItsNeighboursAreNot() {
    assertThat(RequestIds.valid("azAZ09")).isTrue();
    assertThat(RequestIds.valid("-")).isTrue();
    for (String outside : new String[] {"`", "{", "[", "!", "~", "\u0080"}) {
      assertThat(RequestIds.valid(outside)).as(outside).isFalse();
    }
    assertThat(RequestIds.valid(null)).isFalse();
  }

  @Test
  void aLaterVersionMayEndAfterItsFlagsOrGoOnWithADashOnly() {
    String trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    assertThat(RequestIds.incoming(null, "01-" + trace + "-00f067aa0ba902b7-02", new SplittableRandom(8))
        .traceparent()).get().asString().startsWith("00-" + trace + "-").endsWith("-00");
    assertThat(RequestIds.incoming(null, "01-" + trace + "-00f067aa0ba902b7-01x", new SplittableRandom(8))
        .traceparent()).isEmpty();
    assertThat(RequestIds.incoming(null, "00-" + trace + "-00f067aa0ba902b7-0g", new SplittableRandom(8))
        .traceparent()).isEmpty();
  }

  @Test
  void aTraceOfAStoredIdCarriesThatIdAloneAndRefusesAnUnsafeOne() {
    RequestIds.Trace t = RequestIds.Trace.of("req-42");
    assertThat(t.requestId()).isEqualTo("req-42");
    assertThat(t.traceparent()).isEmpty();
    assertThat(t.headers()).containsExactly(java.util.Map.entry("X-Request-Id", "req-42"));
    assertThatThrownBy(() -> RequestIds.Trace.of("a b")).isInstanceOf(IllegalArgumentException.class);
  }
}
