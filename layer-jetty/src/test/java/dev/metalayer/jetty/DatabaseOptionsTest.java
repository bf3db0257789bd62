package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.metalayer.testing.TestDatabases;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The database options: their defaults and forms, and the one line a start prints when the database
 * named is not one the layer runs on, or cannot be reached. The password is never in a line.
 */
class DatabaseOptionsTest {
  static final String PASSWORD = "pg-password-never-shown-7f3a";

  @TempDir Path dir;

  private record Run(int status, String out, String err) {}

  private Run run(Map<String, String> env, String... args) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status = Main.run(args, env, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  private Map<String, String> env(String... pairs) {
    Map<String, String> env = new HashMap<>(Map.of("LAYER_DATA_DIR", dir.toString(), "LAYER_PORT", "0",
        "LAYER_HOST", "127.0.0.1", "LAYER_DB_PASSWORD", PASSWORD));
    for (int i = 0; i < pairs.length; i += 2) {
      env.put(pairs[i], pairs[i + 1]);
    }
    return env;
  }

  @Test
  void unsetTheLayerRunsOnTheEmbeddedFileWithAPoolOf16AndAStatementTimeoutOf5s() {
    Settings defaults = Settings.of(Map.of());
    assertThat(defaults.get(Option.DB_URL)).isEmpty();
    assertThat(defaults.integer(Option.DB_POOL_SIZE)).isEqualTo(16);
    assertThat(defaults.duration(Option.DB_CONNECT_TIMEOUT)).isEqualTo(Duration.ofSeconds(10));
    assertThat(defaults.duration(Option.DB_STATEMENT_TIMEOUT)).isEqualTo(Duration.ofSeconds(5));
    assertThat(Option.DB_PASSWORD.secret()).isTrue();
    assertThat(Option.DB_PASSWORD.flag()).isEmpty();
  }

  @Test
  void thePasswordIsReadFromTheEnvironmentOnlyAndNeverPrinted() {
    Settings s = Settings.parse(new String[] {"--db-url", "jdbc:postgresql://db.example.com/layer", "--db-user", "layer"},
        Map.of("LAYER_DB_PASSWORD", PASSWORD));
    assertThat(s.get(Option.DB_PASSWORD)).contains(PASSWORD);
    assertThat(s.toString()).contains("LAYER_DB_PASSWORD=<set>").doesNotContain(PASSWORD);
    assertThatThrownBy(() -> Settings.parse(new String[] {"--db-password", PASSWORD}, Map.of()))
        .isInstanceOf(ConfigError.class).hasMessageContaining("unknown option '--db-password'")
        .hasMessageNotContaining(PASSWORD);
  }

  @Test
  void aUrlOfAnotherDatabaseIsOneLineNamingTheOptionWithExitStatus2() throws Exception {
    Run mysql = run(env("LAYER_DB_URL", "jdbc:mysql://db.example.com/layer"));
    assertThat(mysql.status()).isEqualTo(2);
    assertThat(mysql.err()).isEqualTo("error: the URL is not a jdbc:postgresql: or jdbc:h2: URL (LAYER_DB_URL): write"
        + " it like jdbc:postgresql://db.example.com:5432/metalayer, or unset it for the embedded H2 file"
        + System.lineSeparator());

    Run flag = run(env(), "--db-url", "postgres://db.example.com/layer");
    assertThat(flag.status()).isEqualTo(2);
    assertThat(flag.err()).startsWith("error: the URL is not a jdbc:postgresql: or jdbc:h2: URL (--db-url):");
  }

  /** Two layers on one H2 database would each deliver its rows as the only deliverer: refused at start. */
  @Test
  void anH2UrlThatSeveralProcessesShareIsRefused() {
    for (String url : new String[] {"jdbc:h2:tcp://db.example.com/layer", "jdbc:h2:ssl://db.example.com/layer",
        "jdbc:h2:file:/var/layer/metalayer;AUTO_SERVER=TRUE"}) {
      assertThatThrownBy(() -> Settings.parse(new String[] {"--db-url", url}, Map.of())).as(url)
          .isInstanceOf(ConfigError.class)
          .hasMessageContaining("an H2 database that several processes share (tcp:, ssl:, AUTO_SERVER) is not supported");
    }
    assertThat(Settings.parse(new String[] {"--db-url", "jdbc:h2:file:/var/layer/metalayer;AUTO_SERVER=FALSE"}, Map.of())
        .get(Option.DB_URL)).isPresent();
  }

  @Test
  void aPasswordWrittenIntoTheUrlIsRefusedWithoutBeingShown() throws Exception {
    for (String url : new String[] {"jdbc:postgresql://db.example.com/layer?user=layer&password=" + PASSWORD,
        "jdbc:postgresql://layer:" + PASSWORD + "@db.example.com/layer"}) {
      Run run = run(env("LAYER_DB_URL", url));
      assertThat(run.status()).as(url).isEqualTo(2);
      assertThat(run.err()).as(url).startsWith("error: the URL carries a password (LAYER_DB_URL): remove the password")
          .doesNotContain(PASSWORD).hasLineCount(1);
    }
  }

  @Test
  void aPoolSizeOrATimeoutOutOfItsRangeNamesTheRange() {
    for (String size : new String[] {"0", "1001", "ten"}) {
      assertThatThrownBy(() -> Settings.parse(new String[] {"--db-pool-size", size}, Map.of()))
          .isInstanceOf(ConfigError.class)
          .hasMessage("'" + size + "' is not a whole number from 1 to 1000 (--db-pool-size): write a whole number from 1"
              + " to 1000");
    }
    assertThatThrownBy(() -> Settings.parse(new String[0], Map.of("LAYER_DB_STATEMENT_TIMEOUT", "2h")))
        .isInstanceOf(ConfigError.class)
        .hasMessage("'2h' is not from 1s to 1h (LAYER_DB_STATEMENT_TIMEOUT): write a duration from 1s to 1h");
    // the hint names no example the range refuses
    assertThatThrownBy(() -> Settings.parse(new String[0], Map.of("LAYER_DB_STATEMENT_TIMEOUT", "500ms")))
        .isInstanceOf(ConfigError.class)
        .hasMessage("'500ms' is not from 1s to 1h (LAYER_DB_STATEMENT_TIMEOUT): write a duration from 1s to 1h");
    assertThatThrownBy(() -> Settings.parse(new String[0], Map.of("LAYER_DB_CONNECT_TIMEOUT", "100ms")))
        .isInstanceOf(ConfigError.class)
        .hasMessageStartingWith("'100ms' is not from 250ms to 10m (LAYER_DB_CONNECT_TIMEOUT)");
    assertThatThrownBy(() -> Settings.parse(new String[0], Map.of("LAYER_DB_STATEMENT_TIMEOUT", "0")))
        .isInstanceOf(ConfigError.class)
        .hasMessageStartingWith("'0' is not from 1s to 1h (LAYER_DB_STATEMENT_TIMEOUT)");
  }

  @Test
  void aDatabaseThatDoesNotAnswerIsOneLineNamingHostAndPortAfterTheConnectTimeout() throws Exception {
    int closed;
    try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closed = free.getLocalPort();
    }
    Run run = run(env("LAYER_DB_URL", "jdbc:postgresql://127.0.0.1:" + closed + "/layer", "LAYER_DB_USER", "layer",
        "LAYER_DB_CONNECT_TIMEOUT", "1s"));
    assertThat(run.status()).isEqualTo(2);
    assertThat(run.err()).isEqualTo("error: cannot reach the database at 127.0.0.1:" + closed + "/layer (connection"
        + " refused, tried for 1 s) (LAYER_DB_URL): check that PostgreSQL runs there and accepts connections from this"
        + " host, or raise LAYER_DB_CONNECT_TIMEOUT to wait longer" + System.lineSeparator());
    assertThat(run.out()).isEmpty();
  }

