package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

/**
 * Self-signed test certificates made at test time by the JDK's {@code keytool} (for 127.0.0.1 and
 * localhost), as a PKCS12 file and as PEM files, and the client side: an {@link SSLContext} that trusts
 * them, and the certificate a new TLS connection is served.
 */
final class TestCertificates {
  static final String PASSWORD = "test-keystore-password";

  private TestCertificates() {}

  /** A new PKCS12 file {@code name}.p12 in {@code dir}: one key ({@code RSA} or {@code EC}) and its certificate. */
  static Path pkcs12(Path dir, String name, String keyAlgorithm, String commonName) throws Exception {
    Path file = dir.resolve(name + ".p12");
    Files.deleteIfExists(file);
    List<String> command = new java.util.ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "keytool").toString(), "-genkeypair", "-alias", "layer",
        "-keyalg", keyAlgorithm));
    command.addAll(keyAlgorithm.equals("EC") ? List.of("-groupname", "secp256r1") : List.of("-keysize", "2048"));
    command.addAll(List.of("-dname", "CN=" + commonName, "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-validity", "2",
        "-storetype", "PKCS12", "-keystore", file.toString(), "-storepass", PASSWORD, "-keypass", PASSWORD));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("keytool ends").isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    return file;
  }

  /** The PEM files of a PKCS12 file made by {@link #pkcs12}: {@code [certificate chain, PKCS#8 key]}. */
  static Path[] pem(Path p12, Path dir, String name) throws Exception {
    KeyStore store = load(p12);
    PrivateKey key = (PrivateKey) store.getKey("layer", PASSWORD.toCharArray());
    StringBuilder chain = new StringBuilder();
    for (Certificate c : store.getCertificateChain("layer")) {
      chain.append(pem("CERTIFICATE", c.getEncoded()));
    }
    Path cert = dir.resolve(name + "-fullchain.pem");
    Path keyFile = dir.resolve(name + "-key.pem");
    Files.writeString(cert, chain.toString(), StandardCharsets.US_ASCII);
    Files.writeString(keyFile, pem("PRIVATE KEY", key.getEncoded()), StandardCharsets.US_ASCII);
    return new Path[] {cert, keyFile};
  }

  static String pem(String label, byte[] der) {
    return "-----BEGIN " + label + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
        .encodeToString(der) + "\n-----END " + label + "-----\n";
  }

  static KeyStore load(Path p12) throws Exception {
    KeyStore store = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(p12)) {
      store.load(in, PASSWORD.toCharArray());
    }
    return store;
  }

  /** The certificate of a PKCS12 file made by {@link #pkcs12}. */
  static X509Certificate certificate(Path p12) throws Exception {
    return (X509Certificate) load(p12).getCertificate("layer");
  }

  /** A client context that trusts these certificates (and nothing else). */
  static SSLContext trusting(Path... p12s) throws Exception {
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    int i = 0;
    for (Path p12 : p12s) {
      trust.setCertificateEntry("trusted-" + i++, certificate(p12));
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, tmf.getTrustManagers(), null);
    return context;
  }

  /** The serial number of the certificate a new TLS connection to 127.0.0.1:{@code port} is served. */
  static BigInteger servedSerial(SSLContext client, int port) throws Exception {
    try (SSLSocket socket = (SSLSocket) client.getSocketFactory().createSocket("127.0.0.1", port)) {
      socket.setSoTimeout(5_000);
      socket.startHandshake();
      return ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSerialNumber();
    }
  }
}
