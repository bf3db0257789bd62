package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The engine's pure rules; its claims and attempts are tested through the real relay (RelayTimeRulesTest). */
class DeliveryEngineTest {
  /** A number may hold half its lane's workers by default, never none, and exactly what is set otherwise. */
  @Test
  void aNumbersShareOfALaneIsHalfItsWorkersAtLeastOneUnlessSet() {
    assertThat(DeliveryEngine.perNumber(0, 8)).isEqualTo(4);
    assertThat(DeliveryEngine.perNumber(0, 5)).isEqualTo(2);
    assertThat(DeliveryEngine.perNumber(0, 1)).isEqualTo(1);
    assertThat(DeliveryEngine.perNumber(1, 8)).isEqualTo(1);
    assertThat(DeliveryEngine.perNumber(6, 8)).isEqualTo(6);
  }
}
