package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MasterKeyTest {
  @TempDir Path dir;

  @Test
  void generatesOnceOwnerOnlyAndReusesIt() throws Exception {
    byte[] first = MasterKey.load(Optional.empty(), dir, new SecureRandom());
    Path file = dir.resolve(MasterKey.FILE_NAME);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
    assertThat(MasterKey.load(Optional.empty(), dir, new SecureRandom())).isEqualTo(first).hasSize(32);
  }

  @Test
  void aConfiguredValueWinsAndIsChecked() {
    byte[] key = new byte[32];
    key[5] = 7;
    String b64 = Base64.getEncoder().encodeToString(key);
    assertThat(MasterKey.load(Optional.of(b64), dir, new SecureRandom())).isEqualTo(key);
    assertThat(dir.resolve(MasterKey.FILE_NAME)).doesNotExist();
    assertThatThrownBy(() -> MasterKey.load(Optional.of("not base64!"), dir, new SecureRandom()))
        .hasMessageContaining("the master key");
    assertThatThrownBy(() -> MasterKey.load(Optional.of("AAAA"), dir, new SecureRandom()))
        .hasMessageContaining("32 bytes");
  }

  @Test
  void anEmptyValueIsAnErrorNotUnset() throws Exception {
    for (String empty : new String[] {"", "  "}) {
      assertThatThrownBy(() -> MasterKey.load(Optional.of(empty), dir, new SecureRandom()))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageStartingWith("the master key is set but empty")
          .hasMessageContaining(dir.resolve(MasterKey.FILE_NAME).toString());
    }
    // nothing was generated in its place
    assertThat(dir.resolve(MasterKey.FILE_NAME)).doesNotExist();
  }
}
