package dev.metalayer.bench;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.LongAdder;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * A fake Graph API that answers as fast as it can, so that a benchmark measures the hop in front of it:
 *
 * <ul>
 *   <li>{@code POST /{version}/{id}/messages}: Meta's answer to a text message;
 *   <li>{@code GET /{version}/{media-id}}: the media lookup, with a {@code url} on this server;
 *   <li>{@code GET /whatsapp_business/attachments/?mid=…}: the media bytes ({@code --media-bytes}, 100
 *       MiB by default), streamed with a {@code Content-Length};
 *   <li>{@code GET /__stats}: counters, so the harness can check that every proxied request arrived with
 *       a Meta token ({@code Bearer EAAbench…}) and no {@code ps_} key anywhere in its line or headers.
 * </ul>
 *
 * Any other request, or one without a Meta token, gets a Graph-shaped 401 or 404. Run as its own
 * process: {@code java -cp … dev.metalayer.bench.InstantGraph --port N [--media-bytes N]}.
 */
public final class InstantGraph extends Handler.Abstract {
  /** Every Meta token the harness registers starts with this. */
  static final String TOKEN_PREFIX = "EAAbench";

  private static final byte[] SENT =
      ("{\"messaging_product\":\"whatsapp\",\"contacts\":[{\"input\":\"15551234567\",\"wa_id\":\"15551234567\"}],"
              + "\"messages\":[{\"id\":\"wamid.HBgLMTU1NTEyMzQ1NjcVAgARGBI1RjQ0\"}]}")
          .getBytes(StandardCharsets.UTF_8);
  private static final byte[] UNAUTHORIZED =
      ("{\"error\":{\"message\":\"Invalid OAuth access token.\",\"type\":\"OAuthException\",\"code\":190,"
              + "\"fbtrace_id\":\"InstantGraph\"}}")
          .getBytes(StandardCharsets.UTF_8);
  private static final byte[] NOT_FOUND =
      "{\"error\":{\"message\":\"Unknown path.\",\"type\":\"GraphMethodException\",\"code\":100}}"
          .getBytes(StandardCharsets.UTF_8);
  private static final int CHUNK = 64 * 1024;

  private final int port;
  private final long mediaBytes;
  private final LongAdder messages = new LongAdder();
  private final LongAdder mediaLookups = new LongAdder();
  private final LongAdder mediaDownloads = new LongAdder();
  private final LongAdder unauthorized = new LongAdder();
  private final LongAdder leakedKeys = new LongAdder();

  private InstantGraph(int port, long mediaBytes) {
    this.port = port;
    this.mediaBytes = mediaBytes;
  }

  public static void main(String[] args) throws Exception {
    int port = 0;
    long mediaBytes = 100L * 1024 * 1024;
    for (int i = 0; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--port" -> port = Integer.parseInt(args[i + 1]);
        case "--media-bytes" -> mediaBytes = Long.parseLong(args[i + 1]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    QueuedThreadPool threads = new QueuedThreadPool(200, 8);
    threads.setName("fake-graph");
    Server server = new Server(threads);
    HttpConfiguration http = new HttpConfiguration();
    http.setSendServerVersion(false);
    http.setSendDateHeader(false);
    ServerConnector connector = new ServerConnector(server, 1, 1, new HttpConnectionFactory(http));
    connector.setHost("127.0.0.1");
    connector.setPort(port);
    connector.setAcceptQueueSize(1024);
    server.addConnector(connector);
    server.setHandler(new InstantGraph(port, mediaBytes));
    server.start();
    System.out.println("InstantGraph listening on " + connector.getLocalPort());
    System.out.flush();
    server.join();
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) throws Exception {
    String path = request.getHttpURI().getPath();
    String method = request.getMethod();
    if (path.equals("/__stats")) {
      String stats =
          String.format(
              "{\"messages\":%d,\"media_lookups\":%d,\"media_downloads\":%d,\"unauthorized\":%d,\"leaked_keys\":%d}",
              messages.sum(), mediaLookups.sum(), mediaDownloads.sum(), unauthorized.sum(), leakedKeys.sum());
      return json(response, callback, 200, stats.getBytes(StandardCharsets.UTF_8));
    }
    if (leaksKey(request)) {
      leakedKeys.increment();
    }
    String authorization = request.getHeaders().get(HttpHeader.AUTHORIZATION);
    if (authorization == null || !authorization.startsWith("Bearer " + TOKEN_PREFIX)) {
      unauthorized.increment();
      Content.Source.consumeAll(request, Callback.from(() -> json(response, callback, 401, UNAUTHORIZED), callback::failed));
      return true;
    }
    if (method.equals("POST") && path.endsWith("/messages")) {
      messages.increment();
      Content.Source.consumeAll(request, Callback.from(() -> json(response, callback, 200, SENT), callback::failed));
      return true;
    }
    if (method.equals("GET") && path.startsWith("/whatsapp_business/attachments")) {
      mediaDownloads.increment();
      streamMedia(response, callback);
      return true;
    }
    String[] segments = path.split("/");
    // "/v22.0/1037543291543636" splits into ["", "v22.0", "1037543291543636"]
    if (method.equals("GET") && segments.length == 3 && segments[2].chars().allMatch(Character::isDigit)) {
      mediaLookups.increment();
      String id = segments[2];
      String body =
          "{\"messaging_product\":\"whatsapp\",\"url\":\"http://127.0.0.1:" + port
              + "/whatsapp_business/attachments/?mid=" + id + "&ext=1750000000&hash=ATbench\","
              + "\"mime_type\":\"video/mp4\",\"sha256\":\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\","
              + "\"file_size\":" + mediaBytes + ",\"id\":\"" + id + "\"}";
      return json(response, callback, 200, body.getBytes(StandardCharsets.UTF_8));
    }
    return json(response, callback, 404, NOT_FOUND);
  }

  private static boolean leaksKey(Request request) {
    String query = request.getHttpURI().getQuery();
    if (query != null && query.contains("ps_")) {
      return true;
    }
    for (var field : request.getHeaders()) {
      String value = field.getValue();
      if (value != null && value.contains("ps_")) {
        return true;
      }
    }
    return false;
  }

  private static boolean json(Response response, Callback callback, int status, byte[] body) {
    response.setStatus(status);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json; charset=UTF-8");
    response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
    response.write(true, ByteBuffer.wrap(body), callback);
    return true;
  }

  /** Blocking writes on this handler's pooled thread: simple, and flow-controlled by the socket. */
  private void streamMedia(Response response, Callback callback) {
    response.setStatus(200);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "video/mp4");
    response.getHeaders().put(HttpHeader.CONTENT_LENGTH, mediaBytes);
    byte[] chunk = new byte[CHUNK];
    for (int i = 0; i < chunk.length; i++) {
      chunk[i] = (byte) i;
    }
    try (OutputStream out = Content.Sink.asOutputStream(response)) {
      long left = mediaBytes;
      while (left > 0) {
        int n = (int) Math.min(chunk.length, left);
        out.write(chunk, 0, n);
        left -= n;
      }
    } catch (IOException e) {
      callback.failed(e);
      return;
    }
    callback.succeeded();
  }
}
