package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Standard output of a CLI command in a fresh JVM, where logback configures itself from the jar's
 * {@code logback.xml}: it holds the command's output alone. {@code keys create} prints the key alone on the
 * first line (scripts read it with {@code head -1}); logback's own status lines (printed to standard output
 * whenever its configuration has a warning, such as the appender of the other log format left unused) must
 * not come first. In-process tests cannot see this: logback is configured once per JVM, before they run.
 */
class CliStdoutTest {
  private static final String PNID = "106540352242922";

  @TempDir Path dir;

  private record Exit(int status, String out, String err) {}

  private Exit cli(String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx64m", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().keySet().removeIf(k -> k.startsWith("LAYER_") || k.startsWith("META_"));
    pb.environment().put("LAYER_DATA_DIR", dir.resolve("data").toString());
    pb.environment().put("CLI_TEST_META_TOKEN", "EAAG-cli-stdout-test-token-0123456789");
    Process p = pb.start();
    p.getOutputStream().close();
    CompletableFuture<String> out = read(p.getInputStream());
    CompletableFuture<String> err = read(p.getErrorStream());
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("the CLI did not exit: " + String.join(" ", args));
    }
    return new Exit(p.exitValue(), out.get(10, TimeUnit.SECONDS), err.get(10, TimeUnit.SECONDS));
  }

  private static CompletableFuture<String> read(java.io.InputStream in) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
  }

  @Test
  void keysCreatePrintsTheKeyOnTheFirstLineOfStandardOutput() throws Exception {
    Exit added = cli("numbers", "add", "--phone", "+15550001234", "--phone-number-id", PNID, "--waba-id", "2222",
        "--business-id", "3333", "--meta-token-env", "CLI_TEST_META_TOKEN");
    assertThat(added.status()).as(added.err()).isZero();
    assertThat(added.out()).as("logback's status lines on standard output").doesNotContain("|-INFO", "|-WARN");

    Exit created = cli("keys", "create", "--phone-number-id", PNID);
    assertThat(created.status()).as(created.err()).isZero();
    assertThat(created.out().lines().findFirst().orElseThrow()).as(created.out()).matches("ps_[A-Za-z0-9_-]+");
  }
}
