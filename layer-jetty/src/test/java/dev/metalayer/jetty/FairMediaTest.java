package dev.metalayer.jetty;

import static dev.metalayer.jetty.Layer.PNID_B;
import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpExchange;
import dev.metalayer.json.Json;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One tenant's slow, non-reading media downloads cannot stall another tenant: media has an upstream
 * pool of its own, and a key has at most {@code LAYER_MEDIA_DOWNLOADS_PER_KEY} downloads in flight.
 * Meta (Graph and its media host) is one JDK server on loopback, as in the measured attack, where 70
 * such downloads held the shared pool and another tenant's Graph call took 26.6 s.
 */
class FairMediaTest {
  static final String MEDIA_A = "1037543291543636";
  static final String MEDIA_B = "2037543291543636";
  static final int MEDIA_BYTES = 8 * 1024 * 1024;

  InlineServer meta;
  String metaBase;
  final AtomicInteger mediaRequests = new AtomicInteger();
  final List<Socket> stalled = new ArrayList<>();

  @BeforeEach
  void startMeta() throws IOException {
    meta = InlineServer.start(this::meta);
    metaBase = meta.base();
  }

  @AfterEach
  void stop() throws IOException {
    for (Socket s : stalled) {
      s.close();
    }
    meta.close();
  }

  private void meta(HttpExchange x) throws IOException {
    try (x) {
      String path = x.getRequestURI().getPath();
      if (path.equals("/cdn/big")) {
        mediaRequests.incrementAndGet();
        x.getResponseHeaders().add("Content-Type", "video/mp4");
        x.sendResponseHeaders(200, MEDIA_BYTES);
        byte[] chunk = new byte[64 * 1024];
        OutputStream out = x.getResponseBody();
        for (int sent = 0; sent < MEDIA_BYTES; sent += chunk.length) {
          out.write(chunk); // blocks while the layer does not read: the download is held
        }
        return;
      }
      String id = path.substring(path.lastIndexOf('/') + 1);
      byte[] body = (id.equals(MEDIA_A) || id.equals(MEDIA_B)
          ? "{\"messaging_product\":\"whatsapp\",\"url\":\"" + metaBase + "/cdn/big\",\"mime_type\":\"video/mp4\",\"id\":\"" + id + "\"}"
          : "{\"id\":\"" + id + "\"}").getBytes(StandardCharsets.UTF_8);
      x.getResponseHeaders().add("Content-Type", "application/json");
      x.sendResponseHeaders(200, body.length);
      x.getResponseBody().write(body);
    } catch (IOException e) {
      // the layer gave up on a held download
    }
  }

  /** The layer's media URL for {@code media}, looked up with {@code key}. */
  private static URI mediaUrl(Layer layer, String key, String media) throws Exception {
    HttpResponse<String> lookup = layer.get("/v22.0/" + media, "Bearer " + key);
    assertThat(lookup.statusCode()).isEqualTo(200);
    return URI.create(Json.mapper().readTree(lookup.body()).get("url").asText());
  }

  /** Asks for {@code url} on a socket that then never reads the body, with a small receive window. */
  private Socket stalledDownload(URI url, String key) throws IOException {
    Socket s = new Socket();
    s.setReceiveBufferSize(4096);
    s.connect(new InetSocketAddress("127.0.0.1", url.getPort()), 5_000);
    s.setSoTimeout(5_000);
    s.getOutputStream().write(("GET " + url.getRawPath() + "?" + url.getRawQuery() + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
        + key + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
    s.getOutputStream().flush();
    stalled.add(s);
    return s;
  }

  /** The status line of an answer on {@code s} (reads that line only), or "" when none came in time. */
  private static String statusLine(Socket s) throws IOException {
    try {
      return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1), 1).readLine();
    } catch (SocketTimeoutException e) {
      return "";
    }
  }