  @Test
  void aJdbcH2UrlRunsTheLayerOnThatH2DatabaseAsTheSoleDeliverer() throws Exception {
    Path elsewhere = dir.resolve("elsewhere");
    try (LayerServer server = LayerServer.start(Settings.of(Map.of(Option.PORT, "0", Option.HOST, "127.0.0.1",
        Option.DATA_DIR, dir.resolve("data").toString(), Option.DB_URL, "jdbc:h2:file:" + elsewhere.resolve("layer"))))) {
      assertThat(server.store()).isInstanceOf(H2Store.class);
      assertThat(server.store().soleDeliverer()).isTrue();
      assertThat(((H2Store.Size) server.store().size()).fileBytes()).isPositive();
    }
    assertThat(elsewhere.resolve("layer.mv.db")).exists();
    assertThat(dir.resolve("data").resolve(H2Store.FILE_NAME)).doesNotExist();
  }

  @Test
  void aDatabaseThatDoesNotExistIsSaidSo() throws Exception {
    TestDatabases.requirePostgres();
    String url = TestDatabases.PG_URL.replaceFirst("/[^/?]*(\\?.*)?$", "/no_such_database_of_the_layer");
    Run run = run(env("LAYER_DB_URL", url, "LAYER_DB_USER", TestDatabases.PG_USER));
    assertThat(run.status()).isEqualTo(2);
    assertThat(run.err()).startsWith("error: the database at ").contains("/no_such_database_of_the_layer does not exist"
        + " (LAYER_DB_URL): create it").doesNotContain(PASSWORD).hasLineCount(1);
  }

  @Test
  void aSchemaThatDoesNotExistIsSaidSo() throws Exception {
    TestDatabases.requirePostgres();
    String url = TestDatabases.PG_URL.replaceFirst("\\?.*$", "") + "?currentSchema=no_such_schema_of_the_layer";
    Run run = run(env("LAYER_DB_URL", url, "LAYER_DB_USER", TestDatabases.PG_USER));
    assertThat(run.status()).isEqualTo(2);
    assertThat(run.err()).startsWith("error: the schema the layer's tables go into does not exist in the database at ")
        .contains("(LAYER_DB_URL): create it (CREATE SCHEMA").doesNotContain(PASSWORD).hasLineCount(1);
  }
}
