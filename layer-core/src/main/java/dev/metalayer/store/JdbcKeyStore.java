package dev.metalayer.store;

import dev.metalayer.keys.Grant;
import dev.metalayer.keys.Grant.Scope;
import dev.metalayer.keys.KeyRecord;
import dev.metalayer.keys.KeyStore;
import dev.metalayer.keys.WhatsAppNumber;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/** A {@link KeyStore} on a JDBC {@link Database} (H2 or PostgreSQL). Thread-safe. */
final class JdbcKeyStore implements KeyStore {
  private static final String NUMBER_COLUMNS =
      "SELECT phone_number_id, phone, waba_id, business_id, meta_token, created_at";
  private static final String KEY_COLUMNS =
      "SELECT id, key_hash, prefix, phone_number_id, created_at, last_used_at, revoked_at, scopes, rate_per_second,"
          + " rate_burst";

  /** The one query of a cold resolution: the key joined with its number (the number's columns renamed). */
  private static final String KEY_WITH_NUMBER =
      "SELECT k.id, k.key_hash, k.prefix, k.phone_number_id, k.created_at, k.last_used_at, k.revoked_at, k.scopes,"
          + " k.rate_per_second, k.rate_burst, n.phone, n.waba_id, n.business_id, n.meta_token, n.created_at AS number_created_at"
          + " FROM layer_keys k JOIN layer_numbers n ON n.phone_number_id = k.phone_number_id WHERE k.key_hash = ?";
  /** Moves the change counter (migration V10); run in the transaction of the change it announces. */
  private static final String MOVE_CHANGES = "UPDATE layer_key_changes SET version = version + 1 WHERE id = 1";

  private final Database db;
  private final Sql sql;

  /** Numbers and keys in {@code db}, whose schema {@link Database#open} has brought up to date. */
  public JdbcKeyStore(Database db) {
    this.db = Objects.requireNonNull(db, "db");
    this.sql = new Sql(db);
  }

  @Override
  public boolean insertNumber(StoredNumber stored) {
    WhatsAppNumber n = stored.number();
    return sql.inTransaction(tx -> {
      if (tx.exists("SELECT 1 FROM layer_numbers WHERE phone_number_id = ? OR phone = ?", n.phoneNumberId(), n.phone())) {
        return false;
      }
      tx.update("INSERT INTO layer_numbers (phone_number_id, phone, waba_id, business_id, meta_token, created_at)"
              + " VALUES (?, ?, ?, ?, ?, ?)",
          n.phoneNumberId(), n.phone(), Sql.text(n.wabaId()), Sql.text(n.businessId()), Sql.bytes(stored.sealedToken()),
          n.createdAt());
      tx.update(MOVE_CHANGES);
      return true;
    });
  }

  @Override
  public boolean updateToken(String phoneNumberId, byte[] sealedToken) {
    return sql.inTransaction(tx -> {
      if (tx.update("UPDATE layer_numbers SET meta_token = ? WHERE phone_number_id = ?", Sql.bytes(sealedToken),
          phoneNumberId) != 1) {
        return false;
      }
      tx.update(MOVE_CHANGES);
      return true;
    });
  }

  @Override
  public Optional<StoredNumber> findNumber(String phoneNumberId) {
    return sql.first(NUMBER_COLUMNS + " FROM layer_numbers WHERE phone_number_id = ?", JdbcKeyStore::number,
        phoneNumberId);
  }

  @Override
  public List<StoredNumber> listNumbers() {
    return sql.query(NUMBER_COLUMNS + " FROM layer_numbers ORDER BY created_at, phone_number_id", JdbcKeyStore::number);
  }

  @Override
  public boolean deleteNumber(String phoneNumberId) {
    return sql.inTransaction(tx -> {
      tx.update("DELETE FROM layer_keys WHERE phone_number_id = ?", phoneNumberId);
      if (tx.update("DELETE FROM layer_numbers WHERE phone_number_id = ?", phoneNumberId) != 1) {
        return false;
      }
      tx.update(MOVE_CHANGES);
      return true;
    });
  }

  @Override
  public void insertKey(StoredKey key) {
    KeyRecord r = key.record();
    sql.inTransaction(tx -> {
      if (!tx.exists("SELECT 1 FROM layer_numbers WHERE phone_number_id = ?", r.phoneNumberId())) {
        throw new IllegalArgumentException("no number " + r.phoneNumberId());
      }
      tx.update("INSERT INTO layer_keys (id, key_hash, prefix, phone_number_id, created_at, last_used_at, revoked_at,"
              + " scopes, rate_per_second, rate_burst) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          r.id(), key.hash(), r.prefix(), r.phoneNumberId(), r.createdAt(), Sql.millis(r.lastUsedAt()),
          Sql.millis(r.revokedAt()), Scope.names(r.scopes()), rate(r.rateLimit()), burst(r.rateLimit()));
      return null;
    });
  }

  @Override
  public Optional<StoredKey> findKeyByHash(String hash) {
    return sql.first(KEY_COLUMNS + " FROM layer_keys WHERE key_hash = ?",
        rs -> new StoredKey(key(rs), rs.getString("key_hash")), hash);
  }

