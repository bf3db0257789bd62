package dev.metalayer.store;

import dev.metalayer.relay.StoreException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

/**
 * Prepare, bind, execute and map, said once for the JDBC stores. A {@code Sql} on a {@link Database}
 * runs each statement on its own connection in auto-commit mode; inside {@link #inTransaction} every
 * statement runs on the transaction's connection, and {@link #prepare} keeps one statement for repeated
 * use (a loop, a batch). The SQL text stays with the store that writes it, so that a dialect can swap
 * it. A {@link SQLException} becomes a {@link StoreException} (its cause kept, for the SQL state).
 *
 * <p>Parameters bind by their type: {@code String}, {@code Integer}, {@code Long}, {@code Boolean},
 * {@code byte[]}, {@code Instant} (as epoch milliseconds), or a typed {@link Null}. A plain
 * {@code null} is refused: the type of an SQL NULL is said with {@link #text}, {@link #bytes},
 * {@link #millis} or {@link #integer}.
 *
 * <p>Every statement runs with the database's {@linkplain Database#statementTimeout statement timeout}
 * ({@link java.sql.Statement#setQueryTimeout}), so that a lock held elsewhere or an overloaded database ends
 * a statement with an error instead of holding its thread; only the migrations run {@link #untimed}.
 */
final class Sql {
  /** Maps the current row of a result. */
  @FunctionalInterface
  interface Row<T> {
    T map(ResultSet rs) throws SQLException;
  }

  /** Work done in one transaction. */
  @FunctionalInterface
  interface Work<T> {
    T run(Sql tx);
  }

  /** An SQL NULL of a JDBC type ({@link Types}). */
  record Null(int type) {}

  private final Database db;
  /** The transaction's connection; null: each statement takes its own connection. */
  private final Connection connection;
  /** Each statement's query timeout in seconds; 0: none. */
  private final int timeoutSeconds;

  Sql(Database db) {
    this(db, null, db.statementTimeoutSeconds());
  }

  private Sql(Database db, Connection connection, int timeoutSeconds) {
    this.db = db;
    this.connection = connection;
    this.timeoutSeconds = timeoutSeconds;
  }

  /** Statements on {@code db} without a timeout: for the migrations, which may take long on a large table. */
  static Sql untimed(Database db) {
    return new Sql(db, null, 0);
  }

  /** Statements on {@code db} that end after at most {@code seconds} (at least 1). */
  static Sql timed(Database db, int seconds) {
    return new Sql(db, null, Math.max(1, seconds));
  }

  /** Runs {@code work} in one transaction: committed when it returns, rolled back when it throws. */
  <T> T inTransaction(Work<T> work) {
    if (connection != null) {
      return work.run(this);
    }
    return db.inTransaction(timeoutSeconds, c -> work.run(new Sql(db, c, timeoutSeconds)));
  }

  /** Every row {@code sql} selects, mapped. */
  <T> List<T> query(String sql, Row<T> row, Object... params) {
    return run(sql, p -> map(p, row, params));
  }

  /** The first row {@code sql} selects, mapped; empty when none. */
  <T> Optional<T> first(String sql, Row<T> row, Object... params) {
    return run(sql, p -> first(p, row, params));
  }

  /** Whether {@code sql} selects a row. */
  boolean exists(String sql, Object... params) {
    return first(sql, rs -> Boolean.TRUE, params).isPresent();
  }

  /** Runs an insert, update or delete. @return the rows it changed */
  int update(String sql, Object... params) {
    return run(sql, p -> {
      bind(p, params);
      return p.executeUpdate();
    });
  }

  /** Runs a statement whose result is not read (a lock, DDL). */
  void execute(String sql, Object... params) {
    run(sql, p -> {
      bind(p, params);
      p.execute();
      return null;
    });
  }

  /** One statement kept for repeated use in this transaction; close it (try-with-resources). */
  Prepared prepare(String sql) {
    if (connection == null) {
      throw new IllegalStateException("a prepared statement is kept only inside a transaction");
    }
    try {
      return new Prepared(timed(connection.prepareStatement(sql)));
    } catch (SQLException e) {
      throw failed(e);
    }
  }

  /** A statement prepared once and run with several sets of parameters. */
  static final class Prepared implements AutoCloseable {
    private final PreparedStatement statement;
    private int batched;

    private Prepared(PreparedStatement statement) {
      this.statement = statement;
    }

    <T> List<T> query(Row<T> row, Object... params) {
      try {
        return map(statement, row, params);
      } catch (SQLException e) {
        throw failed(e);
      }
    }

    <T> Optional<T> first(Row<T> row, Object... params) {
      try {
        return Sql.first(statement, row, params);
      } catch (SQLException e) {
        throw failed(e);
      }
    }

    boolean exists(Object... params) {
      return first(rs -> Boolean.TRUE, params).isPresent();
    }

    int update(Object... params) {
      try {
        bind(statement, params);
        return statement.executeUpdate();
      } catch (SQLException e) {
        throw failed(e);
      }
    }

    /** Adds one set of parameters to the batch, sent every {@code every} rows and at {@link #flush}. */
    void add(int every, Object... params) {
      try {
        bind(statement, params);
        statement.addBatch();
        if (++batched >= every) {
          flush();
        }
      } catch (SQLException e) {
        throw failed(e);
      }
    }

