package dev.metalayer.jetty;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;

/** A real layer on a random port for tests, with a JDK client whose every call has a timeout. */
final class Layer implements AutoCloseable {
  static final String PNID = "106540352242922";
  static final String WABA = "102290129340398";
  static final String BUSINESS = "900000000000001";
  static final String TOKEN = "EAAGm0PX4ZCpsBAmetaTokenOfNumberA0123456789xyz";
  static final String PNID_B = "206540352242922";
  static final String WABA_B = "202290129340398";
  static final String BUSINESS_B = "900000000000002";
  static final String TOKEN_B = "EAAGm0PX4ZCpsBAmetaTokenOfNumberB0123456789xyz";
  static final String APP_SECRET = "test-app-secret";

  final LayerServer server;
  final String key;
  final String keyB;
  final HttpClient http =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();

  private Layer(LayerServer server) {
    this.server = server;
    server.layer().keys().addNumber("+15550783881", PNID, WABA, BUSINESS, TOKEN);
    server.layer().keys().addNumber("+15550783882", PNID_B, WABA_B, BUSINESS_B, TOKEN_B);
    this.key = server.layer().keys().createKey(PNID).orElseThrow().key();
    this.keyB = server.layer().keys().createKey(PNID_B).orElseThrow().key();
  }

  /** The admin token of the layers this fixture starts (32 characters or more, as the layer requires). */
  static final String ADMIN_TOKEN = "admin-token-for-tests-0123456789abcdef";

  /** @param extra options over the test defaults; {@code PUBLIC_URL ""} for a layer without a public URL */
  static Layer start(Path dataDir, String graphUrl, Map<Option, String> extra) throws Exception {
    for (int attempt = 1; ; attempt++) {
      // a public URL, as every deployment behind a helpdesk has: the port is picked first for it
      int port;
      try (java.net.ServerSocket free = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
        port = free.getLocalPort();
      }
      Map<Option, String> options = new EnumMap<>(Option.class);
      options.put(Option.PORT, Integer.toString(port));
      options.put(Option.PUBLIC_URL, "http://127.0.0.1:" + port);
      options.put(Option.HOST, "127.0.0.1");
      options.put(Option.DATA_DIR, dataDir.toString());
      options.put(Option.GRAPH_URL, graphUrl);
      options.put(Option.MEDIA_HOSTS, "http://127.0.0.1,http://localhost");
      options.put(Option.APP_SECRET, APP_SECRET + ",older-secret");
      options.put(Option.ADMIN_TOKEN, ADMIN_TOKEN);
      // no per-key rate limit unless a test sets one (KeyRateLimitHttpTest): these tests send one key's
      // requests as fast as the machine allows, and an idle machine goes past the default burst
      options.put(Option.KEY_RATE, "off");
      options.putAll(extra);
      try {
        return new Layer(LayerServer.start(Settings.of(options)));
      } catch (IOException e) {
        boolean portTaken = e instanceof java.net.BindException || e.getCause() instanceof java.net.BindException;
        if (!portTaken || attempt == 3) {
          throw e;
        }
        // another process took the port between the pick and the bind: pick again
      }
    }
  }

  String base() {
    return server.localUri() + "/api/layer/meta";
  }

  HttpResponse<String> send(HttpRequest.Builder request) throws IOException, InterruptedException {
    return http.send(request.timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<byte[]> sendBytes(HttpRequest.Builder request) throws IOException, InterruptedException {
    return http.send(request.timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  HttpResponse<String> get(String pathAndQuery, String authorization) throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base() + pathAndQuery)).GET();
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    return send(b);
  }

  HttpResponse<String> post(String path, String authorization, String json) throws IOException, InterruptedException {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(base() + path))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(json));
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    return send(b);
  }

  /** Sends raw bytes over a socket (paths a URI class would normalise or refuse); returns the whole answer. */
  String raw(String requestHead) throws IOException {
    try (Socket s = new Socket("127.0.0.1", server.port())) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(requestHead.getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = s.getInputStream();
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Override
  public void close() throws Exception {
    server.close();
  }
}