  @Override
  public Optional<KeyWithNumber> findKeyWithNumber(String hash) {
    return sql.first(KEY_WITH_NUMBER, rs -> new KeyWithNumber(
        new StoredKey(key(rs), rs.getString("key_hash")),
        new StoredNumber(
            new WhatsAppNumber(
                rs.getString("phone"),
                rs.getString("phone_number_id"),
                rs.getString("waba_id"),
                rs.getString("business_id"),
                Instant.ofEpochMilli(rs.getLong("number_created_at"))),
            rs.getBytes("meta_token"))), hash);
  }

  @Override
  public boolean updateRateLimit(String id, Optional<Grant.RateLimit> limit) {
    return sql.inTransaction(tx -> {
      if (tx.update("UPDATE layer_keys SET rate_per_second = ?, rate_burst = ? WHERE id = ?", rate(limit), burst(limit),
          id) != 1) {
        return false;
      }
      tx.update(MOVE_CHANGES);
      return true;
    });
  }

  @Override
  public List<KeyRecord> listKeys() {
    return sql.query(KEY_COLUMNS + " FROM layer_keys ORDER BY created_at, id", JdbcKeyStore::key);
  }

  @Override
  public boolean revokeKey(String id, Instant at) {
    return sql.inTransaction(tx -> {
      if (tx.update("UPDATE layer_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", at, id) != 1) {
        return false;
      }
      tx.update(MOVE_CHANGES);
      return true;
    });
  }

  @Override
  public void touchKey(String id, Instant at) {
    sql.update("UPDATE layer_keys SET last_used_at = ? WHERE id = ?", at, id);
  }

  /** One batched {@code UPDATE}, in one transaction, that moves each time only forward. */
  @Override
  public void touchKeys(Map<String, Instant> lastUsed) {
    if (lastUsed.isEmpty()) {
      return;
    }
    sql.inTransaction(tx -> {
      try (Sql.Prepared touch = tx.prepare("UPDATE layer_keys SET last_used_at = ?"
          + " WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)")) {
        // in id order, so that two instances writing the same keys lock them in the same order
        for (Map.Entry<String, Instant> e : new java.util.TreeMap<>(lastUsed).entrySet()) {
          touch.add(TOUCH_BATCH, e.getValue(), e.getKey(), e.getValue());
        }
        touch.flush();
      }
      return null;
    });
  }

  /** Rows sent per batch of {@link #touchKeys}. */
  private static final int TOUCH_BATCH = 500;

  @Override
  public long keyChanges() {
    return sql.first("SELECT version FROM layer_key_changes WHERE id = 1", rs -> rs.getLong(1)).orElse(0L);
  }

  @Override
  public boolean ping() {
    return db.ping();
  }

  /** The check value is the one row of {@code layer_master_key_check} (migration V7). */
  @Override
  public Optional<byte[]> masterKeyCheck() {
    return sql.first("SELECT sealed FROM layer_master_key_check WHERE id = 1", rs -> rs.getBytes(1));
  }

  @Override
  public boolean saveMasterKeyCheck(byte[] sealed) {
    try {
      return sql.update("INSERT INTO layer_master_key_check (id, sealed, created_at) VALUES (1, ?, ?)",
          Sql.bytes(sealed), System.currentTimeMillis()) == 1;
    } catch (dev.metalayer.relay.StoreException e) {
      // another instance saved its check first (primary key): the first one stays
      if (e.duplicate()) {
        return false;
      }
      throw e;
    }
  }

  private static StoredNumber number(ResultSet rs) throws SQLException {
    return new StoredNumber(
        new WhatsAppNumber(
            rs.getString("phone"),
            rs.getString("phone_number_id"),
            rs.getString("waba_id"),
            rs.getString("business_id"),
            Instant.ofEpochMilli(rs.getLong("created_at"))),
        rs.getBytes("meta_token"));
  }

  private static KeyRecord key(ResultSet rs) throws SQLException {
    return new KeyRecord(
        rs.getString("id"),
        rs.getString("prefix"),
        rs.getString("phone_number_id"),
        Instant.ofEpochMilli(rs.getLong("created_at")),
        Sql.instant(rs, "last_used_at"),
        Sql.instant(rs, "revoked_at"),
        scopes(rs.getString("scopes")),
        rateLimit(rs));
  }

  /** The columns of a key's rate limit (migration V15): both NULL for the default, both 0 for none. */
  private static Object rate(Optional<Grant.RateLimit> limit) {
    return Sql.decimal(limit.map(Grant.RateLimit::perSecond).orElse(null));
  }

  private static Object burst(Optional<Grant.RateLimit> limit) {
    return Sql.integer(limit.map(Grant.RateLimit::burst).orElse(null));
  }

  private static Optional<Grant.RateLimit> rateLimit(ResultSet rs) throws SQLException {
    double rate = rs.getDouble("rate_per_second");
    if (rs.wasNull()) {
      return Optional.empty();
    }
    int burst = rs.getInt("rate_burst");
    return Optional.of(rs.wasNull() ? Grant.RateLimit.OFF : new Grant.RateLimit(rate, burst));
  }

  /**
   * The scopes of a {@code scopes} column (migration V13). A name this version does not know (written by a
   * newer one) is left out: this version has nothing it would allow.
   */
  static Set<Scope> scopes(String column) {
    EnumSet<Scope> out = EnumSet.noneOf(Scope.class);
    for (String name : column.split(",")) {
      Scope.named(name.strip()).ifPresent(out::add);
    }
    if (out.isEmpty()) {
      throw new IllegalStateException("a key's scopes column names no scope this version knows");
    }
    return out;
  }
}