    /** Sends what the batch holds. */
    void flush() {
      if (batched == 0) {
        return;
      }
      try {
        statement.executeBatch();
        batched = 0;
      } catch (SQLException e) {
        throw failed(e);
      }
    }

    @Override
    public void close() {
      try {
        statement.close();
      } catch (SQLException e) {
        throw failed(e);
      }
    }
  }

  // ---- typed NULLs and values

  static Object text(String value) {
    return value == null ? new Null(Types.VARCHAR) : value;
  }

  static Object bytes(byte[] value) {
    return value == null ? new Null(Types.BINARY) : value;
  }

  static Object millis(Instant at) {
    return at == null ? new Null(Types.BIGINT) : at;
  }

  static Object millis(Optional<Instant> at) {
    return millis(at.orElse(null));
  }

  static Object integer(Integer value) {
    return value == null ? new Null(Types.INTEGER) : value;
  }

  static Object decimal(Double value) {
    return value == null ? new Null(Types.DOUBLE) : value;
  }

  /** {@code ?, ?, …} for {@code n} parameters of an {@code IN} list. */
  static String placeholders(int n) {
    return String.join(", ", Collections.nCopies(n, "?"));
  }

  /** A collection as parameters, for an {@code IN} list, after {@code before}. */
  static Object[] params(Collection<?> values, Object... after) {
    List<Object> all = new ArrayList<>(values);
    Collections.addAll(all, after);
    return all.toArray();
  }

  /** A column of epoch milliseconds, empty when NULL. */
  static Optional<Instant> instant(ResultSet rs, int column) throws SQLException {
    long v = rs.getLong(column);
    return rs.wasNull() ? Optional.empty() : Optional.of(Instant.ofEpochMilli(v));
  }

  /** A column of epoch milliseconds, empty when NULL. */
  static Optional<Instant> instant(ResultSet rs, String column) throws SQLException {
    long v = rs.getLong(column);
    return rs.wasNull() ? Optional.empty() : Optional.of(Instant.ofEpochMilli(v));
  }

  // ---- the one place where statements are prepared, bound, run and mapped

  @FunctionalInterface
  private interface OnStatement<T> {
    T run(PreparedStatement p) throws SQLException;
  }

  private <T> T run(String sql, OnStatement<T> work) {
    if (connection == null) {
      return db.withConnection(timeoutSeconds, c -> {
        try (PreparedStatement p = timed(c.prepareStatement(sql))) {
          return work.run(p);
        }
      });
    }
    try (PreparedStatement p = timed(connection.prepareStatement(sql))) {
      return work.run(p);
    } catch (SQLException e) {
      throw failed(e);
    }
  }

  /** The statement, with this {@code Sql}'s query timeout set (closed if that fails). */
  private PreparedStatement timed(PreparedStatement p) throws SQLException {
    if (timeoutSeconds > 0) {
      try {
        p.setQueryTimeout(timeoutSeconds);
      } catch (SQLException | RuntimeException e) {
        p.close();
        throw e;
      }
    }
    return p;
  }

  private static <T> List<T> map(PreparedStatement p, Row<T> row, Object... params) throws SQLException {
    bind(p, params);
    List<T> out = new ArrayList<>();
    try (ResultSet rs = p.executeQuery()) {
      while (rs.next()) {
        out.add(row.map(rs));
      }
    }
    return out;
  }

  private static <T> Optional<T> first(PreparedStatement p, Row<T> row, Object... params) throws SQLException {
    bind(p, params);
    try (ResultSet rs = p.executeQuery()) {
      return rs.next() ? Optional.of(row.map(rs)) : Optional.empty();
    }
  }

  private static void bind(PreparedStatement p, Object... params) throws SQLException {
    for (int i = 0; i < params.length; i++) {
      int at = i + 1;
      Object v = params[i];
      if (v instanceof String s) {
        p.setString(at, s);
      } else if (v instanceof Integer n) {
        p.setInt(at, n);
      } else if (v instanceof Long n) {
        p.setLong(at, n);
      } else if (v instanceof Double d) {
        p.setDouble(at, d);
      } else if (v instanceof Boolean b) {
        p.setBoolean(at, b);
      } else if (v instanceof byte[] b) {
        p.setBytes(at, b);
      } else if (v instanceof Instant t) {
        p.setLong(at, t.toEpochMilli());
      } else if (v instanceof Null n) {
        p.setNull(at, n.type());
      } else {
        throw new IllegalArgumentException("parameter " + at + " cannot be bound: "
            + (v == null ? "an untyped null (use Sql.text, bytes, millis or integer)" : v.getClass().getName()));
      }
    }
  }

  private static StoreException failed(SQLException e) {
    return failed("database operation failed", e);
  }

  /** The store's failure, marked {@linkplain StoreException#duplicate() duplicate} for a unique key already taken. */
  static StoreException failed(String message, SQLException e) {
    return new StoreException(message, e, uniqueViolation(e));
  }

  /** SQL state 23505 (H2 and PostgreSQL) anywhere in the causes, or in a batch's next exceptions. */
  private static boolean uniqueViolation(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      for (SQLException s = t instanceof SQLException sql ? sql : null; s != null; s = s.getNextException()) {
        if ("23505".equals(s.getSQLState())) {
          return true;
        }
      }
    }
    return false;
  }
}
