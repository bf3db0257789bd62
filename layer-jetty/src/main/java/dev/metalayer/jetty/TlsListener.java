package dev.metalayer.jetty;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.jetty.alpn.server.ALPNServerConnectionFactory;
import org.eclipse.jetty.http2.HTTP2Cipher;
import org.eclipse.jetty.http2.server.HTTP2ServerConnectionFactory;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The optional HTTPS listener ({@code LAYER_TLS_PORT}): its certificate and key, read from PEM files
 * ({@code LAYER_TLS_CERT}, the chain with the leaf first, and {@code LAYER_TLS_KEY}, an unencrypted
 * PKCS#8 RSA or EC key) or from a PKCS12 file ({@code LAYER_TLS_KEYSTORE} and its password), and the
 * connection factories that serve HTTP/2 to a client that offers {@code h2} by ALPN and HTTP/1.1 to
 * the others.
 *
 * <p>Renewals: the files are read again every {@link #CHECK_INTERVAL}; once changed content has stayed
 * the same for one interval (a renewal may write the certificate and the key one after the other), it
 * is loaded, checked (the key must sign what the certificate's key verifies) and used for the new
 * connections from then on; connections already open keep theirs. Content that does not load leaves the
 * certificate in use as it is, with one WARN line per broken content (not one per check). Jetty's
 * {@code SslContextFactory.reload} is given the key store already loaded and checked here: it never reads
 * a file itself, so it cannot fail half-way.
 */
final class TlsListener implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TlsListener.class);

  /** How often the files are compared with the content in use. */
  static final java.time.Duration CHECK_INTERVAL = java.time.Duration.ofSeconds(1);

  /** Streams one HTTP/2 connection may have open at once (Jetty's default is 128). */
  static final int H2_STREAMS_PER_CONNECTION = 64;

  private final Source source;
  private final SslContextFactory.Server ssl;
  /** The password of the in-memory key store handed to Jetty (never one of the operator's). */
  private final char[] storePassword;
  private volatile Material current;
  private ScheduledExecutorService watcher;
  /** The digest of changed content seen at the previous check, loaded once it is the same at the next. */
  private byte[] changed;
  /** The digest of the last content that failed to load: warned once. */
  private byte[] failed;
  /** Checks completed: tests wait on it instead of sleeping. */
  private final java.util.concurrent.atomic.AtomicLong checks = new java.util.concurrent.atomic.AtomicLong();

  private TlsListener(Source source, Material material, char[] storePassword) {
    this.source = source;
    this.current = material;
    this.storePassword = storePassword;
    this.ssl = new SslContextFactory.Server();
    ssl.setKeyStore(material.keyStore());
    ssl.setKeyManagerPassword(new String(storePassword));
    // HTTP/2 refuses the ciphers its RFC lists: offer the others first
    ssl.setCipherComparator(HTTP2Cipher.COMPARATOR);
    ssl.setUseCipherSuitesOrder(true);
  }

  /**
   * The listener the settings ask for, its certificate loaded and checked; empty when
   * {@code LAYER_TLS_PORT} is unset.
   *
   * @throws ConfigError one line naming the option: a form missing or given twice, a file unreadable, a
   *     certificate or key that does not load, a key that is not the certificate's
   */
  static Optional<TlsListener> configure(Settings settings) {
    boolean pem = settings.get(Option.TLS_CERT).isPresent() || settings.get(Option.TLS_KEY).isPresent();
    boolean pkcs12 = settings.get(Option.TLS_KEYSTORE).isPresent();
    if (settings.get(Option.TLS_PORT).isEmpty()) {
      for (Option o : List.of(Option.TLS_CERT, Option.TLS_KEY, Option.TLS_KEYSTORE, Option.TLS_KEYSTORE_PASSWORD)) {
        if (settings.get(o).isPresent()) {
          throw settings.error(o, "it is set but " + Option.TLS_PORT.env() + " is not, so nothing would use it",
              "set " + Option.TLS_PORT.env() + " (e.g. 8443) to serve HTTPS, or unset " + settings.writtenAs(o), null);
        }
      }
      if (!settings.bool(Option.PLAIN_HTTP)) {
        throw settings.error(Option.PLAIN_HTTP, "plain HTTP is off and no HTTPS listener is set: nothing would listen",
            "set " + Option.TLS_PORT.env() + " with a certificate, or leave " + settings.writtenAs(Option.PLAIN_HTTP)
                + " true", null);
      }
      return Optional.empty();
    }
    if (settings.bool(Option.PLAIN_HTTP) && settings.integer(Option.PORT) != 0
        && settings.integer(Option.PORT) == settings.integer(Option.TLS_PORT)) {
      throw settings.error(Option.TLS_PORT, "it is the port of plain HTTP (" + settings.integer(Option.PORT) + ") too",
          "give HTTPS its own port, e.g. 8443", null);
    }
    if (pem && pkcs12) {
      throw settings.error(Option.TLS_KEYSTORE, "both a PKCS12 key store and PEM files (" + Option.TLS_CERT.env() + ", "
              + Option.TLS_KEY.env() + ") are set",
          "give one form: " + Option.TLS_CERT.env() + " and " + Option.TLS_KEY.env() + ", or " + Option.TLS_KEYSTORE.env(),
          null);
    }
    Source source;
    if (pkcs12) {
      source = new Source(List.of(Path.of(settings.string(Option.TLS_KEYSTORE))), List.of(Option.TLS_KEYSTORE),
          settings.get(Option.TLS_KEYSTORE_PASSWORD).orElse("").toCharArray());
    } else if (pem) {
      for (Option o : List.of(Option.TLS_CERT, Option.TLS_KEY)) {
        if (settings.get(o).isEmpty()) {
          Option other = o == Option.TLS_CERT ? Option.TLS_KEY : Option.TLS_CERT;
          throw settings.error(other, "it is set but " + o.env() + " is not",
              "set " + o.env() + " to the " + (o == Option.TLS_CERT ? "certificate chain's PEM file"
                  : "private key's PEM file (PKCS#8)") + " too", null);
        }
      }
      if (settings.get(Option.TLS_KEYSTORE_PASSWORD).isPresent()) {
        throw settings.error(Option.TLS_KEYSTORE_PASSWORD, "it is set with PEM files, which have no password",
            "unset it (the layer reads an unencrypted PKCS#8 key; protect the key file by its permissions)", null);
      }
      source = new Source(List.of(Path.of(settings.string(Option.TLS_CERT)), Path.of(settings.string(Option.TLS_KEY))),
          List.of(Option.TLS_CERT, Option.TLS_KEY), null);
    } else {
      throw settings.error(Option.TLS_PORT, "HTTPS needs a certificate and its key, and none is set",
          "set " + Option.TLS_CERT.env() + " and " + Option.TLS_KEY.env() + " (PEM files), or " + Option.TLS_KEYSTORE.env()
              + " and " + Option.TLS_KEYSTORE_PASSWORD.env() + " (PKCS12)", null);
    }
    char[] storePassword = new char[24];
    SecureRandom random = new SecureRandom();
    for (int i = 0; i < storePassword.length; i++) {
      storePassword[i] = (char) ('a' + random.nextInt(26));
    }
    Material material;
    try {
      material = load(source, storePassword);
    } catch (Refused e) {
      throw settings.error(e.option, e.getMessage(), e.fix, e);
    }
    return Optional.of(new TlsListener(source, material, storePassword));
  }

  /**
   * The connection factories of the HTTPS listener: TLS, then ALPN choosing HTTP/2 or HTTP/1.1, each
   * on a copy of {@code shared} (the limits every listener has) that marks requests secure.
   */
  org.eclipse.jetty.server.ConnectionFactory[] factories(HttpConfiguration shared) {
    HttpConfiguration https = new HttpConfiguration(shared);
    // one site, one certificate: a Host other than the certificate's names is not refused (Jetty's SNI
    // host check would answer 400 to a client that reaches the layer by an address)
    https.addCustomizer(new SecureRequestCustomizer(false));
    HttpConnectionFactory http1 = new HttpConnectionFactory(https);
    HTTP2ServerConnectionFactory http2 = new HTTP2ServerConnectionFactory(https);
    http2.setMaxConcurrentStreams(H2_STREAMS_PER_CONNECTION);
    ALPNServerConnectionFactory alpn = new ALPNServerConnectionFactory(http2.getProtocol(), http1.getProtocol());
    alpn.setDefaultProtocol(http1.getProtocol());
    SslConnectionFactory tls = new SslConnectionFactory(ssl, alpn.getProtocol());
    return new org.eclipse.jetty.server.ConnectionFactory[] {tls, alpn, http2, http1};
  }

  /** Starts checking the files for a renewed certificate; logs the one in use. */
  void start() {
    log.info("HTTPS certificate from {}: {}", source.describe(), current.describe());
    watcher = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "layer-tls-reload");
      t.setDaemon(true);
      return t;
    });
    watcher.scheduleWithFixedDelay(this::check, CHECK_INTERVAL.toMillis(), CHECK_INTERVAL.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  /** One check of the files: loads changed content once it is stable, keeps the certificate in use otherwise. */
  void check() {
    try {
      reloadIfChanged();
    } finally {
      checks.incrementAndGet();
    }
  }

  /** Checks completed since the start. */
  long checks() {
    return checks.get();
  }

  private void reloadIfChanged() {
    try {
      byte[] digest = source.digest();
      if (MessageDigest.isEqual(digest, current.digest())) {
        changed = null;
        failed = null;
        return;
      }
      if (changed == null || !MessageDigest.isEqual(digest, changed)) {
        changed = digest; // changed since the last check: loaded at the next one, if it stays so
        return;
      }
      if (failed != null && MessageDigest.isEqual(digest, failed)) {
        return; // warned already
      }
      Material next;
      try {
        next = load(source, storePassword);
      } catch (Refused e) {
        failed = digest;
        log.warn("HTTPS certificate not reloaded: {} ({}); still serving {}", e.getMessage(), e.option.env(),
            current.describe());
        return;
      }
      ssl.reload(f -> f.setKeyStore(next.keyStore()));
      current = next;
      changed = null;
      failed = null;
      log.info("HTTPS certificate reloaded from {}: {}", source.describe(), next.describe());
    } catch (Exception | LinkageError e) {
      // the check runs again in a second; never a stack trace per second
      log.warn("HTTPS certificate check failed ({}); still serving {}", e.toString(), current.describe());
    }
  }

  /** The certificate in use (the leaf), for tests and the start line. */
  X509Certificate certificate() {
    return current.leaf();
  }

  @Override
  public void close() {
    if (watcher != null) {
      watcher.shutdownNow();
    }
  }

  // ---- loading

  /** Where the certificate comes from: the files and their options; {@code password} only for PKCS12. */
  private record Source(List<Path> files, List<Option> options, char[] password) {
    boolean pkcs12() {
      return password != null;
    }

    String describe() {
      return files.stream().map(Path::toString).reduce((a, b) -> a + " and " + b).orElse("");
    }

    /** A digest of every file's bytes (or of why it cannot be read), in order. */
    byte[] digest() throws GeneralSecurityException {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      for (Path file : files) {
        try {
          sha.update(Files.readAllBytes(file));
        } catch (IOException e) {
          sha.update(("unreadable:" + e.getClass().getName()).getBytes(StandardCharsets.UTF_8));
        }
        sha.update((byte) 0);
      }
      return sha.digest();
    }
  }

  /** A loaded certificate: the key store handed to Jetty, its leaf, and the digest of the files it came from. */
  private record Material(KeyStore keyStore, X509Certificate leaf, byte[] digest) {
    String describe() {
      return "subject " + leaf.getSubjectX500Principal().getName() + ", serial " + leaf.getSerialNumber().toString(16)
          + ", valid until " + leaf.getNotAfter().toInstant()
          + (leaf.getNotAfter().toInstant().isBefore(Instant.now()) ? " (EXPIRED)" : "");
    }
  }

  /** A certificate or key that does not load: what is wrong, the option it is about, and what to do. */
  static final class Refused extends Exception {
    private static final long serialVersionUID = 1L;
    final transient Option option;
    final String fix;

    Refused(Option option, String what, String fix) {
      super(what);
      this.option = option;
      this.fix = fix;
    }
  }

  private static final Pattern PEM_BLOCK =
      Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\\s]*?)-----END \\1-----");

  /** Reads and checks the certificate and key. @throws Refused naming the option of the file at fault */
  private static Material load(Source source, char[] storePassword) throws Refused {
    byte[] digest;
    try {
      digest = source.digest();
    } catch (GeneralSecurityException e) {
      throw new Refused(source.options().get(0), "SHA-256 is not available (" + e.getMessage() + ")", "use a full JDK");
    }
    List<X509Certificate> chain;
    PrivateKey key;
    if (source.pkcs12()) {
      Option option = source.options().get(0);
      Path file = source.files().get(0);
      KeyStore p12;
      try (InputStream in = Files.newInputStream(file)) {
        p12 = KeyStore.getInstance("PKCS12");
        p12.load(in, source.password());
      } catch (IOException e) {
        if (e.getCause() instanceof java.security.UnrecoverableKeyException || String.valueOf(e.getMessage())
            .toLowerCase(java.util.Locale.ROOT).contains("password")) {
          throw new Refused(option, "the password does not open the key store " + file,
              "set " + Option.TLS_KEYSTORE_PASSWORD.env() + " to its password");
        }
        if (e instanceof java.nio.file.NoSuchFileException || e instanceof java.nio.file.AccessDeniedException) {
          throw unreadable(option, file, e);
        }
        throw new Refused(option, file + " is not a PKCS12 key store (" + e.getMessage() + ")",
            "give a PKCS12 file (.p12/.pfx), or the PEM files with " + Option.TLS_CERT.env() + " and "
                + Option.TLS_KEY.env());
      } catch (GeneralSecurityException e) {
        throw new Refused(option, file + " is not a PKCS12 key store (" + e.getMessage() + ")",
            "give a PKCS12 file (.p12/.pfx)");
      }
      try {
        List<String> keys = new ArrayList<>();
        for (String alias : Collections.list(p12.aliases())) {
          if (p12.isKeyEntry(alias)) {
            keys.add(alias);
          }
        }
        if (keys.size() != 1) {
          throw new Refused(option, file + " holds " + keys.size() + " private keys, not one",
              "keep exactly one key and its certificate chain in it");
        }
        java.security.Key k = p12.getKey(keys.get(0), source.password());
        if (!(k instanceof PrivateKey)) {
          throw new Refused(option, "the entry '" + keys.get(0) + "' of " + file + " is not a private key",
              "keep one private key and its certificate chain in it");
        }
        key = (PrivateKey) k;
        Certificate[] certs = p12.getCertificateChain(keys.get(0));
        if (certs == null || certs.length == 0) {
          throw new Refused(option, "the key of " + file + " has no certificate", "store the key with its certificate chain");
        }
        chain = new ArrayList<>();
        for (Certificate c : certs) {
          chain.add((X509Certificate) c);
        }
      } catch (java.security.UnrecoverableKeyException e) {
        throw new Refused(option, "the key in " + file + " does not open with the key store's password",
            "give the key the same password as the store");
      } catch (GeneralSecurityException e) {
        throw new Refused(option, file + " cannot be read (" + e.getMessage() + ")", "give a PKCS12 file (.p12/.pfx)");
      }
    } else {
      chain = certificates(source.options().get(0), source.files().get(0));
      key = privateKey(source.options().get(1), source.files().get(1));
    }
    matches(source.options().get(source.options().size() - 1), key, chain.get(0));
    try {
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      store.setKeyEntry("layer", key, storePassword, chain.toArray(new Certificate[0]));
      return new Material(store, chain.get(0), digest);
    } catch (IOException | GeneralSecurityException e) {
      throw new Refused(source.options().get(0), "the certificate cannot be used (" + e.getMessage() + ")",
          "give an X.509 certificate chain with its RSA or EC key");
    }
  }

  private static Refused unreadable(Option option, Path file, IOException e) {
    return new Refused(option, "cannot read " + file + " (" + e.getClass().getSimpleName().replace("Exception", "") + ")",
        "check the path and that the layer's user may read the file");
  }

  private static String read(Option option, Path file) throws Refused {
    try {
      return Files.readString(file, StandardCharsets.US_ASCII);
    } catch (java.nio.charset.MalformedInputException e) {
      throw new Refused(option, file + " is not a PEM file (it has binary content)",
          "give the PEM text (-----BEGIN …-----), or a PKCS12 file with " + Option.TLS_KEYSTORE.env());
    } catch (IOException e) {
      throw unreadable(option, file, e);
    }
  }

  /** The PEM blocks of a file: their labels and bytes. */
  private static List<Object[]> blocks(Option option, Path file, String text) throws Refused {
    List<Object[]> blocks = new ArrayList<>();
    Matcher m = PEM_BLOCK.matcher(text);
    while (m.find()) {
      try {
        blocks.add(new Object[] {m.group(1), Base64.getMimeDecoder().decode(m.group(2))});
      } catch (IllegalArgumentException e) {
        throw new Refused(option, "a " + m.group(1) + " block of " + file + " is not valid base64",
            "give the file as issued");
      }
    }
    return blocks;
  }

  private static List<X509Certificate> certificates(Option option, Path file) throws Refused {
    List<X509Certificate> chain = new ArrayList<>();
    try {
      CertificateFactory x509 = CertificateFactory.getInstance("X.509");
      for (Object[] b : blocks(option, file, read(option, file))) {
        if (b[0].equals("CERTIFICATE")) {
          chain.add((X509Certificate) x509.generateCertificate(new ByteArrayInputStream((byte[]) b[1])));
        }
      }
    } catch (CertificateException e) {
      throw new Refused(option, "a certificate in " + file + " does not parse (" + e.getMessage() + ")",
          "give the PEM certificate chain as issued (e.g. fullchain.pem)");
    }
    if (chain.isEmpty()) {
      throw new Refused(option, file + " holds no certificate (-----BEGIN CERTIFICATE-----)",
          "give the PEM certificate chain, the server's certificate first (e.g. fullchain.pem)");
    }
    return chain;
  }

  private static PrivateKey privateKey(Option option, Path file) throws Refused {
    List<Object[]> blocks = blocks(option, file, read(option, file));
    for (Object[] b : blocks) {
      String label = (String) b[0];
      if (label.equals("RSA PRIVATE KEY") || label.equals("EC PRIVATE KEY")) {
        throw new Refused(option, file + " holds a " + label.substring(0, label.indexOf(' ')) + " key in the older"
            + " PKCS#1/SEC1 form", "convert it to PKCS#8: openssl pkcs8 -topk8 -nocrypt -in " + file + " -out key.pk8.pem");
      }
      if (label.equals("ENCRYPTED PRIVATE KEY")) {
        throw new Refused(option, file + " holds an encrypted key",
            "give it unencrypted (openssl pkcs8 -topk8 -nocrypt) and protect the file by its permissions, or use a PKCS12"
                + " file with " + Option.TLS_KEYSTORE.env());
      }
      if (label.equals("PRIVATE KEY")) {
        byte[] der = (byte[]) b[1];
        try {
          for (String algorithm : List.of("RSA", "EC")) {
            try {
              return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
            } catch (GeneralSecurityException e) {
              // the next algorithm
            }
          }
        } finally {
          Arrays.fill(der, (byte) 0);
        }
        throw new Refused(option, "the key in " + file + " is neither an RSA nor an EC key (or is damaged)",
            "give the certificate's RSA or EC key in PKCS#8 PEM form");
      }
    }
    throw new Refused(option, file + " holds no private key (-----BEGIN PRIVATE KEY-----)",
        "give the certificate's private key in PKCS#8 PEM form");
  }

  /** Whether {@code key} is the key of {@code leaf}: it signs what the certificate's public key verifies. */
  private static void matches(Option option, PrivateKey key, X509Certificate leaf) throws Refused {
    String algorithm = key.getAlgorithm().equals("EC") ? "SHA256withECDSA" : "SHA256withRSA";
    byte[] probe = "meta-layer-tls-key-check".getBytes(StandardCharsets.US_ASCII);
    boolean verified;
    try {
      Signature signer = Signature.getInstance(algorithm);
      signer.initSign(key);
      signer.update(probe);
      byte[] signature = signer.sign();
      Signature verifier = Signature.getInstance(algorithm);
      verifier.initVerify(leaf.getPublicKey());
      verifier.update(probe);
      verified = verifier.verify(signature);
    } catch (GeneralSecurityException e) {
      verified = false;
    }
    if (!verified) {
      throw new Refused(option, "the private key is not the key of the certificate " + leaf.getSubjectX500Principal()
          .getName(), "give the key issued with this certificate (the first one in the chain)");
    }
  }
}
