package dev.metalayer.bench;

import dev.metalayer.MetaLayer;
import dev.metalayer.keys.KeyService.CreatedKey;
import dev.metalayer.keys.KeyService;
import dev.metalayer.keys.KeyService.Registration;
import dev.metalayer.store.Database;
import dev.metalayer.store.Stores;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.h2.jdbcx.JdbcConnectionPool;

/**
 * Fills a layer's data directory with numbers and keys before the layer starts, through the public
 * core API ({@link KeyService}) on the same H2 file the standalone layer opens
 * ({@code <data-dir>/metalayer.mv.db}, user {@code metalayer}, as {@code layer-jetty}'s
 * {@code H2Store}). Keys are created on several threads; the layer must not be running.
 */
final class KeySeeder {
  /** The numbers, each with its first key, and every key created (number {@code i % numbers}). */
  record Seeded(List<Tenant> tenants, List<String> allKeys, double seconds) {}

  private KeySeeder() {}

  static Seeded seed(Path dataDir, byte[] masterKey, int numbers, int keysPerNumber) throws Exception {
    Files.createDirectories(dataDir);
    String url = "jdbc:h2:file:" + dataDir.toAbsolutePath().normalize().resolve("metalayer");
    JdbcConnectionPool pool = JdbcConnectionPool.create(url, "metalayer", "");
    pool.setMaxConnections(8);
    long t0 = System.nanoTime();
    try {
      SecureRandom random = new SecureRandom();
      MetaLayer layer =
          MetaLayer.builder()
              .keyStore(Stores.keys(Database.open(pool)))
              .masterKey(masterKey)
              .random(random)
              .build();
      KeyService keys = layer.keys();
      List<Tenant> tenants = new ArrayList<>();
      for (int i = 0; i < numbers; i++) {
        Tenant t = Tenant.number(i);
        Registration r = keys.addNumber(t.phone(), t.phoneNumberId(), t.wabaId(), t.businessId(), t.metaToken());
        if (!(r instanceof Registration.Added)) {
          throw new IllegalStateException("cannot register " + t.phoneNumberId() + ": " + r);
        }
        tenants.add(t);
      }
      int total = numbers * keysPerNumber;
      String[] all = new String[total];
      ExecutorService workers = Executors.newFixedThreadPool(4);
      try {
        List<Future<?>> parts = new ArrayList<>();
        int slice = (total + 3) / 4;
        for (int w = 0; w < 4; w++) {
          int from = w * slice;
          int to = Math.min(total, from + slice);
          parts.add(
              workers.submit(
                  () -> {
                    for (int k = from; k < to; k++) {
                      String pnid = tenants.get(k % numbers).phoneNumberId();
                      CreatedKey created =
                          keys.createKey(pnid).orElseThrow(() -> new IllegalStateException("no number " + pnid));
                      all[k] = created.key();
                    }
                    return null;
                  }));
        }
        for (Future<?> f : parts) {
          f.get();
        }
      } finally {
        workers.shutdownNow();
      }
      List<Tenant> withKeys = new ArrayList<>();
      for (int i = 0; i < numbers; i++) {
        withKeys.add(tenants.get(i).withKey(all[i]));
      }
      return new Seeded(List.copyOf(withKeys), List.of(all), (System.nanoTime() - t0) / 1e9);
    } finally {
      pool.dispose();
    }
  }
}
