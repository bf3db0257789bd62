package dev.metalayer.bench;

import dev.metalayer.crypto.Secrets;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import org.eclipse.jetty.client.BufferingResponseListener;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.Result;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Promise;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The webhook relay under load, with the durable store on: Meta-signed {@code calls} {@code connect}
 * events posted at a steady rate while {@code messages} webhooks flow in the background, both
 * delivered by the layer to a subscriber in this JVM, so that the ingest → subscriber latency of a call
 * is measured on one clock (from the event's intended send time, as in {@link OpenLoopLoad}). Then the
 * sustained throughput: {@code messages} webhooks posted by 16 closed-loop senders, counted in at the
 * layer and out at the subscriber.
 */
final class RelayBench {
  private static final String SDP =
      "v=0\\r\\no=- 7669997803033704573 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\na=group:BUNDLE 0\\r\\n"
          + "a=msid-semantic: WMS 4a3b8e5c\\r\\nm=audio 9 UDP/TLS/RTP/SAVPF 111 126\\r\\nc=IN IP4 0.0.0.0\\r\\n"
          + "a=rtcp:9 IN IP4 0.0.0.0\\r\\na=ice-ufrag:8hhY\\r\\na=ice-pwd:asd88fgpdd777uzjYhagZg\\r\\n"
          + "a=ice-options:trickle\\r\\na=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:"
          + "DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08\\r\\na=setup:actpass\\r\\na=mid:0\\r\\n"
          + "a=sendrecv\\r\\na=rtcp-mux\\r\\na=rtpmap:111 opus/48000/2\\r\\na=fmtp:111 minptime=10;useinbandfec=1\\r\\n"
          + "a=rtpmap:126 telephone-event/8000\\r\\na=ssrc:3735928559 cname:bench\\r\\n";
  private static final String CALL_MARK = "\"wacid.bench-";
  private static final int SENDERS = 16;
  private static final Duration DRAIN = Duration.ofSeconds(30);

  private final Bench.Options options;
  private final int layerPort;
  private final Tenant tenant;
  private final String appSecret;
  private final LongAdder messagesDelivered = new LongAdder();
  private final AtomicLong firstMessageArrival = new AtomicLong(Long.MAX_VALUE);
  private final AtomicLong lastMessageArrival = new AtomicLong();
  private final LongAdder callDuplicates = new LongAdder();
  private AtomicLongArray callSent;
  private AtomicLongArray callArrived;
  private int messageSeq;

  private final ChildProcess layer;

  RelayBench(Bench.Options options, ChildProcess layer, int layerPort, Tenant tenant, String appSecret) {
    this.options = options;
    this.layer = layer;
    this.layerPort = layerPort;
    this.tenant = tenant;
    this.appSecret = appSecret;
  }

  void run(Report report) throws Exception {
    Server subscriber = subscriber();
    int subPort = ((ServerConnector) subscriber.getConnectors()[0]).getLocalPort();
    HttpClient client = OpenLoopLoad.newClient("relay", SENDERS);
    try {
      int calls = subscribe(client, "bench-calls", "http://127.0.0.1:" + subPort + "/calls", "calls");
      int messages = subscribe(client, "bench-messages", "http://127.0.0.1:" + subPort + "/messages", "messages");
      if (calls != 201 || messages != 201) {
        report.skip("relay", "POST /v1/webhooks answered " + calls + " / " + messages);
        return;
      }
      double callRate = 20;
      double messageRate = 100;
      Duration warmup = Duration.ofSeconds(options.quick() ? 3 : 8);
      Duration measure = Duration.ofSeconds(options.quick() ? 5 : 25);
      int totalCalls = (int) ((warmup.toSeconds() + measure.toSeconds()) * callRate) + 10;
      callSent = new AtomicLongArray(totalCalls);
      callArrived = new AtomicLongArray(totalCalls);

      Bench.log(String.format(Locale.ROOT, "warm-up: calls %.0f/s with messages %.0f/s for %d s", callRate,
          messageRate, warmup.toSeconds()));
      int[] callBase = {0};
      steady(client, callRate, messageRate, warmup, callBase);
      int measuredFrom = callBase[0];
      long messagesBefore = messagesDelivered.sum();
      Bench.log(String.format(Locale.ROOT, "measure: calls %.0f/s with messages %.0f/s for %d s", callRate,
          messageRate, measure.toSeconds()));
      long t0 = System.nanoTime();
      if (options.profile()) {
        Jfr.start(layer, "relay-steady");
      }
      OpenLoopLoad.Run[] steady = steady(client, callRate, messageRate, measure, callBase);
      if (options.profile()) {
        Jfr.stopAndSummarise(layer, "relay-steady", options.work(), options.out());
      }
      int measuredTo = callBase[0];
      awaitCalls(measuredFrom, measuredTo, Duration.ofSeconds(30));
      long[] latencies = callLatencies(measuredFrom, measuredTo);
      int missing = (measuredTo - measuredFrom) - latencies.length;
      long steadyMessages = messagesDelivered.sum() - messagesBefore;
      double steadySeconds = (System.nanoTime() - t0) / 1e9;

      Bench.log("throughput: " + SENDERS + " closed-loop senders of messages webhooks");
      awaitQuiet(Duration.ofSeconds(30));
      long rowsBefore = deliveredTotal();
      Saturation s = saturate(client, Duration.ofSeconds(options.quick() ? 3 : 10), DRAIN);
      report.put("relay", "deliveries_in_store_before_throughput_phase", rowsBefore);

      double p50 = Latencies.percentileMillis(latencies, 50);
      double p99 = Latencies.percentileMillis(latencies, 99);
      double p999 = Latencies.percentileMillis(latencies, 99.9);
      double max = latencies.length == 0 ? Double.NaN : latencies[latencies.length - 1] / 1e6;
      report.put("relay", "call_rate_per_s", callRate);
      report.put("relay", "background_message_rate_per_s", messageRate);
      report.put("relay", "measure_seconds", measure.toSeconds());
      report.put("relay", "call_events", measuredTo - measuredFrom);
      report.put("relay", "call_events_missing", missing);
      report.put("relay", "call_duplicates", callDuplicates.sum());
      report.put("relay", "call_p50_ms", Bench.round(p50, 3));
      report.put("relay", "call_p99_ms", Bench.round(p99, 3));
      report.put("relay", "call_p999_ms", Bench.round(p999, 3));
      report.put("relay", "call_max_ms", Bench.round(max, 3));
      report.put("relay", "ingest_errors_steady", steady[0].failed() + steady[1].failed());
      report.put("relay", "messages_delivered_steady_per_s", Bench.round(steadyMessages / steadySeconds, 1));
      report.put("relay", "throughput_ingest_per_s", Bench.round(s.ingestPerSecond(), 0));
      report.put("relay", "throughput_ingest_errors", s.errors());
      report.put("relay", "throughput_delivered_per_s", Bench.round(s.deliveredPerSecond(), 0));
      report.put("relay", "throughput_accepted", s.accepted());
      report.put("relay", "throughput_delivered", s.delivered());
      report.put("relay", "throughput_drain_seconds", Bench.round(s.drainSeconds(), 1));
      report.line("");
      report.line("2. Webhook relay (durable H2 store): signed calls/connect at %.0f/s with messages webhooks at %.0f/s,"
          + " %d s", callRate, messageRate, measure.toSeconds());
      report.line("   call ingest -> subscriber: p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms (%d events,"
          + " %d missing, %d duplicates)", p50, p99, p999, max, measuredTo - measuredFrom, missing,
          callDuplicates.sum());
      report.line("   background messages delivered: %.0f/s; ingest errors %d", steadyMessages / steadySeconds,
          steady[0].failed() + steady[1].failed());
      report.line("   sustained (%d closed-loop senders, %d s, %d deliveries already in the store): ingest %.0f"
          + " webhooks/s answered 200, %d errors", SENDERS, s.seconds(), rowsBefore, s.ingestPerSecond(), s.errors());
      if (s.delivered() >= s.accepted()) {
        report.line("   delivered %.0f/s end to end: all %d, the last %.1f s after the last post", s.deliveredPerSecond(),
            s.accepted(), s.drainSeconds());
      } else {
        report.line("   delivered %.0f/s end to end: NOT drained, %d of %d delivered %d s after the last post",
            s.deliveredPerSecond(), s.delivered(), s.accepted(), DRAIN.toSeconds());
      }
      report.verdict("Call event ingest->delivery p99 < 10 ms with message webhooks flowing",
          String.format(Locale.ROOT, "p99 %.3f ms (p50 %.3f, %d events, %d missing)", p99, p50,
              latencies.length, missing),
          p99 < 10 && missing == 0,
          p99 < 10 ? String.format(Locale.ROOT, "%.2f ms to spare", 10 - p99)
              : String.format(Locale.ROOT, "%.2f ms over", p99 - 10));
    } finally {
      client.stop();
      subscriber.stop();
    }
  }

  /** A subscriber that answers 200 at once and notes when each delivery arrived (after its body). */
  private Server subscriber() throws Exception {
    QueuedThreadPool threads = new QueuedThreadPool(64, 4);
    threads.setName("subscriber");
    threads.setDaemon(true);
    Server server = new Server(threads);
    ServerConnector connector = new ServerConnector(server);
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    server.setHandler(
        new Handler.Abstract() {
          @Override
          public boolean handle(org.eclipse.jetty.server.Request request, Response response, Callback callback) {
            String path = request.getHttpURI().getPath();
            Content.Source.asByteArrayAsync(request, 4 * 1024 * 1024, new Promise.Invocable<byte[]>() {
              @Override
              public void succeeded(byte[] body) {
                long now = System.nanoTime();
                if (path.startsWith("/calls")) {
                  callArrived(body, now);
                } else {
                  messagesDelivered.increment();
                  firstMessageArrival.accumulateAndGet(now, Math::min);
                  lastMessageArrival.accumulateAndGet(now, Math::max);
                }
                answer();
              }

              @Override
              public void failed(Throwable failure) {
                answer();
              }

              private void answer() {
                response.setStatus(200);
                response.write(true, ByteBuffer.allocate(0), callback);
              }
            });
            return true;
          }
        });
    server.start();
    return server;
  }

  private void callArrived(byte[] body, long now) {
    String text = new String(body, StandardCharsets.UTF_8);
    int at = text.indexOf(CALL_MARK);
    if (at < 0) {
      return;
    }
    int from = at + CALL_MARK.length();
    int to = from;
    while (to < text.length() && Character.isDigit(text.charAt(to))) {
      to++;
    }
    int seq = Integer.parseInt(text.substring(from, to));
    if (seq < callArrived.length() && !callArrived.compareAndSet(seq, 0, now)) {
      callDuplicates.increment();
    }
  }

  private int subscribe(HttpClient client, String name, String url, String event) throws Exception {
    String body = "{\"name\":\"" + name + "\",\"url\":\"" + url + "\",\"events\":[\"" + event + "\"]}";
    ContentResponse r =
        client.newRequest("http://127.0.0.1:" + layerPort + "/v1/webhooks")
            .method(HttpMethod.POST)
            .headers(h -> h.put("x-api-key", tenant.key()))
            .body(new BytesRequestContent("application/json", body.getBytes(StandardCharsets.UTF_8)))
            .timeout(10, TimeUnit.SECONDS)
            .send();
    if (r.getStatus() != 201) {
      Bench.log("POST /v1/webhooks (" + event + ") answered " + r.getStatus() + ": " + r.getContentAsString());
    }
    return r.getStatus();
  }

  /** Calls and messages at their rates, on two pacing threads, for {@code duration}. */
  private OpenLoopLoad.Run[] steady(HttpClient client, double callRate, double messageRate, Duration duration,
      int[] callBase) throws Exception {
    int base = callBase[0];
    OpenLoopLoad.Run[] runs = new OpenLoopLoad.Run[2];
    Exception[] failure = new Exception[1];
    Thread messages = new Thread(() -> {
      try {
        runs[1] = OpenLoopLoad.run("messages", client, (c, seq, intended) -> post(c, messageWebhook(nextMessage())),
            messageRate, duration, Duration.ofSeconds(30));
      } catch (InterruptedException e) {
        failure[0] = e;
      }
    }, "pace-messages");
    messages.start();
    runs[0] = OpenLoopLoad.run("calls", client, (c, seq, intended) -> {
      int id = base + (int) seq;
      callSent.set(id, intended);
      return post(c, callWebhook(id));
    }, callRate, duration, Duration.ofSeconds(30));
    messages.join();
    if (failure[0] != null) {
      throw failure[0];
    }
    callBase[0] = base + (int) runs[0].due();
    return runs;
  }

  /** Every delivery that reached the subscriber so far (each one is a row in the layer's store). */
  private long deliveredTotal() {
    long calls = 0;
    for (int i = 0; i < callArrived.length(); i++) {
      calls += callArrived.get(i) != 0 ? 1 : 0;
    }
    return messagesDelivered.sum() + calls;
  }

  private synchronized int nextMessage() {
    return messageSeq++;
  }

  private Request post(HttpClient c, String body) {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    return c.newRequest("http://127.0.0.1:" + layerPort + "/webhooks/meta")
        .method(HttpMethod.POST)
        .headers(h -> h.put("X-Hub-Signature-256", "sha256=" + Secrets.hex(
            Secrets.hmacSha256(appSecret.getBytes(StandardCharsets.UTF_8), bytes))))
        .body(new BytesRequestContent("application/json", bytes));
  }

  private void awaitCalls(int from, int to, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      boolean all = true;
      for (int i = from; i < to && all; i++) {
        all = callArrived.get(i) != 0;
      }
      if (all) {
        return;
      }
      Thread.sleep(50);
    }
  }

  private void awaitQuiet(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    long last = -1;
    while (System.nanoTime() < deadline) {
      long now = messagesDelivered.sum();
      if (now == last && now >= messageSeq) {
        return;
      }
      last = now;
      Thread.sleep(500);
    }
  }

  private long[] callLatencies(int from, int to) {
    List<Long> out = new ArrayList<>();
    for (int i = from; i < to; i++) {
      long arrived = callArrived.get(i);
      if (arrived != 0) {
        out.add(arrived - callSent.get(i));
      }
    }
    long[] sorted = out.stream().mapToLong(Long::longValue).toArray();
    Arrays.sort(sorted);
    return sorted;
  }

  record Saturation(long accepted, long errors, long delivered, int seconds, double ingestPerSecond,
      double deliveredPerSecond, double drainSeconds) {}

  /** {@link #SENDERS} senders post messages webhooks back to back for {@code duration}, then drain. */
  private Saturation saturate(HttpClient client, Duration duration, Duration drain) throws Exception {
    long deliveredBefore = messagesDelivered.sum();
    LongAdder accepted = new LongAdder();
    LongAdder errors = new LongAdder();
    CountDownLatch finished = new CountDownLatch(SENDERS);
    long t0 = System.nanoTime();
    long deadline = t0 + duration.toNanos();
    for (int i = 0; i < SENDERS; i++) {
      sendLoop(client, deadline, accepted, errors, finished);
    }
    finished.await(duration.toSeconds() + 30, TimeUnit.SECONDS);
    long ingestEnd = System.nanoTime();
    long target = deliveredBefore + accepted.sum();
    long drainDeadline = System.nanoTime() + drain.toNanos();
    while (messagesDelivered.sum() < target && System.nanoTime() < drainDeadline) {
      Thread.sleep(20);
    }
    long delivered = messagesDelivered.sum() - deliveredBefore;
    long lastArrival = lastMessageArrival.get();
    double endToEnd = (lastArrival - t0) / 1e9;
    return new Saturation(accepted.sum(), errors.sum(), delivered, (int) duration.toSeconds(),
        accepted.sum() / ((ingestEnd - t0) / 1e9), delivered / endToEnd, Math.max(0, (lastArrival - ingestEnd) / 1e9));
  }

  private void sendLoop(HttpClient client, long deadline, LongAdder accepted, LongAdder errors, CountDownLatch done) {
    if (System.nanoTime() >= deadline) {
      done.countDown();
      return;
    }
    post(client, messageWebhook(nextMessage()))
        .timeout(10, TimeUnit.SECONDS)
        .send(new BufferingResponseListener() {
          @Override
          public void onComplete(Result result) {
            if (result.isSucceeded() && result.getResponse().getStatus() == 200) {
              accepted.increment();
            } else {
              errors.increment();
            }
            sendLoop(client, deadline, accepted, errors, done);
          }
        });
  }

  private String callWebhook(int id) {
    long now = System.currentTimeMillis() / 1000;
    String digits = tenant.phone().substring(1);
    return "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + tenant.wabaId() + "\",\"changes\":[{"
        + "\"field\":\"calls\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":\""
        + digits + "\",\"phone_number_id\":\"" + tenant.phoneNumberId() + "\"},\"contacts\":[{\"profile\":{\"name\":"
        + "\"Jane Doe\"},\"wa_id\":\"15551234567\"}],\"calls\":[{\"id\":\"wacid.bench-" + id + "\",\"from\":"
        + "\"15551234567\",\"to\":\"" + digits + "\",\"event\":\"connect\",\"timestamp\":\"" + now + "\","
        + "\"direction\":\"USER_INITIATED\",\"session\":{\"sdp_type\":\"offer\",\"sdp\":\"" + SDP + "\"}}]}}]}]}";
  }

  private String messageWebhook(int id) {
    long now = System.currentTimeMillis() / 1000;
    String digits = tenant.phone().substring(1);
    return "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + tenant.wabaId() + "\",\"changes\":[{"
        + "\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":\"" + digits
        + "\",\"phone_number_id\":\"" + tenant.phoneNumberId() + "\"},\"contacts\":[{\"profile\":{\"name\":"
        + "\"Jane Doe\"},\"wa_id\":\"15551234567\"}],\"messages\":[{\"from\":\"15551234567\",\"id\":\"wamid.bench-"
        + id + "\",\"timestamp\":\"" + now + "\",\"text\":{\"body\":\"Hi, I need help with my order #" + id
        + "\"},\"type\":\"text\"}]},\"field\":\"messages\"}]}]}";
  }
}
