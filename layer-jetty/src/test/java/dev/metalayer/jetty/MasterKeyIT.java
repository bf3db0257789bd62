package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real jar refuses to start, in one line and with exit status 2, when its master key does not open
 * the tokens of its data directory (another key, an empty value, no key at all because the
 * variable was forgotten, which is refused without generating a key file), the CLI likewise; with the
 * right key it starts.
 */
class MasterKeyIT {
  static final String PNID = "106540352242922";
  static final String META_TOKEN = "EAAG-token-sealed-by-the-first-key";

  @TempDir Path dir;

  /** How a run of the jar ended: its status and everything it wrote (standard output and error). */
  record Exit(int status, String output) {
    List<String> errorLines() {
      return output.lines().filter(l -> l.startsWith("error:")).toList();
    }
  }

  /** Runs the jar with the test's data directory and {@code env} (a null value removes the variable). */
  Exit run(Map<String, String> env, String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx128m", "-jar", System.getProperty("metalayer.jar")));
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().remove("LAYER_MASTER_KEY");
    pb.environment().put("LAYER_DATA_DIR", dir.resolve("data").toString());
    pb.environment().put("LAYER_HOST", "127.0.0.1");
    pb.environment().put("LAYER_PORT", "0");
    env.forEach((k, v) -> {
      if (v == null) {
        pb.environment().remove(k);
      } else {
        pb.environment().put(k, v);
      }
    });
    Process p = pb.start();
    p.getOutputStream().close();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("the jar did not exit: it started with a key that does not open its tokens");
    }
    return new Exit(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
  }

  static String newKey() {
    byte[] key = new byte[32];
    new SecureRandom().nextBytes(key);
    return Base64.getEncoder().encodeToString(key);
  }

  static void assertOneLineNoTrace(Exit exit, String expectedLine, String... secrets) {
    assertThat(exit.status()).as(exit.output()).isEqualTo(2);
    assertThat(exit.errorLines()).as(exit.output()).containsExactly(expectedLine);
    assertThat(exit.output()).as("no stack trace").doesNotContain("\tat ", "Exception");
    for (String secret : secrets) {
      assertThat(exit.output()).doesNotContain(secret);
    }
  }

  @Test
  void aKeyThatDoesNotOpenTheTokensStopsTheStartInOneLineAndTheRightOneStarts() throws Exception {
    LayerJar jar = LayerJar.in(dir).heap("128m");
    jar.addNumber("+15550783881", PNID, "102290129340398", "555", META_TOKEN);
    Path data = dir.resolve("data");

    String wrong = newKey();
    assertOneLineNoTrace(run(Map.of("LAYER_MASTER_KEY", wrong)),
        "error: the master key does not open the tokens in " + data + " (LAYER_MASTER_KEY): use the key that sealed"
            + " them, or start on"
            + " an empty data directory (its numbers and keys must then be registered again)", wrong, META_TOKEN);
    // the CLI on the same data directory says the same
    assertOneLineNoTrace(run(Map.of("LAYER_MASTER_KEY", wrong), "keys", "list"),
        "error: the master key does not open the tokens in " + data + " (LAYER_MASTER_KEY): use the key that sealed"
            + " them, or start on"
            + " an empty data directory (its numbers and keys must then be registered again)", wrong);

    // set but empty (LAYER_MASTER_KEY=$UNSET_VARIABLE): an error, not "use the key file"
    assertOneLineNoTrace(run(Map.of("LAYER_MASTER_KEY", "")),
        "error: the master key is set but empty (LAYER_MASTER_KEY): set it to the base64 key that sealed the tokens in "
            + data
            + " (for a new data directory: openssl rand -base64 32), or unset it to use the key file "
            + data.resolve("master.key"));
    assertThat(data.resolve("master.key")).doesNotExist();

    // forgotten altogether: no key file is generated in its place (it could not open the tokens)
    assertOneLineNoTrace(run(Map.of()), "error: the master key file " + data.resolve("master.key")
        + " is missing, and the tokens in " + data + " were sealed with a master key (LAYER_MASTER_KEY unset): restore "
        + data.resolve("master.key") + " from your backup, or set LAYER_MASTER_KEY to the key that sealed the tokens in "
        + data);
    assertThat(data.resolve("master.key")).doesNotExist();

    // a key file that is not a key names the file, not the variable the operator did not set
    Files.writeString(data.resolve("master.key"), "garbage!!\n");
    assertOneLineNoTrace(run(Map.of()), "error: " + data.resolve("master.key") + " is not valid base64"
        + " (LAYER_MASTER_KEY unset): restore " + data.resolve("master.key") + " from your backup, or set"
        + " LAYER_MASTER_KEY to the key that sealed the tokens in " + data);
    // another key in the file: it does not open the tokens
    Files.writeString(data.resolve("master.key"), newKey() + "\n");
    assertOneLineNoTrace(run(Map.of()), "error: the master key file " + data.resolve("master.key")
        + " does not open the tokens in " + data + " (LAYER_MASTER_KEY unset): set LAYER_MASTER_KEY to the key that sealed them, or start on"
        + " an empty data directory (its numbers and keys must then be registered again)");
    Files.delete(data.resolve("master.key"));

    // the key that sealed them: the layer starts and its key works
    String key = jar.createKey(PNID);
    try (LayerJar.Running layer = jar.start()) {
      assertThat(layer.status("/readyz")).isEqualTo(200);
      assertThat(layer.log()).doesNotContain(META_TOKEN, key);
    }
  }
}
