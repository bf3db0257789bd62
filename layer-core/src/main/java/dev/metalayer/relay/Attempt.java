package dev.metalayer.relay;

import java.time.Instant;
import java.util.Optional;

/**
 * One delivery attempt as logged.
 *
 * <p>Who sees what: a number's key sees of an attempt only its number, time, {@code status} and
 * {@link #errorClass()}; the operator also sees the latency, the error text and the answer excerpt.
 * An excerpt of any answer, or the exact failure, would let a key read a service the layer can reach
 * (with private targets allowed) or tell open ports from closed ones by their answers.
 *
 * @param status the HTTP status answered, empty when no answer came (timeout, refused connection)
 * @param error why the attempt failed without an answer, truncated to 500 characters
 * @param responseExcerpt the start of the answer body, at most 1024 characters
 */
public record Attempt(
    int number, Instant at, Optional<Integer> status, long latencyMs, Optional<String> error, Optional<String> responseExcerpt) {

  /**
   * The class of the failure, one of {@code timeout}, {@code connection_refused}, {@code unknown_host},
   * {@code not_allowed} (the egress guard refused the address), {@code secret_unreadable},
   * {@code io_error}; empty when the attempt got an answer.
   */
  public Optional<String> errorClass() {
    return error.map(e -> {
      if (e.startsWith("timed out")) {
        return "timeout";
      } else if (e.startsWith("connection refused")) {
        return "connection_refused";
      } else if (e.startsWith("unknown host")) {
        return "unknown_host";
      } else if (e.startsWith("target address not allowed")) {
        return "not_allowed";
      } else if (e.startsWith("the subscription secret")) {
        return "secret_unreadable";
      }
      return "io_error";
    });
  }
}
