package dev.metalayer.jetty;

import dev.metalayer.doctor.Doctor;
import dev.metalayer.keys.KeyService.CreatedKey;
import dev.metalayer.keys.Grant;
import dev.metalayer.keys.KeyRecord;
import dev.metalayer.keys.WhatsAppNumber;
import dev.metalayer.relay.CallWebhookRelay.UnknownNumbers;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** The JSON shapes of numbers, keys and the store's size, for the admin API. Never holds a token. */
final class AdminViews {
  private AdminViews() {}

  /**
   * The Meta doctor's answer: {@code status} (the worst of the checks), {@code checked_at} and
   * {@code checks}, each {@code {name, status, detail, fix?, number, subscription_id?}}; {@code fix} only
   * on {@code warn} and {@code fail}, {@code subscription_id} only on a subscription's {@code deliveries}.
   * One number's answer also carries its {@code phone_number_id}. The console and the CLI read this shape.
   */
  static Map<String, Object> doctor(List<Doctor.Report> reports, Instant at, java.util.Optional<String> phoneNumberId) {
    Map<String, Object> m = new LinkedHashMap<>();
    phoneNumberId.ifPresent(id -> m.put("phone_number_id", id));
    Doctor.Status worst = reports.stream().map(Doctor.Report::status).max(java.util.Comparator.naturalOrder())
        .orElse(Doctor.Status.OK);
    m.put("status", worst.wire());
    m.put("checked_at", reports.stream().map(Doctor.Report::checkedAt).min(java.util.Comparator.naturalOrder())
        .orElse(at).toString());
    List<Map<String, Object>> checks = new java.util.ArrayList<>();
    for (Doctor.Report r : reports) {
      for (Doctor.Check c : r.checks()) {
        Map<String, Object> check = new LinkedHashMap<>();
        check.put("name", c.name());
        check.put("status", c.status().wire());
        check.put("detail", c.detail());
        c.fix().ifPresent(f -> check.put("fix", f));
        check.put("number", c.phoneNumberId());
        c.subscriptionId().ifPresent(id -> check.put("subscription_id", id));
        checks.add(check);
      }
    }
    m.put("checks", checks);
    return m;
  }

  /** @param answering the number's answering mode ({@code single} or {@code any}) */
  static Map<String, Object> number(WhatsAppNumber n, String answering) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("phone", n.phone());
    m.put("phone_number_id", n.phoneNumberId());
    m.put("waba_id", n.wabaId());
    m.put("business_id", n.businessId());
    m.put("answering", answering);
    m.put("created_at", n.createdAt().toString());
    return m;
  }

  static Map<String, Object> answering(String phoneNumberId, String mode) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("phone_number_id", phoneNumberId);
    m.put("answering", mode);
    return m;
  }

  static Map<String, Object> key(KeyRecord k) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", k.id());
    m.put("prefix", k.prefix());
    m.put("phone_number_id", k.phoneNumberId());
    m.put("created_at", k.createdAt().toString());
    m.put("last_used_at", k.lastUsedAt().map(Instant::toString).orElse(null));
    m.put("revoked_at", k.revokedAt().map(Instant::toString).orElse(null));
    m.put("scopes", scopes(k.scopes()));
    m.put("rate_limit", rateLimit(k.rateLimit()));
    return m;
  }

  /** A key's own rate limit: {@code null} (the layer's default), {@code "off"}, or {@code {"per_second","burst"}}. */
  static Object rateLimit(Optional<Grant.RateLimit> limit) {
    if (limit.isEmpty()) {
      return null;
    }
    if (!limit.get().limits()) {
      return "off";
    }
    Map<String, Object> m = new LinkedHashMap<>();
    double rate = limit.get().perSecond();
    m.put("per_second", rate == Math.rint(rate) ? (Object) (long) rate : (Object) rate);
    m.put("burst", limit.get().burst());
    return m;
  }

  /** The size of the embedded H2 file or of the PostgreSQL tables, told apart by {@code "database"}. */
  static Map<String, Object> store(LayerStore.Size any) {
    Map<String, Object> m = new LinkedHashMap<>();
    if (any instanceof PgStore.Size pg) {
      m.put("database", "postgresql");
      m.put("total_bytes", pg.totalBytes());
      m.put("table_bytes", pg.tableBytes());
      m.put("deliveries", pg.deliveries());
      m.put("envelopes", pg.envelopes());
      m.put("total_bytes_per_delivery", pg.deliveries() == 0 ? null : pg.totalBytes() / pg.deliveries());
      return m;
    }
    H2Store.Size size = (H2Store.Size) any;
    m.put("database", "h2");
    m.put("file_bytes", size.fileBytes());
    m.put("fill_rate_percent", size.fillRatePercent());
    m.put("chunks_fill_rate_percent", size.chunksFillRatePercent());
    m.put("deliveries", size.deliveries());
    m.put("envelopes", size.envelopes());
    m.put("file_bytes_per_delivery", size.deliveries() == 0 ? null : size.fileBytes() / size.deliveries());
    return m;
  }

  static Map<String, Object> createdKey(CreatedKey created) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", created.record().id());
    m.put("key", created.key());
    m.put("prefix", created.record().prefix());
    m.put("phone_number_id", created.record().phoneNumberId());
    m.put("created_at", created.record().createdAt().toString());
    m.put("scopes", scopes(created.record().scopes()));
    m.put("rate_limit", rateLimit(created.record().rateLimit()));
    return m;
  }

  /** A key's scopes as their wire names, in a fixed order. */
  static List<String> scopes(Set<Grant.Scope> scopes) {
    return scopes.stream().sorted().map(Grant.Scope::wireName).toList();
  }

  /** The operator's charts: per lane, a minute a point over the last hour, and the queue depth now. */
  static Map<String, Object> charts(List<dev.metalayer.relay.WebhookSubscriptions.LaneChart> charts) {
    List<Map<String, Object>> lanes = new java.util.ArrayList<>();
    for (dev.metalayer.relay.WebhookSubscriptions.LaneChart chart : charts) {
      Map<String, Object> lane = new LinkedHashMap<>();
      lane.put("lane", chart.lane().wire());
      lane.put("queue_depth", chart.queueDepth());
      lane.put("queue_depth_capped", chart.queueDepthCapped());
      lane.put("minutes", chart.minutes().stream().map(m -> {
        Map<String, Object> minute = new LinkedHashMap<>();
        minute.put("start", m.start().toString());
        minute.put("delivered", m.delivered());
        minute.put("mean_latency_ms", m.meanLatencyMs().orElse(null));
        minute.put("max_latency_ms", m.maxLatencyMs().orElse(null));
        return minute;
      }).toList());
      lanes.add(lane);
    }
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("minutes", dev.metalayer.relay.WebhookSubscriptions.CHART_MINUTES);
    m.put("data", lanes);
    return m;
  }

  /** The numbers Meta sent webhooks for that the layer does not know, the one seen last first. */
  static Map<String, Object> unknownNumbers(UnknownNumbers unknown) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("data", unknown.recent().stream().map(AdminViews::unknownNumber).toList());
    m.put("total", unknown.total());
    m.put("kept_at_most", UnknownNumbers.MAX_KEPT);
    return m;
  }

  private static Map<String, Object> unknownNumber(UnknownNumbers.Seen seen) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("phone_number_id", seen.phoneNumberId().orElse(null));
    m.put("waba_id", seen.wabaId().orElse(null));
    m.put("count", seen.count());
    m.put("first_seen", seen.firstSeen().toString());
    m.put("last_seen", seen.lastSeen().toString());
    return m;
  }
}
