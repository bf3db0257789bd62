package dev.metalayer.examples;

import dev.metalayer.examples.chatwoot.ChatwootScenario;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Plays the Chatwoot voice-calls story on this machine, with no Meta account: a fake Graph, the real
 * layer and a fake Chatwoot, and prints what crossed each hop. Run it with
 * {@code java -jar layer-examples/target/meta-layer-examples.jar}.
 */
public final class ChatwootVoiceCallsDemo {
  private ChatwootVoiceCallsDemo() {}

  public static void main(String[] args) throws Exception {
    Path dataDir = Files.createTempDirectory("meta-layer-demo");
    System.out.println("Meta Layer: Chatwoot voice calls, end to end (data in " + dataDir + ")");
    ChatwootScenario.Report report = new ChatwootScenario(System.out).run(dataDir);
    System.out.println("Done: " + report.chatwootGot().size() + " webhooks delivered to Chatwoot, "
        + report.metaSaw().size() + " requests reached Meta, media identical: " + report.mediaBytesMatch());
  }
}
