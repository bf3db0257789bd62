package dev.metalayer.jetty;

import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.graph.GraphError;
import dev.metalayer.json.Json;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpHeaderValue;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the request bodies the layer must hold whole before it can decide (a webhook before its
 * signature is checked, a Graph form that may carry the credential), so that whoever sends bodies,
 * with or without a credential, holds no thread and at most a fixed share of memory:
 *
 * <ul>
 *   <li><b>No thread waits for a client.</b> The body is read with Jetty's content demand; the
 *       continuation runs on a server thread once the last byte is in.
 *   <li><b>A budget of buffered bytes</b> shared by every body being read or processed. A body that does
 *       not fit is answered 503 with {@code Retry-After}, and its connection closes. A buffer grows with
 *       the bytes that actually arrive (a declared length reserves nothing), and counts until the
 *       continuation returns. Bodies larger than {@link #SMALL_BODY_BYTES} may hold only three quarters
 *       of the budget: the rest is kept for small bodies, which is what Meta's webhooks and Graph forms
 *       are, so that a flood of large stalled bodies does not keep them out.
 *   <li><b>A total read deadline</b> per body, whatever the rate (Jetty's idle timeout is reset by each
 *       byte, so a body trickled one byte at a time would otherwise never end): a body not whole in time
 *       is answered 408, and its connection closes.
 *   <li><b>A per-request limit</b>: over it, 413. A body that ends within {@link HttpIo#DRAIN_BYTES} of
 *       the limit is read to its end and thrown away first, so that the client reads the 413 on a live
 *       connection; beyond that margin the layer answers and closes.
 * </ul>
 *
 * <p>Each read completes the request's callback exactly once: through the continuation, or with one of
 * the answers above. Thread-safe.
 */
final class BodyReader {
  private static final Logger log = LoggerFactory.getLogger(BodyReader.class);
  /** What a body that ends before it is known starts with; it grows by doubling. */
  private static final int FIRST_CAPACITY = 8 * 1024;
  /** Bodies up to this size may use the whole budget; larger ones three quarters of it. */
  static final int SMALL_BODY_BYTES = 64 * 1024;
  /** Seconds a client refused for a full budget is told to wait. */
  static final int RETRY_AFTER_SECONDS = 5;

  /** Runs once with the whole body; answers through the response (or throws: a Graph-shaped 500). */
  @FunctionalInterface
  interface Then {
    void accept(byte[] body) throws Exception;
  }

  /** Runs once with a body that is one JSON object. */
  @FunctionalInterface
  interface ThenJson {
    void accept(JsonNode object) throws Exception;
  }

  private final long budgetBytes;
  private final Duration deadline;
  private final AtomicLong buffered = new AtomicLong();
  private final AtomicLong peak = new AtomicLong();

  /**
   * @param budgetBytes bytes of bodies held at once, over all requests
   * @param deadline the longest time to receive one body, from the moment its read starts
   */
  BodyReader(long budgetBytes, Duration deadline) {
    if (budgetBytes <= 0) {
      throw new IllegalArgumentException("the body budget must be positive");
    }
    this.budgetBytes = budgetBytes;
    this.deadline = Objects.requireNonNull(deadline, "deadline");
  }

  /** Bytes of bodies held right now. */
  long buffered() {
    return buffered.get();
  }

  /** The most bytes of bodies held at once since the layer started. */
  long peak() {
    return peak.get();
  }

  long budget() {
    return budgetBytes;
  }

  /**
   * Reads {@code request}'s whole body (at most {@code maxBytes}) and then runs {@code then} with it,
   * or answers 413 ({@code tooLarge}), 503 or 408 itself. Returns at once.
   */
  void read(Request request, int maxBytes, GraphError tooLarge, Response response, Callback callback, Then then) {
    new Read(request, maxBytes, tooLarge, response, callback, then).start();
  }

  /**
   * Reads a body that must be one JSON object (at most {@code maxBytes}, else 413) and runs {@code then}
   * with it; anything else is answered 400 here. The one way the API handlers ({@code /v1/webhooks},
   * {@code /admin/v1}) read a body: no thread waits for it, within the budget and the read deadline.
   */
  void readJsonObject(Request request, int maxBytes, Response response, Callback callback, ThenJson then) {
    read(request, maxBytes, GraphError.bodyTooLarge(), response, callback, body -> {
      JsonNode node = null;
      try {
        node = Json.mapper().readTree(body);
      } catch (IOException e) {
        // answered below
      }
      if (node == null || !node.isObject()) {
        HttpIo.writeError(response, callback, GraphError.notJsonObject());
        return;
      }
      then.accept(node);
    });
  }

  /**
   * Answers {@code tooLarge} to a body declared larger than {@code maxBytes}, after reading and
   * discarding it when it ends within {@link HttpIo#DRAIN_BYTES} of the limit (within the read deadline,
   * holding no thread and nothing of the budget). Returns at once.
   */
  void refuse(Request request, long maxBytes, GraphError tooLarge, Response response, Callback callback) {
    new Read(request, maxBytes, tooLarge, response, callback, body -> {
      throw new IllegalStateException("a refused body has no continuation");
    }).start();
  }

  private boolean reserve(long bytes, boolean large) {
    long limit = large ? budgetBytes - budgetBytes / 4 : budgetBytes;
    while (true) {
      long now = buffered.get();
      if (now + bytes > limit) {
        return false;
      }
      if (buffered.compareAndSet(now, now + bytes)) {
        peak.accumulateAndGet(now + bytes, Math::max);
        return true;
      }
    }
  }

  /** One body being read. Its state is guarded by its own monitor; {@code answered} decides who answers. */
  private final class Read implements Runnable {
    private final Request request;
    private final long maxBytes;
    private final GraphError tooLarge;
    private final Response response;
    private final Callback callback;
    private final Then then;
    private boolean answered;
    private byte[] buffer = new byte[0];
    private int size;
    private long reserved;
    private boolean overLimit;
    private long discarded;
    private Scheduler.Task timeout;

    Read(Request request, long maxBytes, GraphError tooLarge, Response response, Callback callback, Then then) {
      this.request = request;
      this.maxBytes = maxBytes;
      this.tooLarge = tooLarge;
      this.response = response;
      this.callback = callback;
      this.then = then;
    }

    void start() {
      long declared = request.getLength();
      synchronized (this) {
        if (declared > maxBytes + HttpIo.DRAIN_BYTES) {
          answer(tooLarge, false);
          return;
        }
        if (declared > maxBytes) {
          overLimit = true;
        }
        timeout = request.getComponents().getScheduler().schedule(this::expire, deadline.toMillis(), TimeUnit.MILLISECONDS);
      }
      run();
    }

    /** The demand loop: reads what is there, then asks to be called again when more arrives. */
    @Override
    public void run() {
      while (true) {
        byte[] body;
        synchronized (this) {
          if (answered) {
            return;
          }
          Content.Chunk chunk = request.read();
          if (chunk == null) {
            request.demand(this);
            return;
          }
          if (Content.Chunk.isFailure(chunk)) {
            answered = true;
            finish();
            // the client went away or sent a malformed body: Jetty's error handling answers (a 400 for bad chunking)
            log.debug("A request body failed: {}", chunk.getFailure().getClass().getSimpleName());
            callback.failed(chunk.getFailure());
            return;
          }
          try {
            if (!take(chunk.getByteBuffer())) {
              return;
            }
            if (!chunk.isLast()) {
              continue;
            }
            if (overLimit) {
              answer(tooLarge, false);
              return;
            }
            answered = true;
            if (timeout != null) {
              timeout.cancel();
            }
            body = size == buffer.length ? buffer : Arrays.copyOf(buffer, size);
            buffer = null;
          } finally {
            chunk.release();
          }
        }
        try {
          then.accept(body);
        } catch (Throwable t) {
          Routes.answerFailure(BodyReader.class.getSimpleName(), response, callback, t);
        } finally {
          synchronized (this) {
            finish();
          }
        }
        return;
      }
    }

    /** Keeps (or, over the limit, discards) a chunk's bytes; false when it answered instead. */
    private boolean take(ByteBuffer bytes) {
      int n = bytes.remaining();
      if (!overLimit && (long) size + n > maxBytes) {
        overLimit = true;
        discarded = size;
        releaseBuffer();
      }
      if (overLimit) {
        discarded += n;
        if (discarded > maxBytes + HttpIo.DRAIN_BYTES) {
          answer(tooLarge, false);
          return false;
        }
        return true;
      }
      long declared = request.getLength();
      long cap = declared >= 0 ? Math.min(declared, maxBytes) : maxBytes;
      int capacity = (int) Math.max(size + n, Math.min(cap, Math.max(FIRST_CAPACITY, 2L * buffer.length)));
      if (size + n > buffer.length && !grow(capacity)) {
        answerBusy();
        return false;
      }
      bytes.get(buffer, size, n);
      size += n;
      return true;
    }

    /** Grows the buffer to {@code capacity} when the budget has room for it. */
    private boolean grow(int capacity) {
      long more = capacity - buffer.length;
      if (!reserve(more, capacity > SMALL_BODY_BYTES)) {
        return false;
      }
      reserved += more;
      buffer = Arrays.copyOf(buffer, capacity);
      return true;
    }

    private void expire() {
      synchronized (this) {
        if (answered) {
          return;
        }
        log.debug("A request body was not received within {}", deadline);
        answer(GraphError.of(408, 2, GraphError.LAYER,
            "The request body was not received within " + seconds(deadline) + " (LAYER_BODY_READ_TIMEOUT)."), true);
      }
    }

    private static String seconds(Duration d) {
      return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }

    private void answerBusy() {
      log.debug("The body budget is full ({} bytes held)", buffered.get());
      response.getHeaders().put(HttpHeader.RETRY_AFTER, RETRY_AFTER_SECONDS);
      answer(GraphError.unavailable("The layer holds as many request bodies as it may (LAYER_BODY_BUFFER_BYTES); retry later."), true);
    }

    /** Answers {@code error} instead of running the continuation; the caller holds the monitor. */
    private void answer(GraphError error, boolean close) {
      answered = true;
      finish();
      if (close) {
        response.getHeaders().put(HttpHeader.CONNECTION, HttpHeaderValue.CLOSE.asString());
      }
      HttpIo.writeError(response, callback, error);
    }

    /** Returns what this read holds to the budget and stops its deadline; the caller holds the monitor. */
    private void finish() {
      if (timeout != null) {
        timeout.cancel();
      }
      releaseBuffer();
    }

    private void releaseBuffer() {
      buffered.addAndGet(-reserved);
      reserved = 0;
      buffer = new byte[0];
      size = 0;
    }
  }
}
