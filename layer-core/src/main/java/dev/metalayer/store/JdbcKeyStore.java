package dev.metalayer.store;

import dev.metalayer.keys.KeyStore;
import dev.metalayer.keys.KeyRecord;
import dev.metalayer.keys.WhatsAppNumber;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/** A {@link KeyStore} on a JDBC {@link Database} (H2 or PostgreSQL). Thread-safe. */
public final class JdbcKeyStore implements KeyStore {
  private final Database db;

  public JdbcKeyStore(Database db) {
    this.db = Objects.requireNonNull(db, "db");
  }

  @Override
  public boolean insertNumber(StoredNumber stored) {
    WhatsAppNumber n = stored.number();
    return db.inTransaction(
        c -> {
          try (PreparedStatement p =
              c.prepareStatement("SELECT 1 FROM layer_numbers WHERE phone_number_id = ? OR phone = ?")) {
            p.setString(1, n.phoneNumberId());
            p.setString(2, n.phone());
            try (ResultSet rs = p.executeQuery()) {
              if (rs.next()) {
                return false;
              }
            }
          }
          try (PreparedStatement p =
              c.prepareStatement(
                  "INSERT INTO layer_numbers (phone_number_id, phone, waba_id, business_id, meta_token, created_at)"
                      + " VALUES (?, ?, ?, ?, ?, ?)")) {
            p.setString(1, n.phoneNumberId());
            p.setString(2, n.phone());
            p.setString(3, n.wabaId());
            p.setString(4, n.businessId());
            p.setBytes(5, stored.sealedToken());
            p.setLong(6, n.createdAt().toEpochMilli());
            p.executeUpdate();
          }
          return true;
        });
  }

  @Override
  public boolean updateToken(String phoneNumberId, byte[] sealedToken) {
    return db.withConnection(
        c -> {
          try (PreparedStatement p =
              c.prepareStatement("UPDATE layer_numbers SET meta_token = ? WHERE phone_number_id = ?")) {
            p.setBytes(1, sealedToken);
            p.setString(2, phoneNumberId);
            return p.executeUpdate() == 1;
          }
        });
  }

  @Override
  public Optional<StoredNumber> findNumber(String phoneNumberId) {
    return db.withConnection(
        c -> {
          try (PreparedStatement p =
              c.prepareStatement(NUMBER_COLUMNS + " FROM layer_numbers WHERE phone_number_id = ?")) {
            p.setString(1, phoneNumberId);
            try (ResultSet rs = p.executeQuery()) {
              return rs.next() ? Optional.of(number(rs)) : Optional.empty();
            }
          }
        });
  }

  @Override
  public List<StoredNumber> listNumbers() {
    return db.withConnection(
        c -> {
          try (PreparedStatement p =
                  c.prepareStatement(NUMBER_COLUMNS + " FROM layer_numbers ORDER BY created_at, phone_number_id");
              ResultSet rs = p.executeQuery()) {
            List<StoredNumber> out = new ArrayList<>();
            while (rs.next()) {
              out.add(number(rs));
            }
            return out;
          }
        });
  }

  @Override
  public boolean deleteNumber(String phoneNumberId) {
    return db.inTransaction(
        c -> {
          try (PreparedStatement p = c.prepareStatement("DELETE FROM layer_keys WHERE phone_number_id = ?")) {
            p.setString(1, phoneNumberId);
            p.executeUpdate();
          }
          try (PreparedStatement p = c.prepareStatement("DELETE FROM layer_numbers WHERE phone_number_id = ?")) {
            p.setString(1, phoneNumberId);
            return p.executeUpdate() == 1;
          }
        });
  }

  @Override
  public void insertKey(StoredKey key) {
    KeyRecord r = key.record();
    db.inTransaction(
        c -> {
          try (PreparedStatement p = c.prepareStatement("SELECT 1 FROM layer_numbers WHERE phone_number_id = ?")) {
            p.setString(1, r.phoneNumberId());
            try (ResultSet rs = p.executeQuery()) {
              if (!rs.next()) {
                throw new IllegalArgumentException("no number " + r.phoneNumberId());
              }
            }
          }
          try (PreparedStatement p =
              c.prepareStatement(
                  "INSERT INTO layer_keys (id, key_hash, prefix, phone_number_id, created_at, last_used_at, revoked_at)"
                      + " VALUES (?, ?, ?, ?, ?, ?, ?)")) {
            p.setString(1, r.id());
            p.setString(2, key.hash());
            p.setString(3, r.prefix());
            p.setString(4, r.phoneNumberId());
            p.setLong(5, r.createdAt().toEpochMilli());
            setInstant(p, 6, r.lastUsedAt());
            setInstant(p, 7, r.revokedAt());
            p.executeUpdate();
          }
          return null;
        });
  }

