package dev.metalayer.jetty;

/**
 * A mistake in the configuration or the environment found at start: printed as one line,
 * {@code error: <what> (<option as the operator wrote it>): <what to do>}, and the process exits with
 * status 2. The stack trace is printed only with {@code --debug} or at {@code DEBUG}.
 */
final class ConfigError extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** The exit status of usage and configuration errors. */
  static final int STATUS = 2;

  private final String what;
  private final String option;
  private final String fix;

  ConfigError(String what, String option, String fix) {
    this(what, option, fix, null);
  }

  ConfigError(String what, String option, String fix, Throwable cause) {
    super(what + " (" + option + "): " + fix, cause);
    this.what = what;
    this.option = option;
    this.fix = fix;
  }

  /** What is wrong. */
  String what() {
    return what;
  }

  /** The option as the operator wrote it: a flag, a variable, or both when neither was written. */
  String option() {
    return option;
  }

  /** What to do about it. */
  String fix() {
    return fix;
  }

  /** The line printed on standard error. */
  String line() {
    return "error: " + getMessage();
  }
}
