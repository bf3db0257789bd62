package dev.metalayer.keys;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.metalayer.MetaLayer;
import dev.metalayer.crypto.TokenCipher;
import dev.metalayer.keys.KeyService.CreatedKey;
import dev.metalayer.store.Database;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.MutableClock;
import dev.metalayer.testing.TestDatabases;
import java.security.SecureRandom;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Two instances on one PostgreSQL schema, each with its own pool and its own cache: a key revoked, a
 * number removed or a token changed on the first holds on the second after its next poll of the
 * change counter, long before the grant cache's 30 seconds (the clock does not move).
 */
class KeyChangesAcrossInstancesTest {
  private static final byte[] MASTER_KEY = new byte[32];
  private static final String PNID_1 = "106540352242922";
  private static final String PNID_2 = "436666719526789";
  private final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  private TestDatabases.PgSchema pg;
  private HikariDataSource secondPool;
  private Database db1;
  private Database db2;

  @BeforeEach
  void open() {
    pg = TestDatabases.postgres();
    db1 = pg.database();
    secondPool = pg.pool(4);
    db2 = Database.open(secondPool);
  }

  @AfterEach
  void close() {
    if (secondPool != null) {
      secondPool.close();
    }
    if (pg != null) {
      pg.close();
    }
  }

  private KeyService instance(Database db) {
    return new KeyService(Stores.keys(db), new TokenCipher(MASTER_KEY, new SecureRandom()), clock, new SecureRandom(),
        Duration.ofSeconds(30));
  }

  private static String token(Resolution r) {
    assertThat(r).isInstanceOf(Resolution.Granted.class);
    return ((Resolution.Granted) r).grant().metaToken();
  }

  @Test
  void aRevocationARemovalAndARotationOnOneInstanceHoldOnTheOtherAfterItsPoll() {
    KeyService one = instance(db1);
    KeyService two = instance(db2);
    one.addNumber("+15550783881", PNID_1, "102290129340398", "555", "EAAG-token-1");
    one.addNumber("+13175551399", PNID_2, "366634483210360", "555", "EAAG-token-2");
    CreatedKey revoked = one.createKey(PNID_1).orElseThrow();
    CreatedKey rotated = one.createKey(PNID_1).orElseThrow();
    CreatedKey removed = one.createKey(PNID_2).orElseThrow();
    two.refresh();
    assertThat(token(two.resolve(revoked.key()))).isEqualTo("EAAG-token-1");
    assertThat(token(two.resolve(rotated.key()))).isEqualTo("EAAG-token-1");
    assertThat(token(two.resolve(removed.key()))).isEqualTo("EAAG-token-2");
    assertThat(two.isRegisteredObject(PNID_2)).isTrue();

    assertThat(one.revokeKey(revoked.record().id())).isTrue();
    assertThat(one.updateToken(PNID_1, "EAAG-token-1-rotated")).isTrue();
    assertThat(one.removeNumber(PNID_2)).isTrue();
    // before the poll, the second instance still serves what it cached (as for 30 s before the counter)
    assertThat(two.resolve(revoked.key())).isInstanceOf(Resolution.Granted.class);

    two.refresh();
    assertThat(two.resolve(revoked.key())).isEqualTo(new Resolution.Refused(Resolution.Reason.REVOKED));
    assertThat(token(two.resolve(rotated.key()))).isEqualTo("EAAG-token-1-rotated");
    assertThat(two.resolve(removed.key())).isEqualTo(new Resolution.Refused(Resolution.Reason.UNKNOWN));
    assertThat(two.isRegisteredObject(PNID_2)).as("the numbers' directory forgot it too").isFalse();
    assertThat(two.findNumber(PNID_2)).isEmpty();
  }

  @Test
  void aNumberAddedOnOneInstanceIsKnownToTheOtherAfterItsPoll() {
    KeyService one = instance(db1);
    KeyService two = instance(db2);
    two.refresh();
    assertThat(two.isRegisteredObject(PNID_1)).isFalse();
    one.addNumber("+15550783881", PNID_1, "102290129340398", "555", "EAAG-token-1");
    two.refresh();
    assertThat(two.isRegisteredObject(PNID_1)).isTrue();
    assertThat(two.findNumber(PNID_1)).isPresent();
  }

  @Test
  void twoStartedLayersRefuseAKeyRevokedOnTheOtherWithinSeconds() {
    MetaLayer first = layer(db1);
    MetaLayer second = layer(db2);
    try {
      first.start();
      second.start();
      first.keys().addNumber("+15550783881", PNID_1, "102290129340398", "555", "EAAG-token-1");
      CreatedKey created = first.keys().createKey(PNID_1).orElseThrow();
      assertThat(second.tokenResolver().resolve(created.key())).isInstanceOf(Resolution.Granted.class);

      assertThat(first.keys().revokeKey(created.record().id())).isTrue();
      // the documented bound is the 1 s poll plus a request under way; the deadline is generous for a loaded machine
      long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      while (second.tokenResolver().resolve(created.key()) instanceof Resolution.Granted) {
        assertThat(System.nanoTime()).as("refused on the second layer before the deadline").isLessThan(deadline);
        sleep(50);
      }
      assertThat(second.tokenResolver().resolve(created.key()))
          .isEqualTo(new Resolution.Refused(Resolution.Reason.REVOKED));
    } finally {
      first.close();
      second.close();
    }
  }

  private MetaLayer layer(Database db) {
    return MetaLayer.builder()
        .keyStore(Stores.keys(db))
        .relayStore(Stores.relay(db))
        .masterKey(MASTER_KEY)
        .clock(clock)
        .build();
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
