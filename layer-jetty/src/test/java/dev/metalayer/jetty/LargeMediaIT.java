package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.metalayer.json.Json;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real jar, run with {@code -Xmx64m}, streams a 100 MB media download from an inline generating
 * server to the client: every byte arrives, in order (same SHA-256), and the heap never holds it.
 */
class LargeMediaIT {
  static final long SIZE = 100L * 1024 * 1024;
  static final String PNID = "106540352242922";
  static final String MEDIA = "1037543291543636";
  static final String TOKEN = "EAAbigMediaToken0123456789abcdefXYZ";

  static byte generated(long i) {
    return (byte) ((i * 31) ^ (i >>> 11));
  }

  @Test
  void hundredMegabytesPassThroughALayerWith64MegabytesOfHeap(@TempDir Path dir) throws Exception {
    HttpServer meta = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    String metaBase = "http://127.0.0.1:" + meta.getAddress().getPort();
    meta.createContext("/v13.0/" + MEDIA, x -> {
      byte[] body = ("{\"messaging_product\":\"whatsapp\",\"url\":\"" + metaBase + "/big/file.bin\",\"mime_type\":\"video/mp4\",\"id\":\"" + MEDIA + "\"}").getBytes(StandardCharsets.UTF_8);
      x.getResponseHeaders().add("Content-Type", "application/json");
      x.sendResponseHeaders(200, body.length);
      x.getResponseBody().write(body);
      x.close();
    });
    meta.createContext("/big/", x -> {
      boolean authorized = ("Bearer " + TOKEN).equals(x.getRequestHeaders().getFirst("Authorization"));
      x.getResponseHeaders().add("Content-Type", "video/mp4");
      x.getResponseHeaders().add("Content-Disposition", "attachment; filename=\"big.mp4\"");
      x.sendResponseHeaders(authorized ? 200 : 401, authorized ? SIZE : -1);
      if (authorized) {
        try (OutputStream out = x.getResponseBody()) {
          byte[] buf = new byte[64 * 1024];
          for (long i = 0; i < SIZE; ) {
            int n = (int) Math.min(buf.length, SIZE - i);
            for (int k = 0; k < n; k++) {
              buf[k] = generated(i + k);
            }
            out.write(buf, 0, n);
            i += n;
          }
        }
      }
      x.close();
    });
    meta.start();
    Process layer = null;
    try {
      String jar = System.getProperty("metalayer.jar");
      assertThat(jar).as("metalayer.jar system property").isNotBlank();
      byte[] masterKey = new byte[32];
      new java.security.SecureRandom().nextBytes(masterKey);
      Map<String, String> env = Map.of("LAYER_MASTER_KEY", Base64.getEncoder().encodeToString(masterKey), "META_TOKEN", TOKEN);
      List<String> common = List.of("--data-dir", dir.toString());

      assertThat(run(jar, env, common, "numbers", "add", "--phone", "+15550783881", "--phone-number-id", PNID,
          "--waba-id", "102290129340398", "--business-id", "900000000000001", "--meta-token-env", "META_TOKEN").exit).isZero();
      Result created = run(jar, env, common, "keys", "create", "--phone-number-id", PNID);
      assertThat(created.exit).isZero();
      String key = created.stdout.lines().findFirst().orElseThrow().trim();
      assertThat(key).startsWith("ps_");

      List<String> serve = new ArrayList<>(List.of(javaBin(), "-Xmx64m", "-jar", jar));
      serve.addAll(common);
      int freePort;
      try (java.net.ServerSocket free = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
        freePort = free.getLocalPort();
      }
      serve.addAll(List.of("--host", "127.0.0.1", "--port", Integer.toString(freePort), "--public-url", "http://127.0.0.1:" + freePort,
          "--graph-url", metaBase, "--media-hosts", "http://127.0.0.1"));
      ProcessBuilder pb = new ProcessBuilder(serve).redirectOutput(ProcessBuilder.Redirect.DISCARD);
      pb.environment().putAll(env);
      layer = pb.start();
      CompletableFuture<Integer> port = new CompletableFuture<>();
      Process started = layer;
      Thread reader = new Thread(() -> {
        Pattern listening = Pattern.compile("listening on [^:]+:([0-9]+)");
        try (BufferedReader r = new BufferedReader(new InputStreamReader(started.getErrorStream(), StandardCharsets.UTF_8))) {
          for (String line; (line = r.readLine()) != null; ) {
            Matcher m = listening.matcher(line);
            if (m.find()) {
              port.complete(Integer.parseInt(m.group(1)));
            }
            if (line.contains("OutOfMemoryError")) {
              port.completeExceptionally(new AssertionError(line));
            }
          }
        } catch (IOException e) {
          port.completeExceptionally(e);
        }
      });
      reader.setDaemon(true);
      reader.start();
      String base = "http://127.0.0.1:" + port.get(60, TimeUnit.SECONDS) + "/api/layer/meta";

      HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
      HttpResponse<String> lookup =
          http.send(HttpRequest.newBuilder(URI.create(base + "/v13.0/" + MEDIA)).header("Authorization", "Bearer " + key).timeout(Duration.ofSeconds(20)).build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(lookup.statusCode()).isEqualTo(200);
      String url = Json.mapper().readTree(lookup.body()).get("url").asText();
      assertThat(url).startsWith(base + "/media/" + MEDIA + "/download?ref=");

      HttpResponse<InputStream> download =
          http.send(HttpRequest.newBuilder(URI.create(url)).header("Authorization", "Bearer " + key).timeout(Duration.ofSeconds(120)).build(),
              HttpResponse.BodyHandlers.ofInputStream());
      assertThat(download.statusCode()).isEqualTo(200);
      assertThat(download.headers().firstValue("Content-Type")).contains("video/mp4");
      assertThat(download.headers().firstValue("Content-Length")).contains(Long.toString(SIZE));
      assertThat(download.headers().firstValue("Content-Disposition")).contains("attachment; filename=\"big.mp4\"");
      MessageDigest received = MessageDigest.getInstance("SHA-256");
      long count = 0;
      try (InputStream in = download.body()) {
        byte[] buf = new byte[64 * 1024];
        for (int n; (n = in.read(buf)) > 0; ) {
          received.update(buf, 0, n);
          count += n;
        }
      }
      MessageDigest expected = MessageDigest.getInstance("SHA-256");
      byte[] buf = new byte[64 * 1024];
      for (long i = 0; i < SIZE; ) {
        int n = (int) Math.min(buf.length, SIZE - i);
        for (int k = 0; k < n; k++) {
          buf[k] = generated(i + k);
        }
        expected.update(buf, 0, n);
        i += n;
      }
      assertThat(count).isEqualTo(SIZE);
      assertThat(HexFormat.of().formatHex(received.digest())).isEqualTo(HexFormat.of().formatHex(expected.digest()));
      assertThat(layer.isAlive()).isTrue();
    } finally {
      if (layer != null) {
        layer.destroy();
        if (!layer.waitFor(20, TimeUnit.SECONDS)) {
          layer.destroyForcibly();
        }
      }
      meta.stop(0);
    }
  }

  record Result(int exit, String stdout) {}

  static Result run(String jar, Map<String, String> env, List<String> common, String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of(javaBin(), "-jar", jar));
    command.addAll(common);
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).redirectInput(ProcessBuilder.Redirect.PIPE);
    pb.environment().putAll(env);
    Process p = pb.start();
    p.getOutputStream().close();
    CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> {
      try {
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("CLI did not finish: " + String.join(" ", args));
    }
    return new Result(p.exitValue(), out.get(10, TimeUnit.SECONDS));
  }

  static String javaBin() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }
}
