package dev.metalayer.bench;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.eclipse.jetty.client.BufferingResponseListener;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.Result;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * An open-loop, constant-rate load generator: request {@code i} is due at {@code start + i / rate},
 * whatever happened to the requests before it, and its latency is measured from that intended time,
 * not from when it was actually sent. A proxy that stalls therefore shows the stall in every request
 * that should have gone out during it (no coordinated omission), as in wrk2 or Jetty's load generator.
 *
 * <p>Requests share one {@link HttpClient} with at most {@code connections} HTTP/1.1 connections to the
 * target; a request that finds every connection busy waits in the client's queue, and that wait is
 * part of its latency.
 */
final class OpenLoopLoad {
  /**
   * Makes request number {@code seq}, due at {@code intendedNanos} ({@link System#nanoTime()} scale);
   * called on the pacing thread.
   */
  @FunctionalInterface
  interface RequestSpec {
    Request newRequest(HttpClient client, long seq, long intendedNanos);
  }

  /** One run: how many requests were due, how many succeeded (2xx), and their latencies. */
  record Run(String label, double targetRate, long due, long ok, long failed, double seconds, Latencies latencies) {
    double achievedRate() {
      return seconds > 0 ? ok / seconds : 0;
    }
  }

  private OpenLoopLoad() {}

  /** A client for load: no redirects, no User-Agent, a large request queue, up to {@code connections}. */
  static HttpClient newClient(String name, int connections) throws Exception {
    QueuedThreadPool threads = new QueuedThreadPool(64, 4);
    threads.setName(name);
    threads.setDaemon(true);
    HttpClient client = new HttpClient();
    client.setExecutor(threads);
    client.setMaxConnectionsPerDestination(connections);
    client.setMaxRequestsQueuedPerDestination(1 << 20);
    client.setFollowRedirects(false);
    client.setUserAgentField(null);
    // Below every server's keep-alive timeout (Jetty's default is 30 s): a pooled connection the
    // server has just closed would fail the next request, an error of the harness, not of the target.
    client.setIdleTimeout(20_000);
    client.setConnectTimeout(5_000);
    client.start();
    // A 401 must come back as an answer, not as a failed authentication challenge.
    client.getProtocolHandlers().clear();
    return client;
  }

  /**
   * Sends {@code rate × duration} requests on schedule, then waits up to {@code drain} for the last
   * answers. Blocks the calling thread, which does the pacing.
   */
  static Run run(String label, HttpClient client, RequestSpec spec, double rate, Duration duration, Duration drain)
      throws InterruptedException {
    int due = (int) Math.round(rate * duration.toNanos() / 1e9);
    Latencies latencies = new Latencies(due);
    CountDownLatch done = new CountDownLatch(due);
    LongAdder ok = new LongAdder();
    LongAdder failed = new LongAdder();
    AtomicLong lastCompletion = new AtomicLong();
    double period = 1e9 / rate;
    long start = System.nanoTime() + 2_000_000;
    for (int i = 0; i < due; i++) {
      long intended = start + (long) (i * period);
      long wait = intended - System.nanoTime();
      if (wait > 0) {
        LockSupport.parkNanos(wait);
      }
      spec.newRequest(client, i, intended)
          .timeout(10, TimeUnit.SECONDS)
          .send(
              new BufferingResponseListener(256 * 1024) {
                @Override
                public void onComplete(Result result) {
                  long now = System.nanoTime();
                  if (result.isSucceeded() && result.getResponse().getStatus() / 100 == 2) {
                    latencies.record(now - intended);
                    ok.increment();
                  } else {
                    failed.increment();
                  }
                  lastCompletion.accumulateAndGet(now, Math::max);
                  done.countDown();
                }
              });
    }
    done.await(drain.toMillis(), TimeUnit.MILLISECONDS);
    long end = Math.max(lastCompletion.get(), start + (long) (due * period));
    double seconds = (end - start) / 1e9;
    long notAnswered = done.getCount();
    return new Run(label, rate, due, ok.sum(), failed.sum() + notAnswered, seconds, latencies);
  }
}
