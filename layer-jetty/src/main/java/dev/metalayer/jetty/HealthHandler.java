package dev.metalayer.jetty;

import dev.metalayer.graph.GraphError;
import dev.metalayer.json.Json;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * {@code /healthz}: the process serves (always 200, {@code {"status":"ok","version":…}}). {@code /readyz}: 200 {@code {"status":"ready"}}
 * when the layer can do its work, else 503 with a Graph-shaped {@code error} and
 * {@code {"status":"not ready","problems":[…]}} naming what
 * fails: the store does not answer, a background worker of the relay stopped (a lane's scheduler or
 * pool, the retention schedule: webhooks would be accepted and never delivered), or Jetty's scheduler
 * (timeouts) has not run its heartbeat for {@link #STALE_NANOS}. A load balancer stops sending traffic
 * to such an instance and a supervisor replaces it. Both answers also show the request bodies held in
 * memory ({@link BodyReader}), for operators watching a flood.
 */
final class HealthHandler implements Request.Handler {
  static final long BEAT_MILLIS = 1_000;
  static final long STALE_NANOS = TimeUnit.SECONDS.toNanos(10);

  private final BooleanSupplier storeAnswers;
  private final Supplier<List<String>> deadWorkers;
  private final BodyReader bodies;
  private volatile Scheduler scheduler;
  private volatile long lastBeat = System.nanoTime();

  HealthHandler(BooleanSupplier storeAnswers, Supplier<List<String>> deadWorkers, BodyReader bodies) {
    this.storeAnswers = storeAnswers;
    this.deadWorkers = deadWorkers;
    this.bodies = bodies;
  }

  /** Starts a heartbeat on Jetty's scheduler, whose silence {@code /readyz} reports. */
  void watch(Scheduler scheduler) {
    this.scheduler = scheduler;
    beat();
  }

  private void beat() {
    lastBeat = System.nanoTime();
    Scheduler s = scheduler;
    if (s != null && s.isRunning()) {
      s.schedule(this::beat, BEAT_MILLIS, TimeUnit.MILLISECONDS);
    }
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) throws IOException {
    String path = request.getHttpURI().getPath();
    if (!path.equals("/readyz")) {
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("status", "ok");
      body.put("version", LayerVersion.VERSION);
      HttpIo.writeJson(response, callback, 200, body);
      return true;
    }
    List<String> problems = new ArrayList<>();
    if (!storeAnswers.getAsBoolean()) {
      problems.add("store unreachable");
    }
    for (String worker : deadWorkers.get()) {
      problems.add("worker stopped: " + worker);
    }
    if (scheduler != null && System.nanoTime() - lastBeat > STALE_NANOS) {
      problems.add("worker stopped: the HTTP server's scheduler");
    }
    Map<String, Object> body = new LinkedHashMap<>();
    if (!problems.isEmpty()) {
      GraphError error = GraphError.unavailable("Not ready: " + String.join("; ", problems) + ".");
      body.put("error", Json.mapper().readTree(error.toJson()).get("error"));
    }
    body.put("status", problems.isEmpty() ? "ready" : "not ready");
    if (!problems.isEmpty()) {
      body.put("problems", problems);
    }
    body.put("body_bytes_held", bodies.buffered());
    body.put("body_bytes_peak", bodies.peak());
    HttpIo.writeJson(response, callback, problems.isEmpty() ? 200 : 503, body);
    return true;
  }
}
