package dev.metalayer.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A TCP relay on loopback in front of a real server (the shared PostgreSQL), that a test cuts and
 * restores: {@link #cut()} closes every connection through it and refuses new ones at once (they are
 * accepted and closed); {@link #hang()} keeps every connection open but lets nothing through either way
 * (a server that went silent); {@link #restore()} lets them through again. A database lost and found, without
 * stopping the server other tests share. Close it to stop it.
 */
public final class TcpCut implements AutoCloseable {
  private final ServerSocket server;
  private final String targetHost;
  private final int targetPort;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private volatile boolean cut;
  private volatile boolean hung;

  public TcpCut(String targetHost, int targetPort) throws IOException {
    this.targetHost = targetHost;
    this.targetPort = targetPort;
    this.server = new ServerSocket();
    server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    Thread acceptor = new Thread(this::accept, "tcp-cut-" + port());
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /** In front of the PostgreSQL of {@link TestDatabases#PG_URL}. */
  public static TcpCut beforePostgres() throws IOException {
    java.net.URI uri = java.net.URI.create(TestDatabases.PG_URL.substring("jdbc:".length()));
    return new TcpCut(uri.getHost(), uri.getPort() > 0 ? uri.getPort() : 5432);
  }

  public int port() {
    return server.getLocalPort();
  }

  /** {@code url} (a JDBC URL of the target) through this relay instead. */
  public String through(String url) {
    return url.replaceFirst("//[^/]+/", "//127.0.0.1:" + port() + "/");
  }

  /** Closes every open connection and refuses new ones until {@link #restore()}. */
  public void cut() {
    cut = true;
    for (Socket s : open) {
      closeQuietly(s);
    }
    open.clear();
  }

  /** Keeps every connection open and accepts new ones, but forwards nothing until {@link #restore()}. */
  public void hang() {
    hung = true;
  }

  public void restore() {
    cut = false;
    hung = false;
  }

  private void accept() {
    while (!server.isClosed()) {
      Socket client;
      try {
        client = server.accept();
      } catch (IOException e) {
        return;
      }
      if (cut) {
        closeQuietly(client);
        continue;
      }
      if (hung) {
        open.add(client); // held silent: what it sends is read and dropped
        pump(client, null);
        continue;
      }
      try {
        Socket upstream = new Socket(targetHost, targetPort);
        open.add(client);
        open.add(upstream);
        if (cut) { // cut while this one was being connected: it does not get through either
          closeQuietly(client);
          closeQuietly(upstream);
          open.remove(client);
          open.remove(upstream);
          continue;
        }
        pump(client, upstream);
        pump(upstream, client);
      } catch (IOException e) {
        closeQuietly(client);
      }
    }
  }

  private void pump(Socket from, Socket to) {
    Thread t = new Thread(() -> {
      byte[] buffer = new byte[16 * 1024];
      try (InputStream in = from.getInputStream(); OutputStream out = to == null ? null : to.getOutputStream()) {
        int n;
        while ((n = in.read(buffer)) >= 0) {
          if (out != null && !hung) {
            out.write(buffer, 0, n);
            out.flush();
          }
        }
      } catch (IOException e) {
        // cut, or closed by either side
      } finally {
        closeQuietly(from);
        open.remove(from);
        if (to != null) {
          closeQuietly(to);
          open.remove(to);
        }
      }
    }, "tcp-cut-pump");
    t.setDaemon(true);
    t.start();
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException ignored) {
      // closing
    }
  }

  @Override
  public void close() throws IOException {
    cut();
    server.close();
  }
}
