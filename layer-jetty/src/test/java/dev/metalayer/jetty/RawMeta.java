package dev.metalayer.jetty;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * A fake Meta on a loopback socket that writes answers byte by byte as a test scripts them (interim
 * answers, encodings, odd header names) and records each request head exactly as it arrived (raw
 * bytes, read as ISO-8859-1). One request per connection; the answer closes it.
 */
final class RawMeta implements AutoCloseable {
  private final ServerSocket socket;
  private final Thread acceptor;
  private final List<String> heads = new CopyOnWriteArrayList<>();
  private volatile Function<String, byte[]> answer;

  /** @param answer from the request head to the whole answer to write (status line, headers, body) */
  RawMeta(Function<String, byte[]> answer) throws IOException {
    this.answer = answer;
    this.socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    this.acceptor = new Thread(this::acceptLoop, "raw-meta");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  String baseUrl() {
    return "http://127.0.0.1:" + socket.getLocalPort();
  }

  void answer(Function<String, byte[]> answer) {
    this.answer = answer;
  }

  /** The request heads received so far, oldest first. */
  List<String> heads() {
    return heads;
  }

  static byte[] bytes(String latin1) {
    return latin1.getBytes(StandardCharsets.ISO_8859_1);
  }

  /** {@code head} (status line and headers, each ending in CRLF, no blank line) then {@code body}. */
  static byte[] answer(String head, byte[] body) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(bytes(head + "Content-Length: " + body.length + "\r\nConnection: close\r\n\r\n"));
    out.writeBytes(body);
    return out.toByteArray();
  }

  private void acceptLoop() {
    while (!socket.isClosed()) {
      try {
        Socket s = socket.accept();
        Thread t = new Thread(() -> serve(s), "raw-meta-conn");
        t.setDaemon(true);
        t.start();
      } catch (IOException e) {
        return;
      }
    }
  }

  private void serve(Socket s) {
    try (s) {
      s.setSoTimeout(10_000);
      InputStream in = s.getInputStream();
      String head = readHead(in);
      heads.add(head);
      int length = contentLength(head);
      if (length > 0) {
        in.readNBytes(length);
      }
      OutputStream out = s.getOutputStream();
      out.write(answer.apply(head));
      out.flush();
      s.shutdownOutput();
      in.readAllBytes(); // until the layer closes its side
    } catch (IOException e) {
      // the layer hung up: nothing to do
    }
  }

  private static String readHead(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    byte[] end = {'\r', '\n', '\r', '\n'};
    int b;
    while (matched < 4 && (b = in.read()) >= 0) {
      head.write(b);
      matched = b == end[matched] ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    return head.toString(StandardCharsets.ISO_8859_1);
  }

  private static int contentLength(String head) {
    for (String line : head.split("\r\n")) {
      if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
        return Integer.parseInt(line.substring("content-length:".length()).trim());
      }
    }
    return 0;
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
