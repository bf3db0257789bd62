package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The curl walk-through of docs/webhooks.md and its signature check, run from the page against the
 * built jar ({@link DocCommands}): a subscription, a signed call webhook, the delivery log, a replay, and
 * the shell commands of "Verifying a delivery" computing the very signatures the layer sent.
 */
class WebhooksDocIT {
  @Test
  void everyShellCommandOfTheWebhooksPageRunsAsWritten(@TempDir Path dir) throws Exception {
    DocCommands.Run run = DocCommands.run("docs/webhooks.md", dir);
    assertThat(run.exit()).as(run.output()).isZero();
    assertThat(run.output()).as(run.output()).contains("::all blocks ran");

    assertThat(run.block(1)).contains("{\"status\":\"ready\"");
    assertThat(run.block(2)).containsPattern("\"id\":\"wh_[0-9a-f]+\",\"name\":\"helpdesk calls\"");
    // the signed webhook is taken; the one signed with another secret is refused
    assertThat(run.block(3)).startsWith("{\"success\":true}").contains("\n{\"error\":{\"message\":");
    assertThat(run.block(4)).contains("\"state\":\"delivered\"").contains("\"latency_ms\":");
    assertThat(run.block(5).split("wacid\\.HBgLMTU1NTEyMzQ1NjcVAgARGCA5QkI4", -1).length - 1)
        .as("the call id in the replay's answer and in the subscriber's two deliveries").isGreaterThanOrEqualTo(2);

    // the last block prints the headers the layer sent, then the same values computed with openssl
    String check = run.block(run.blocks());
    String hub = header(check, "X-Hub-Signature-256");
    String standard = header(check, "webhook-signature");
    assertThat(check).containsPattern("(?m)^" + Pattern.quote(hub) + "$");
    assertThat(check).containsPattern("(?m)^" + Pattern.quote(standard) + "$");
  }

  private static String header(String output, String name) {
    Matcher m = Pattern.compile("(?mi)^" + name + ": (\\S+)$").matcher(output);
    assertThat(m.find()).as(name + " in:\n" + output).isTrue();
    return m.group(1);
  }
}
