package dev.metalayer.relay;

import java.time.Instant;
import java.util.Optional;

/**
 * One delivery attempt as logged.
 *
 * @param status the HTTP status answered, empty when no answer came (timeout, refused connection)
 * @param error why the attempt failed without an answer, truncated to 500 characters
 * @param responseExcerpt the start of the answer body, at most 1024 characters
 */
public record Attempt(
    int number, Instant at, Optional<Integer> status, long latencyMs, Optional<String> error, Optional<String> responseExcerpt) {}
