package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;
import java.util.function.BooleanSupplier;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The HTTPS listener: HTTP/2 and HTTP/1.1 over TLS with the limits of plain HTTP, from PEM files (RSA)
 * and from a PKCS12 file (EC); a renewed certificate served to the next connection while the layer runs,
 * a broken one ignored (the old one kept, one WARN); and each mistake in the settings refused in one line
 * naming the option.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TlsTest {
  /** No Graph is reached by these tests: the refusals come first. */
  static final String NO_GRAPH = "http://127.0.0.1:9";

  Path rsa;
  Path ec;
  Path renewed;
  Path other;
  SSLContext client;

  @BeforeAll
  void certificates(@TempDir Path certs) throws Exception {
    rsa = TestCertificates.pkcs12(certs, "rsa", "RSA", "layer.test");
    ec = TestCertificates.pkcs12(certs, "ec", "EC", "layer-ec.test");
    renewed = TestCertificates.pkcs12(certs, "renewed", "EC", "renewed.layer.test");
    other = TestCertificates.pkcs12(certs, "other", "RSA", "other.test");
    client = TestCertificates.trusting(rsa, ec, renewed, other);
  }

  @Test
  void http2AndHttp11OverTlsFromPemFilesWithThePlainLimits(@TempDir Path dir) throws Exception {
    Path[] pem = TestCertificates.pem(rsa, dir, "rsa");
    try (Layer layer = Layer.start(dir.resolve("data"), NO_GRAPH, Map.of(Option.TLS_PORT, "0",
        Option.TLS_CERT, pem[0].toString(), Option.TLS_KEY, pem[1].toString()))) {
      URI https = URI.create("https://127.0.0.1:" + layer.server.tlsPort().orElseThrow());
      HttpClient h2 = HttpClient.newBuilder().sslContext(client).version(HttpClient.Version.HTTP_2)
          .connectTimeout(Duration.ofSeconds(5)).build();
      HttpResponse<String> healthy = h2.send(HttpRequest.newBuilder(https.resolve("/healthz"))
          .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(healthy.statusCode()).isEqualTo(200);
      assertThat(healthy.version()).as("ALPN h2").isEqualTo(HttpClient.Version.HTTP_2);

      HttpClient http1 = HttpClient.newBuilder().sslContext(client).version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5)).build();
      HttpResponse<String> overHttp1 = http1.send(HttpRequest.newBuilder(https.resolve("/healthz"))
          .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(overHttp1.statusCode()).isEqualTo(200);
      assertThat(overHttp1.version()).isEqualTo(HttpClient.Version.HTTP_1_1);

      // plain HTTP keeps serving
      assertThat(layer.http.send(HttpRequest.newBuilder(layer.server.localUri().resolve("/healthz"))
          .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);

      // the limits of plain HTTP hold over HTTP/2: a form carrying its key is read up to 64 KB
      String large = "access_token=" + layer.key + "&text=" + "h".repeat(70 * 1024);
      HttpResponse<String> refused = h2.send(HttpRequest.newBuilder(https.resolve("/api/layer/meta/v13.0/"
              + Layer.PNID + "/messages")).timeout(Duration.ofSeconds(10))
          .header("Content-Type", "application/x-www-form-urlencoded")
          .POST(HttpRequest.BodyPublishers.ofString(large)).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(refused.version()).isEqualTo(HttpClient.Version.HTTP_2);
      assertThat(refused.statusCode()).isEqualTo(413);
      assertThat(refused.body()).contains("\"error\"").contains("64 KB");
      // and an unknown path is a Graph-shaped error, as on plain HTTP
      HttpResponse<String> unknown = h2.send(HttpRequest.newBuilder(https.resolve("/nowhere"))
          .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(unknown.statusCode()).isEqualTo(404);
      assertThat(unknown.body()).contains("\"fbtrace_id\"");
    }
  }

  @Test
  void aRenewedPemCertificateServesTheNextConnectionAndABrokenOneIsIgnored(@TempDir Path dir) throws Exception {
    Path[] pem = TestCertificates.pem(rsa, dir, "live");
    ch.qos.logback.classic.Logger root =
        ((LoggerContext) LoggerFactory.getILoggerFactory()).getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    ListAppender<ILoggingEvent> events = new ListAppender<>();
    events.start();
    root.addAppender(events);
    try (Layer layer = Layer.start(dir.resolve("data"), NO_GRAPH, Map.of(Option.TLS_PORT, "0",
        Option.TLS_CERT, pem[0].toString(), Option.TLS_KEY, pem[1].toString()))) {
      int port = layer.server.tlsPort().orElseThrow();
      TlsListener certificate = layer.server.certificate().orElseThrow();
      assertThat(TestCertificates.servedSerial(client, port)).isEqualTo(TestCertificates.certificate(rsa).getSerialNumber());

      // a renewal: the key first, then the chain, each replaced by a rename as certbot's links do
      Path[] next = TestCertificates.pem(renewed, dir, "next");
      Files.move(next[1], pem[1], StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      Files.move(next[0], pem[0], StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      BigInteger renewedSerial = TestCertificates.certificate(renewed).getSerialNumber();
      await(() -> serial(port).equals(renewedSerial), "the renewed certificate is served");

      // a broken replacement (a key that is not the certificate's): the renewed one stays
      Path[] wrong = TestCertificates.pem(other, dir, "wrong");
      Files.move(wrong[1], pem[1], StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      long checked = certificate.checks();
      await(() -> certificate.checks() >= checked + 3, "the watcher looked at the broken files");
      assertThat(TestCertificates.servedSerial(client, port)).isEqualTo(renewedSerial);
      assertThat(events.list).filteredOn(e -> e.getLevel() == Level.WARN && e.getLoggerName().endsWith("TlsListener")
              && e.getFormattedMessage()
              .startsWith("HTTPS certificate not reloaded: the private key is not the key of the certificate"))
          .as("one WARN for the broken content, however many checks saw it").hasSize(1);
      assertThat(events.list).filteredOn(e -> e.getLevel() == Level.WARN && e.getLoggerName().endsWith("TlsListener"))
          .allSatisfy(e ->
          assertThat(e.getFormattedMessage()).contains("still serving subject CN=renewed.layer.test"));

      // garbage in the key file: still the renewed one
      Files.writeString(pem[1], "not a key at all");
      long before = certificate.checks();
      await(() -> certificate.checks() >= before + 3, "the watcher looked at the garbage");
      assertThat(TestCertificates.servedSerial(client, port)).isEqualTo(renewedSerial);

      // the right key back: the other certificate's pair loads
      Files.writeString(pem[0], Files.readString(wrong[0]));
      Files.writeString(pem[1], Files.readString(TestCertificates.pem(other, dir, "again")[1]));
      BigInteger otherSerial = TestCertificates.certificate(other).getSerialNumber();
      await(() -> serial(port).equals(otherSerial), "a good pair after a broken one is served");
    } finally {
      root.detachAppender(events);
    }
    assertThat(events.list).filteredOn(e -> e.getLevel() == Level.INFO
        && e.getFormattedMessage().startsWith("HTTPS certificate reloaded from ")).hasSize(2);
  }

  @Test
  void aPkcs12KeyStoreWithAnEcKeyServesAndIsReloaded(@TempDir Path dir) throws Exception {
    Path store = dir.resolve("layer.p12");
    Files.copy(ec, store);
    try (Layer layer = Layer.start(dir.resolve("data"), NO_GRAPH, Map.of(Option.TLS_PORT, "0",
        Option.TLS_KEYSTORE, store.toString(), Option.TLS_KEYSTORE_PASSWORD, TestCertificates.PASSWORD))) {
      int port = layer.server.tlsPort().orElseThrow();
      assertThat(TestCertificates.servedSerial(client, port)).isEqualTo(TestCertificates.certificate(ec).getSerialNumber());
      HttpClient h2 = HttpClient.newBuilder().sslContext(client).version(HttpClient.Version.HTTP_2)
          .connectTimeout(Duration.ofSeconds(5)).build();
      HttpResponse<String> healthy = h2.send(HttpRequest.newBuilder(URI.create("https://localhost:" + port + "/healthz"))
          .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(healthy.version()).isEqualTo(HttpClient.Version.HTTP_2);

      Path swap = dir.resolve("swap.p12");
      Files.copy(renewed, swap);
      Files.move(swap, store, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      BigInteger renewedSerial = TestCertificates.certificate(renewed).getSerialNumber();
      await(() -> serial(port).equals(renewedSerial), "the new key store is served");
    }
  }

  @Test
  void httpsOnlyWhenPlainHttpIsOff(@TempDir Path dir) throws Exception {
    Path[] pem = TestCertificates.pem(rsa, dir, "only");
    Map<Option, String> options = new EnumMap<>(Option.class);
    options.put(Option.HOST, "127.0.0.1");
    options.put(Option.DATA_DIR, dir.resolve("data").toString());
    options.put(Option.PLAIN_HTTP, "false");
    options.put(Option.TLS_PORT, "0");
    options.put(Option.TLS_CERT, pem[0].toString());
    options.put(Option.TLS_KEY, pem[1].toString());
    try (LayerServer server = LayerServer.start(Settings.of(options))) {
      assertThat(server.localUri().getScheme()).isEqualTo("https");
      assertThat(server.port()).isEqualTo(server.tlsPort().orElseThrow());
      HttpClient https = HttpClient.newBuilder().sslContext(client).connectTimeout(Duration.ofSeconds(5)).build();
      assertThat(https.send(HttpRequest.newBuilder(server.localUri().resolve("/healthz")).timeout(Duration.ofSeconds(10))
          .build(), HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
    }
  }

  @Test
  void eachMistakeIsOneLineNamingItsOption(@TempDir Path dir) throws Exception {
    Path[] pem = TestCertificates.pem(rsa, dir, "rsa");
    Path[] wrongKey = TestCertificates.pem(other, dir, "other");
    Path pkcs1 = Files.writeString(dir.resolve("pkcs1.pem"), TestCertificates.pem("RSA PRIVATE KEY", new byte[] {1, 2, 3}));
    Path encrypted = Files.writeString(dir.resolve("enc.pem"), TestCertificates.pem("ENCRYPTED PRIVATE KEY", new byte[] {1}));
    String cert = pem[0].toString();
    String key = pem[1].toString();
    String p12 = rsa.toString();

    refused(dir, Map.of("LAYER_TLS_PORT", "0"), "LAYER_TLS_PORT", "HTTPS needs a certificate");
    refused(dir, Map.of("LAYER_TLS_CERT", cert, "LAYER_TLS_KEY", key), "LAYER_TLS_CERT", "LAYER_TLS_PORT is not");
    refused(dir, Map.of("LAYER_TLS_PORT", "0", "LAYER_TLS_CERT", cert), "LAYER_TLS_CERT", "LAYER_TLS_KEY is not");
    refused(dir, Map.of("LAYER_TLS_PORT", "0", "LAYER_TLS_KEY", key), "LAYER_TLS_KEY", "LAYER_TLS_CERT is not");
    refused(dir, Map.of("LAYER_TLS_PORT", "0", "LAYER_TLS_CERT", cert, "LAYER_TLS_KEY", key, "LAYER_TLS_KEYSTORE", p12),
        "LAYER_TLS_KEYSTORE", "both");
    refused(dir, Map.of("LAYER_TLS_PORT", "0", "LAYER_TLS_CERT", cert, "LAYER_TLS_KEY", key,
        "LAYER_TLS_KEYSTORE_PASSWORD", "x"), "LAYER_TLS_KEYSTORE_PASSWORD", "PEM files");
    refused(dir, Map.of("LAYER_TLS_PORT", "0", "LAYER_TLS_CERT", cert, "LAYER_TLS_KEY", wrongKey[1].toString()),
        "LAYER_TLS_KEY", "the private key is not the key of the certificate");
    refused(dir, Map.of("LAYER_TLS_PORT", "0", "LAYER_TLS_CERT", cert, "LAYER_TLS_KEY", pkcs1.toString()),
        "LAYER_TLS_KEY", "openssl pkcs8 -topk8 -nocrypt");
    refused(dir, Map.of("LAYER_TLS_PORT", "0", "LAYER_TLS_CERT", cert, "LAYER_TLS_KEY", encrypted.toString()),
        "LAYER_TLS_KEY", "encrypted");
    refused(dir, Map.of("LAYER_TLS_PORT", "0", "LAYER_TLS_CERT", key, "LAYER_TLS_KEY", key), "LAYER_TLS_CERT",
        "holds no certificate");
    refused(dir, Map.of("LAYER_TLS_PORT", "0", "LAYER_TLS_CERT", dir.resolve("missing.pem").toString(),
        "LAYER_TLS_KEY", key), "LAYER_TLS_CERT", "cannot read");
    refused(dir, Map.of("LAYER_TLS_PORT", "0", "LAYER_TLS_KEYSTORE", p12, "LAYER_TLS_KEYSTORE_PASSWORD", "wrong"),
        "LAYER_TLS_KEYSTORE", "the password does not open");
    refused(dir, Map.of("LAYER_TLS_PORT", "0", "LAYER_TLS_KEYSTORE", cert), "LAYER_TLS_KEYSTORE", "not a PKCS12");
    refused(dir, Map.of("LAYER_PLAIN_HTTP", "false"), "LAYER_PLAIN_HTTP", "nothing would listen");
    refused(dir, Map.of("LAYER_PORT", "18443", "LAYER_TLS_PORT", "18443", "LAYER_TLS_KEYSTORE", p12,
        "LAYER_TLS_KEYSTORE_PASSWORD", TestCertificates.PASSWORD), "LAYER_TLS_PORT", "port of plain HTTP");
  }

  /** A start with {@code env} is refused: exit 2, one line naming {@code option}, no secret, no stack trace. */
  private static void refused(Path dir, Map<String, String> env, String option, String what) throws Exception {
    Map<String, String> all = new HashMap<>(env);
    all.put("LAYER_DATA_DIR", dir.resolve("refused-data").toString());
    all.put("LAYER_HOST", "127.0.0.1");
    all.putIfAbsent("LAYER_PORT", "0");
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status = Main.run(new String[0], all, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    String line = err.toString(StandardCharsets.UTF_8);
    assertThat(status).as(line).isEqualTo(2);
    assertThat(line).hasLineCount(1).startsWith("error: ").contains(" (" + option + "): ").contains(what)
        .doesNotContain(TestCertificates.PASSWORD).doesNotContain("\tat ");
  }

  @Test
  void theOptionsCheckNeedsNoServer() {
    // configure() alone refuses a half-given form (the server is never built)
    assertThatThrownBy(() -> TlsListener.configure(Settings.of(Map.of(Option.TLS_PORT, "0", Option.TLS_KEY, "k.pem"))))
        .isInstanceOf(ConfigError.class).hasMessageContaining("LAYER_TLS_CERT is not");
  }

  private BigInteger serial(int port) {
    try {
      return TestCertificates.servedSerial(client, port);
    } catch (Exception e) {
      return BigInteger.ZERO;
    }
  }

  /** Polls {@code condition} every 50 ms for at most 20 s. */
  private static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as(what).isLessThan(deadline);
      Thread.sleep(50); // a poll interval
    }
  }
}
