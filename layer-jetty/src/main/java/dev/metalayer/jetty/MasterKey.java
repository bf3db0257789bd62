package dev.metalayer.jetty;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where the 32-byte master key comes from: a base64 value supplied by the operator, or a key file in
 * the data directory that is generated once, with owner-only permissions, when no value is supplied.
 */
final class MasterKey {
  private static final Logger log = LoggerFactory.getLogger(MasterKey.class);
  static final String FILE_NAME = "master.key";

  private MasterKey() {}

  /**
   * @param configured the operator's base64 value, if one was given: a value given empty (an unset
   *     shell variable in {@code LAYER_MASTER_KEY=$KEY}) is an error, never taken for "no value"
   * @param dataDir where {@value #FILE_NAME} lives when no value is configured
   * @throws IllegalArgumentException when the configured value is empty, or not base64 of 32 bytes
   */
  static byte[] load(Optional<String> configured, Path dataDir, SecureRandom random) {
    if (configured.isPresent()) {
      if (configured.get().isBlank()) {
        throw new IllegalArgumentException("the master key is set but empty: set it to the base64 key that sealed"
            + " the tokens in " + dataDir + ", or give none to use the key file " + dataDir.resolve(FILE_NAME));
      }
      return decode(configured.get().trim(), "the master key");
    }
    Path file = dataDir.resolve(FILE_NAME);
    try {
      Files.createDirectories(dataDir);
      if (Files.exists(file)) {
        return decode(Files.readString(file, StandardCharsets.US_ASCII).trim(), file.toString());
      }
      byte[] key = new byte[32];
      random.nextBytes(key);
      write(file, Base64.getEncoder().encodeToString(key));
      log.warn(
          "No master key was given: generated a new master key in {} (owner-only). Back it up: "
              + "without it the stored Meta tokens cannot be decrypted.",
          file.toAbsolutePath());
      return key;
    } catch (FileAlreadyExistsException raced) {
      return load(configured, dataDir, random);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read or create the master key file " + file, e);
    }
  }

  /**
   * Whether {@code store} already holds what a master key sealed: its check value, or a number (whose
   * Meta token is sealed). A key file is generated only for a store that holds neither.
   */
  static boolean sealed(dev.metalayer.keys.KeyStore store) {
    return store.masterKeyCheck().isPresent() || !store.listNumbers().isEmpty();
  }

  private static void write(Path file, String value) throws IOException {
    try {
      Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    } catch (UnsupportedOperationException notPosix) {
      Files.createFile(file);
    }
    Files.writeString(file, value + "\n", StandardCharsets.US_ASCII, StandardOpenOption.TRUNCATE_EXISTING);
  }

  private static byte[] decode(String base64, String source) {
    byte[] key;
    try {
      key = Base64.getDecoder().decode(base64);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(source + " is not valid base64", e);
    }
    if (key.length != 32) {
      throw new IllegalArgumentException(source + " must decode to 32 bytes, got " + key.length);
    }
    return key;
  }
}
