package dev.metalayer.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Closed-loop saturation with {@code wrk} (Debian's package): {@code connections} connections each
 * send the next request as soon as the previous answer arrives, so the figure is the most the target
 * serves on this machine while wrk, the fake Graph and the target share the CPU. A Lua script rotates
 * the requests over the given keys, each on its own number's path.
 */
final class Wrk {
  /** Requests per second, and how many answers were not 2xx/3xx or failed at socket level. */
  record Saturation(String label, double requestsPerSecond, long requests, long bad) {}

  private static final Pattern RPS = Pattern.compile("Requests/sec:\\s+([0-9.]+)");
  private static final Pattern TOTAL = Pattern.compile("([0-9]+) requests in");
  private static final Pattern NON_2XX = Pattern.compile("Non-2xx or 3xx responses:\\s+([0-9]+)");
  private static final Pattern SOCKET_ERRORS =
      Pattern.compile("Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)");

  private Wrk() {}

  /**
   * @param pathFormat the request path with {@code %s} where the phone number ID goes
   * @param credentials (phone number ID, bearer credential) pairs to rotate over
   */
  static Saturation run(
      String label, Path dir, int port, String pathFormat, List<Map.Entry<String, String>> credentials, String body,
      int connections, int seconds) throws IOException, InterruptedException {
    Files.createDirectories(dir);
    Path script = dir.resolve("wrk-" + label.replaceAll("[^A-Za-z0-9]+", "-") + ".lua");
    Files.writeString(script, lua(pathFormat, credentials, body), StandardCharsets.UTF_8);
    List<String> command =
        List.of("wrk", "-t1", "-c" + connections, "-d" + seconds + "s", "--timeout", "10s", "-s", script.toString(),
            "http://127.0.0.1:" + port);
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    int exit = p.waitFor();
    Matcher rps = RPS.matcher(out);
    if (exit != 0 || !rps.find()) {
      throw new IllegalStateException("wrk failed (" + exit + "):\n" + out);
    }
    Matcher total = TOTAL.matcher(out);
    long requests = total.find() ? Long.parseLong(total.group(1)) : 0;
    long bad = 0;
    Matcher non2xx = NON_2XX.matcher(out);
    if (non2xx.find()) {
      bad += Long.parseLong(non2xx.group(1));
    }
    Matcher errors = SOCKET_ERRORS.matcher(out);
    if (errors.find()) {
      for (int g = 1; g <= 4; g++) {
        bad += Long.parseLong(errors.group(g));
      }
    }
    return new Saturation(label, Double.parseDouble(rps.group(1)), requests, bad);
  }

  private static String lua(String pathFormat, List<Map.Entry<String, String>> credentials, String body) {
    List<String> paths = new ArrayList<>();
    List<String> auths = new ArrayList<>();
    for (Map.Entry<String, String> c : credentials) {
      paths.add(luaString(String.format(pathFormat, c.getKey())));
      auths.add(luaString("Bearer " + c.getValue()));
    }
    return "local paths = {" + String.join(",\n", paths) + "}\n"
        + "local auths = {" + String.join(",\n", auths) + "}\n"
        + "local body = " + luaString(body) + "\n"
        + "local n = #paths\n"
        + "local i = 0\n"
        + "request = function()\n"
        + "  i = i % n + 1\n"
        + "  return wrk.format(\"POST\", paths[i], {[\"Authorization\"] = auths[i],"
        + " [\"Content-Type\"] = \"application/json\"}, body)\n"
        + "end\n";
  }

  private static String luaString(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n").replace("\r", "\\r") + "\"";
  }
}
