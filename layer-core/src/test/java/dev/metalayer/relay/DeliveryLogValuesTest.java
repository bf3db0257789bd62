package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** What the delivery log shows of an attempt, a state and a lane, as a key and the API read them. */
class DeliveryLogValuesTest {
  private static Optional<String> classOf(String error) {
    return new Attempt(1, Instant.EPOCH, Optional.empty(), 0, Optional.ofNullable(error), Optional.empty()).errorClass();
  }

  /** A key sees only the class of a failure, never its text: each failure the transports write has its own. */
  @Test
  void everyFailureTheTransportWritesHasItsOwnClass() {
    assertThat(classOf("timed out after 5000 ms")).contains("timeout");
    assertThat(classOf("connection refused")).contains("connection_refused");
    assertThat(classOf("unknown host")).contains("unknown_host");
    assertThat(classOf("target address not allowed by the egress guard")).contains("not_allowed");
    assertThat(classOf("the subscription secret cannot be read")).contains("secret_unreadable");
    assertThat(classOf("I/O failure: EOFException")).contains("io_error");
    assertThat(classOf(null)).as("an answered attempt").isEmpty();
  }

  @Test
  void aStateFilterNamesAStateByItsWireNameOnly() {
    for (DeliveryState s : DeliveryState.values()) {
      assertThat(DeliveryState.parse(s.wire())).contains(s);
      assertThat(DeliveryState.fromWire(s.wire())).isEqualTo(s);
    }
    assertThat(DeliveryState.parse("DELIVERED")).isEmpty();
    assertThat(DeliveryState.parse("sent")).isEmpty();
  }

  /** Delivered, expired, dead and superseded end a delivery (no next attempt, retention counts); the others do not. */
  @Test
  void onlyDeliveredExpiredDeadAndSupersededAreFinal() {
    assertThat(java.util.Arrays.stream(DeliveryState.values()).filter(DeliveryState::isFinal))
        .containsExactly(DeliveryState.DELIVERED, DeliveryState.EXPIRED, DeliveryState.DEAD, DeliveryState.SUPERSEDED);
  }

  /** The store and the API name a lane in lower case, and read it back. */
  @Test
  void aLaneIsNamedInLowerCaseAndReadBack() {
    assertThat(Lane.CALLS.wire()).isEqualTo("calls");
    assertThat(Lane.DEFAULT.wire()).isEqualTo("default");
    for (Lane lane : Lane.values()) {
      assertThat(Lane.fromWire(lane.wire())).isEqualTo(lane);
    }
  }

  @Test
  void onlyAStoreWriteThatHitATakenKeyIsADuplicate() {
    assertThat(new StoreException("the disk is full", null).duplicate()).isFalse();
    assertThat(new StoreException("taken", null, true).duplicate()).isTrue();
  }
}
