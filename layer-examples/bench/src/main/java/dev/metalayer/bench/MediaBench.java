package dev.metalayer.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.InputStreamResponseListener;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.http.HttpHeader;

/**
 * Streaming through the layer's media route: {@code GET {prefix}/v22.0/{media-id}} (the layer rewrites
 * {@code url} to itself), then {@code GET url} with the same key, 100 MiB from the fake Graph, through
 * a layer started with {@code -Xmx64m}. The layer's resident memory is sampled every 20 ms; the first
 * download warms the path, the second is the one judged.
 */
final class MediaBench {
  static final long MEDIA_BYTES = 100L * 1024 * 1024;
  /** The memory of a streaming download must not grow with the body: at most this much during one. */
  static final long FLAT_GROWTH_KIB = 16 * 1024;
  private static final String MEDIA_ID = "1037543291543636";

  private final int layerPort;
  private final int fakePort;
  private final Tenant tenant;
  private final ChildProcess layer;

  MediaBench(int layerPort, int fakePort, Tenant tenant, ChildProcess layer) {
    this.layerPort = layerPort;
    this.fakePort = fakePort;
    this.tenant = tenant;
    this.layer = layer;
  }

  /** One download: its status, bytes, seconds and the layer's resident memory before and during it. */
  record Download(int status, long bytes, double seconds, long rssBeforeKib, long rssPeakKib) {
    double mibPerSecond() {
      return bytes / 1024.0 / 1024.0 / seconds;
    }
  }

  void run(Report report) throws Exception {
    HttpClient client = OpenLoopLoad.newClient("media", 2);
    try {
      String layerBase = "http://127.0.0.1:" + layerPort + Bench.PREFIX;
      String lookup = layerBase + "/v22.0/" + MEDIA_ID;
      ContentResponse found =
          client.newRequest(lookup).headers(h -> h.put(HttpHeader.AUTHORIZATION, "Bearer " + tenant.key()))
              .timeout(10, TimeUnit.SECONDS).send();
      if (found.getStatus() != 200) {
        report.skip("media", "media lookup through the layer answered " + found.getStatus() + ": "
            + found.getContentAsString());
        return;
      }
      JsonNode json = Bench.json().readTree(found.getContentAsString());
      String url = json.path("url").asText();
      report.put("media", "rewritten_url_is_layer", url.startsWith("http://127.0.0.1:" + layerPort));
      List<Download> viaLayer = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        viaLayer.add(download(client, url, "Bearer " + tenant.key(), layer));
        Bench.log(String.format(Locale.ROOT, "download %d through the layer: %d, %d bytes, %.0f MiB/s, RSS %d -> peak %d MiB",
            i + 1, viaLayer.get(i).status(), viaLayer.get(i).bytes(), viaLayer.get(i).mibPerSecond(),
            viaLayer.get(i).rssBeforeKib() / 1024, viaLayer.get(i).rssPeakKib() / 1024));
      }
      String directUrl = "http://127.0.0.1:" + fakePort + "/whatsapp_business/attachments/?mid=" + MEDIA_ID;
      Download direct = download(client, directUrl, "Bearer " + tenant.metaToken(), null);
      long hwm = layer.peakRssKib().orElse(-1);
      Download judged = viaLayer.get(1);
      boolean complete = viaLayer.stream().allMatch(d -> d.status() == 200 && d.bytes() == MEDIA_BYTES);
      long growth = judged.rssPeakKib() - judged.rssBeforeKib();
      report.put("media", "bytes", MEDIA_BYTES);
      report.put("media", "layer_xmx", "64m");
      report.put("media", "complete", complete);
      report.put("media", "layer_mib_per_s", viaLayer.stream().map(d -> Bench.round(d.mibPerSecond(), 1)).toList());
      report.put("media", "direct_mib_per_s", Bench.round(direct.mibPerSecond(), 1));
      report.put("media", "rss_before_mib", viaLayer.stream().map(d -> d.rssBeforeKib() / 1024).toList());
      report.put("media", "rss_peak_during_mib", viaLayer.stream().map(d -> d.rssPeakKib() / 1024).toList());
      report.put("media", "vm_hwm_mib", hwm / 1024);
      report.line("");
      report.line("3. Streaming: GET of a %d MiB media through the layer at -Xmx64m (rewritten url, Bearer key)",
          MEDIA_BYTES / 1024 / 1024);
      report.line("   download 1: %.0f MiB/s, download 2: %.0f MiB/s; direct from the fake Graph: %.0f MiB/s",
          viaLayer.get(0).mibPerSecond(), judged.mibPerSecond(), direct.mibPerSecond());
      report.line("   layer RSS: %d MiB before download 1, peak %d MiB during it; %d -> %d MiB during download 2;"
              + " VmHWM %d MiB", viaLayer.get(0).rssBeforeKib() / 1024, viaLayer.get(0).rssPeakKib() / 1024,
          judged.rssBeforeKib() / 1024, judged.rssPeakKib() / 1024, hwm / 1024);
      boolean flat = growth < FLAT_GROWTH_KIB;
      report.verdict("100 MB download completes at -Xmx64m with flat memory",
          String.format(Locale.ROOT, "%s; RSS +%d MiB during the judged download, VmHWM %d MiB",
              complete ? "complete" : "INCOMPLETE", growth / 1024, hwm / 1024),
          complete && flat,
          flat ? String.format(Locale.ROOT, "growth under the %d MiB bound", FLAT_GROWTH_KIB / 1024)
              : String.format(Locale.ROOT, "growth %d MiB over the %d MiB bound", (growth - FLAT_GROWTH_KIB) / 1024,
                  FLAT_GROWTH_KIB / 1024));
    } finally {
      client.stop();
    }
  }

  private static Download download(HttpClient client, String url, String authorization, ChildProcess sampled)
      throws Exception {
    long before = sampled == null ? 0 : sampled.rssKib().orElse(0);
    long[] peak = {before};
    Thread sampler = null;
    if (sampled != null) {
      sampler = new Thread(() -> {
        while (!Thread.currentThread().isInterrupted()) {
          sampled.rssKib().ifPresent(r -> peak[0] = Math.max(peak[0], r));
          try {
            Thread.sleep(20);
          } catch (InterruptedException e) {
            return;
          }
        }
      }, "rss-sampler");
      sampler.setDaemon(true);
      sampler.start();
    }
    InputStreamResponseListener listener = new InputStreamResponseListener();
    long t0 = System.nanoTime();
    client.newRequest(url)
        .headers(h -> h.put(HttpHeader.AUTHORIZATION, authorization))
        .timeout(120, TimeUnit.SECONDS)
        .send(listener);
    Response response = listener.get(30, TimeUnit.SECONDS);
    long bytes = 0;
    byte[] buffer = new byte[64 * 1024];
    try (InputStream in = listener.getInputStream()) {
      int n;
      while ((n = in.read(buffer)) >= 0) {
        bytes += n;
      }
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    if (sampler != null) {
      sampler.interrupt();
      sampler.join();
      sampled.rssKib().ifPresent(r -> peak[0] = Math.max(peak[0], r));
    }
    if (response.getStatus() != 200) {
      Bench.log("download of " + url.replaceAll("\\?.*", "?…") + " answered " + response.getStatus() + ": "
          + new String(buffer, 0, (int) Math.min(bytes, 300), StandardCharsets.UTF_8));
    }
    return new Download(response.getStatus(), bytes, seconds, before, peak[0]);
  }
}
