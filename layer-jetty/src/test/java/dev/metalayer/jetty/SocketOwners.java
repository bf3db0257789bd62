package dev.metalayer.jetty;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;

/**
 * Which process holds the client end of a loopback TCP connection, read from Linux's {@code /proc}: the
 * connection's socket inode from {@code /proc/net/tcp} (and {@code tcp6}), then the process whose file
 * descriptors include that socket. The layer sends no header naming its instance, so this is how a
 * test subscriber tells which layer process made a delivery. Ask while the connection is open (inside
 * the request's handler); the processes must be this user's.
 */
final class SocketOwners {
  /** No candidate holds the connection, or this is not Linux. */
  static final long UNKNOWN = -1;

  private SocketOwners() {}

  /** Whether {@code /proc} can answer on this machine. */
  static boolean available() {
    return Files.isReadable(Path.of("/proc/net/tcp")) && Files.isDirectory(Path.of("/proc/self/fd"));
  }

  /**
   * The pid among {@code pids} holding the socket whose local port is {@code clientPort} and whose peer
   * port is {@code serverPort} (both on this machine), or {@link #UNKNOWN}.
   */
  static long owner(int clientPort, int serverPort, Collection<Long> pids) {
    String inode = inode(clientPort, serverPort);
    if (inode == null) {
      return UNKNOWN;
    }
    String link = "socket:[" + inode + "]";
    for (long pid : pids) {
      try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "fd"))) {
        for (Path fd : fds) {
          try {
            if (Files.readSymbolicLink(fd).toString().equals(link)) {
              return pid;
            }
          } catch (IOException closedMeanwhile) {
            // that descriptor was closed while listed
          }
        }
      } catch (IOException gone) {
        // the process has exited
      }
    }
    return UNKNOWN;
  }

  private static String inode(int localPort, int remotePort) {
    for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
      List<String> lines;
      try {
        lines = Files.readAllLines(Path.of(table));
      } catch (IOException e) {
        continue;
      }
      for (String line : lines.subList(Math.min(1, lines.size()), lines.size())) {
        String[] f = line.trim().split("\\s+");
        // sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode
        if (f.length > 9 && port(f[1]) == localPort && port(f[2]) == remotePort && !"0".equals(f[9])) {
          return f[9];
        }
      }
    }
    return null;
  }

  private static int port(String address) {
    int colon = address.lastIndexOf(':');
    return colon < 0 ? -1 : Integer.parseInt(address.substring(colon + 1), 16);
  }
}