  @Override
  public Optional<StoredKey> findKeyByHash(String hash) {
    return db.withConnection(
        c -> {
          try (PreparedStatement p = c.prepareStatement(KEY_COLUMNS + " FROM layer_keys WHERE key_hash = ?")) {
            p.setString(1, hash);
            try (ResultSet rs = p.executeQuery()) {
              return rs.next() ? Optional.of(new StoredKey(key(rs), rs.getString("key_hash"))) : Optional.empty();
            }
          }
        });
  }

  @Override
  public List<KeyRecord> listKeys() {
    return db.withConnection(
        c -> {
          try (PreparedStatement p = c.prepareStatement(KEY_COLUMNS + " FROM layer_keys ORDER BY created_at, id");
              ResultSet rs = p.executeQuery()) {
            List<KeyRecord> out = new ArrayList<>();
            while (rs.next()) {
              out.add(key(rs));
            }
            return out;
          }
        });
  }

  @Override
  public boolean revokeKey(String id, Instant at) {
    return db.withConnection(
        c -> {
          try (PreparedStatement p =
              c.prepareStatement("UPDATE layer_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")) {
            p.setLong(1, at.toEpochMilli());
            p.setString(2, id);
            return p.executeUpdate() == 1;
          }
        });
  }

  @Override
  public void touchKey(String id, Instant at) {
    db.withConnection(
        c -> {
          try (PreparedStatement p = c.prepareStatement("UPDATE layer_keys SET last_used_at = ? WHERE id = ?")) {
            p.setLong(1, at.toEpochMilli());
            p.setString(2, id);
            return p.executeUpdate();
          }
        });
  }

  @Override
  public boolean ping() {
    return db.ping();
  }

  /** The check value is the one row of {@code layer_master_key_check} (migration V7). */
  @Override
  public Optional<byte[]> masterKeyCheck() {
    return db.withConnection(
        c -> {
          try (PreparedStatement p = c.prepareStatement("SELECT sealed FROM layer_master_key_check WHERE id = 1");
              ResultSet rs = p.executeQuery()) {
            return rs.next() ? Optional.of(rs.getBytes(1)) : Optional.empty();
          }
        });
  }

  @Override
  public boolean saveMasterKeyCheck(byte[] sealed) {
    try {
      return db.withConnection(
          c -> {
            try (PreparedStatement p =
                c.prepareStatement("INSERT INTO layer_master_key_check (id, sealed, created_at) VALUES (1, ?, ?)")) {
              p.setBytes(1, sealed);
              p.setLong(2, System.currentTimeMillis());
              return p.executeUpdate() == 1;
            }
          });
    } catch (dev.metalayer.relay.StoreException e) {
      // another instance saved its check first (primary key): the first one stays
      if (masterKeyCheck().isPresent()) {
        return false;
      }
      throw e;
    }
  }

  private static final String NUMBER_COLUMNS =
      "SELECT phone_number_id, phone, waba_id, business_id, meta_token, created_at";
  private static final String KEY_COLUMNS =
      "SELECT id, key_hash, prefix, phone_number_id, created_at, last_used_at, revoked_at";

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
        instant(rs, "last_used_at"),
        instant(rs, "revoked_at"));
  }

  static Optional<Instant> instant(ResultSet rs, String column) throws SQLException {
    long millis = rs.getLong(column);
    return rs.wasNull() ? Optional.empty() : Optional.of(Instant.ofEpochMilli(millis));
  }

  static void setInstant(PreparedStatement p, int index, Optional<Instant> value) throws SQLException {
    if (value.isPresent()) {
      p.setLong(index, value.get().toEpochMilli());
    } else {
      p.setNull(index, java.sql.Types.BIGINT);
    }
  }
}
