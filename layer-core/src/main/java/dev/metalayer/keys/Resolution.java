package dev.metalayer.keys;

import java.util.Objects;

/** The outcome of resolving a client credential: a {@link Grant}, or a refusal with its reason. */
public sealed interface Resolution {

  record Granted(Grant grant) implements Resolution {
    public Granted {
      Objects.requireNonNull(grant, "grant");
    }
  }

  record Refused(Reason reason) implements Resolution {
    public Refused {
      Objects.requireNonNull(reason, "reason");
    }
  }

  /** Why a credential was refused. The client sees one generic 401 whatever the reason; logs see this. */
  enum Reason {
    /** No credential at all. */
    MISSING,
    /** Not shaped like a key (wrong prefix, length or characters). */
    MALFORMED,
    /** Shaped like a key, but no such key exists (or its number was removed). */
    UNKNOWN,
    /** The key existed and was revoked. */
    REVOKED
  }

  static Resolution refused(Reason reason) {
    return new Refused(reason);
  }
}