  private void awaitMediaRequests(int atLeast) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (mediaRequests.get() < atLeast && System.nanoTime() < deadline) {
      Thread.sleep(20); // real sockets being opened, not a time rule
    }
    assertThat(mediaRequests.get()).isGreaterThanOrEqualTo(atLeast);
  }

  @Test
  void seventySlowNonReadingDownloadsByOneKeyDoNotStallAnotherTenantsGraphCall(@TempDir Path dir) throws Exception {
    // the cap is raised past the attack, so that only the media pool of its own protects the other tenant
    try (Layer layer = Layer.start(dir, metaBase, Map.of(Option.MEDIA_DOWNLOADS_PER_KEY, "100"))) {
      URI url = mediaUrl(layer, layer.key, MEDIA_A);
      for (int i = 0; i < 70; i++) {
        stalledDownload(url, layer.key);
      }
      awaitMediaRequests(64);
      long started = System.nanoTime();
      HttpResponse<String> other = layer.send(HttpRequest.newBuilder(URI.create(layer.base() + "/v22.0/" + PNID_B))
          .header("Authorization", "Bearer " + layer.keyB).timeout(java.time.Duration.ofSeconds(20)));
      long ms = (System.nanoTime() - started) / 1_000_000;
      System.out.printf("FairMediaTest: with %d media downloads held by one key, another tenant's Graph call took %d ms%n",
          mediaRequests.get(), ms);
      assertThat(other.statusCode()).isEqualTo(200);
      assertThat(other.body()).contains(PNID_B);
      assertThat(ms).isLessThan(5_000);
    }
  }

  @Test
  void aKeyOverItsMediaDownloadCapIsRefusedWith429AndRetryAfterWhileAnotherKeyDownloads(@TempDir Path dir) throws Exception {
    try (Layer layer = Layer.start(dir, metaBase, Map.of(Option.MEDIA_DOWNLOADS_PER_KEY, "4"))) {
      URI url = mediaUrl(layer, layer.key, MEDIA_A);
      List<Socket> sockets = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        sockets.add(stalledDownload(url, layer.key));
      }
      awaitMediaRequests(4);
      int ok = 0;
      int refused = 0;
      for (Socket s : sockets) {
        String status = statusLine(s);
        ok += status.startsWith("HTTP/1.1 200") ? 1 : 0;
        refused += status.startsWith("HTTP/1.1 429") ? 1 : 0;
      }
      assertThat(ok).isEqualTo(4);
      assertThat(refused).isEqualTo(6);
      assertThat(mediaRequests.get()).isEqualTo(4); // nothing of the refused reached the media host

      HttpResponse<String> over = layer.send(HttpRequest.newBuilder(url).header("Authorization", "Bearer " + layer.key));
      BadInputTest.graphError(over, 429, 4);
      assertThat(over.headers().firstValue("Retry-After")).hasValue("2");

      // another tenant downloads meanwhile, whole
      URI urlB = mediaUrl(layer, layer.keyB, MEDIA_B);
      HttpResponse<byte[]> b = layer.sendBytes(HttpRequest.newBuilder(urlB).header("Authorization", "Bearer " + layer.keyB));
      assertThat(b.statusCode()).isEqualTo(200);
      assertThat(b.body()).hasSize(MEDIA_BYTES);

      // the held downloads end, and the key's slots come back
      for (Socket s : sockets) {
        s.close();
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      HttpResponse<byte[]> again;
      do {
        again = layer.sendBytes(HttpRequest.newBuilder(url).header("Authorization", "Bearer " + layer.key));
      } while (again.statusCode() == 429 && System.nanoTime() < deadline && sleep());
      assertThat(again.statusCode()).isEqualTo(200);
      assertThat(again.body()).hasSize(MEDIA_BYTES);
    }
  }

  private static boolean sleep() throws InterruptedException {
    Thread.sleep(50); // the layer notices the closed sockets on its next write
    return true;
  }
}
