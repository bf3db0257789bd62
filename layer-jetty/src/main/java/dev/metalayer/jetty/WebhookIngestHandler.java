package dev.metalayer.jetty;

import dev.metalayer.relay.CallWebhookRelay;
import dev.metalayer.crypto.Secrets;
import dev.metalayer.graph.GraphError;
import dev.metalayer.relay.CallWebhookRelay.IngestResult;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * {@code /webhooks/meta}: Meta's callback URL.
 *
 * <ul>
 *   <li>{@code GET}: the verification handshake. {@code hub.mode=subscribe} and a
 *       {@code hub.verify_token} equal (in constant time) to {@code META_VERIFY_TOKEN} → 200 with the
 *       raw {@code hub.challenge} as {@code text/plain}; anything else → 403 Graph-shaped JSON.
 *   <li>{@code POST}: a request refused by its signature header alone ({@link
 *       CallWebhookRelay#refusalBeforeBody}) is answered before any of its body is read. Otherwise the
 *       raw body (at most 3 MB, else 413), read by the {@link BodyReader} (no thread
 *       waits for it; a shared budget of buffered bytes, else 503; a read deadline, else 408), and
 *       {@code X-Hub-Signature-256} go to {@link CallWebhookRelay#ingest}; 200 once the envelope is
 *       durable, else the refusal's error: a store that fails is a 503 with {@code Retry-After}, which Meta
 *       retries.
 * </ul>
 */
final class WebhookIngestHandler implements Request.Handler {
  static final String PATH = "/webhooks/meta";

  private final CallWebhookRelay relay;
  private final Optional<String> verifyToken;
  private final BodyReader bodies;

  WebhookIngestHandler(CallWebhookRelay relay, Optional<String> verifyToken, BodyReader bodies) {
    this.relay = relay;
    this.verifyToken = verifyToken;
    this.bodies = bodies;
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    if (!PATH.equals(request.getHttpURI().getPath())) {
      return false;
    }
    switch (request.getMethod()) {
      case "GET" -> handshake(request, response, callback);
      case "POST" -> ingest(request, response, callback);
      default -> HttpIo.writeError(response, callback, GraphError.methodNotAllowed("Use GET or POST."));
    }
    return true;
  }

  private void handshake(Request request, Response response, Callback callback) {
    String mode = HttpIo.queryParameter(request, "hub.mode").orElse(null);
    String token = HttpIo.queryParameter(request, "hub.verify_token").orElse(null);
    Optional<String> challenge = HttpIo.queryParameter(request, "hub.challenge");
    boolean ok =
        "subscribe".equals(mode)
            && verifyToken.isPresent()
            && Secrets.constantTimeEquals(token, verifyToken.get())
            && challenge.isPresent();
    if (!ok) {
      HttpIo.writeError(response, callback, GraphError.of(403, 200, GraphError.LAYER, "Verification failed."));
      return;
    }
    byte[] body = challenge.get().getBytes(StandardCharsets.UTF_8);
    response.setStatus(200);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain; charset=UTF-8");
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
    response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
    response.write(true, ByteBuffer.wrap(body), callback);
  }

  private void ingest(Request request, Response response, Callback callback) {
    String signature = request.getHeaders().get("X-Hub-Signature-256");
    Optional<IngestResult.Refused> early = relay.refusalBeforeBody(signature);
    if (early.isPresent()) {
      HttpIo.writeError(response, callback, early.get().error());
      return;
    }
    bodies.read(request, CallWebhookRelay.MAX_BODY_BYTES, CallWebhookRelay.tooLarge(),
        response, callback, body -> AccessLog.withMdc(request, () -> {
          // the envelope keeps this POST's request id: its deliveries carry it to the subscribers
          IngestResult result = relay.ingest(body, signature, Optional.of(AccessLog.trace(request).requestId()));
          if (result instanceof IngestResult.Refused refused) {
            if (refused.reason() == IngestResult.Reason.STORE_UNAVAILABLE) {
              response.getHeaders().put(HttpHeader.RETRY_AFTER, CallWebhookRelay.STORE_RETRY_AFTER_SECONDS);
            }
            HttpIo.writeError(response, callback, refused.error());
          } else {
            HttpIo.writeJson(response, callback, 200, Map.of("success", true));
          }
        }));
  }
}
