package dev.metalayer.jetty;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The data directory, held by one process at a time: an exclusive OS lock on {@value #LOCK_FILE} in
 * it, taken before the store opens and held until {@link #close()} (a server holds it for its whole
 * life; a CLI command on the store file for the command). The OS drops the lock when the process ends,
 * even by {@code kill -9}, so a crash never leaves the directory locked. A second layer on the same
 * directory, or a CLI command while a layer runs, is refused in one line; the CLI then points at
 * {@code --layer-url}.
 *
 * <p>Made before the lock: the directory (owner-only when created), and a check that it is a directory
 * this user can write, so that a wrong path is one line instead of the database's errors.
 */
final class DataDir implements AutoCloseable {
  static final String LOCK_FILE = "layer.lock";

  private final Path path;
  private final FileChannel channel;
  private final FileLock lock;

  private DataDir(Path path, FileChannel channel, FileLock lock) {
    this.path = path;
    this.channel = channel;
    this.lock = lock;
  }

  /** Creates {@code dir} (and its parents) when it does not exist, readable by its owner only. */
  static void createOwnerOnly(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(dir);
      try {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
      } catch (UnsupportedOperationException notPosix) {
        // best effort on non-POSIX file systems
      }
    }
  }

  /**
   * Creates (if needed) and locks the data directory of {@code settings}.
   *
   * @param heldBy what to tell the operator when another process holds it: how to get on
   * @throws ConfigError when it cannot be created or written, or another process holds it
   */
  static DataDir lock(Settings settings, String heldBy) {
    Path dir = Path.of(settings.string(Option.DATA_DIR));
    String fix = "give " + settings.writtenAs(Option.DATA_DIR) + " a directory this user (" + System.getProperty("user.name")
        + ") can create and write";
    if (Files.exists(dir) && !Files.isDirectory(dir)) {
      throw settings.error(Option.DATA_DIR, dir + " is a file, not a directory", fix, null);
    }
    try {
      createOwnerOnly(dir);
    } catch (IOException e) {
      throw settings.error(Option.DATA_DIR, "cannot create the data directory " + dir + " (" + reason(e) + ")", fix, e);
    }
    if (!Files.isWritable(dir)) {
      throw settings.error(Option.DATA_DIR, "the data directory " + dir + " is not writable", fix, null);
    }
    Path lockFile = dir.resolve(LOCK_FILE);
    if (Files.isSymbolicLink(lockFile)) {
      // the lock file is truncated and written: through a link it would clobber whatever the link names
      throw settings.error(Option.DATA_DIR, lockFile + " is a symbolic link", "remove it (the layer makes its own lock file)",
          null);
    }
    if (Files.exists(lockFile, LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(lockFile, LinkOption.NOFOLLOW_LINKS)) {
      // a named pipe would hold the start forever in open(), waiting for a reader
      throw settings.error(Option.DATA_DIR, lockFile + " is not a regular file", "remove it (the layer makes its own lock file)",
          null);
    }
    FileChannel channel;
    try {
      // never through a link, even one put there after the check above
      channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
    } catch (IOException e) {
      throw settings.error(Option.DATA_DIR, "cannot write in the data directory " + dir + " (" + reason(e) + ")", fix, e);
    }
    FileLock lock;
    try {
      lock = channel.tryLock();
    } catch (OverlappingFileLockException e) {
      lock = null;
    } catch (IOException e) {
      close(channel);
      throw settings.error(Option.DATA_DIR, "cannot lock the data directory " + dir + " (" + reason(e) + ")", fix, e);
    }
    if (lock == null) {
      close(channel);
      throw settings.error(Option.DATA_DIR, "another layer holds the data directory " + dir, heldBy, null);
    }
    try {
      channel.truncate(0);
      channel.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)));
    } catch (IOException e) {
      // the pid is for a reader's curiosity; the lock is what counts
    }
    return new DataDir(dir, channel, lock);
  }

  Path path() {
    return path;
  }

  private static String reason(IOException e) {
    if (e instanceof AccessDeniedException) {
      return "permission denied";
    }
    if (e instanceof java.nio.file.FileAlreadyExistsException) {
      return "a file is in the way";
    }
    if (e instanceof FileSystemException f && f.getReason() != null) {
      return f.getReason();
    }
    return e.getClass().getSimpleName();
  }

  private static void close(FileChannel channel) {
    try {
      channel.close();
    } catch (IOException ignored) {
      // nothing held
    }
  }

  /** Releases the lock. Idempotent. */
  @Override
  public void close() {
    try {
      if (lock.isValid()) {
        lock.release();
      }
    } catch (IOException ignored) {
      // closing the channel releases it too
    } finally {
      close(channel);
    }
  }
}
