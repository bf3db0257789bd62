package dev.metalayer.bench;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Result;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The floor of a Jetty 12 proxy on this machine: the least a Jetty server plus a Jetty
 * {@link HttpClient} can do for the hot path, with the same thread pools as the layer's
 * {@code LayerServer}: look the bearer key up in a map (401 when unknown), check that the path's object
 * is the key's number (403), swap the token, and stream the request and the answer through. No
 * {@code appsecret_proof}, no JSON rewriting, no token scrubbing, no logging.
 *
 * <p>It is not a product: it tells which part of the layer's cost is Jetty's two HTTP stacks and which
 * is the layer's own code. Run as its own process: {@code java -cp … JettyFloor --port N --upstream URL
 * --prefix /api/layer/meta --keys FILE} where each line of {@code FILE} is {@code key token number}.
 */
public final class JettyFloor extends Handler.Abstract {
  private static final Set<String> NOT_FORWARDED =
      Set.of("host", "authorization", "connection", "keep-alive", "proxy-connection", "te", "trailer",
          "transfer-encoding", "upgrade", "content-length");

  private record Grant(String token, String number) {}

  private final HttpClient client;
  private final String upstream;
  private final String prefix;
  private final Map<String, Grant> grants;

  private JettyFloor(HttpClient client, String upstream, String prefix, Map<String, Grant> grants) {
    this.client = client;
    this.upstream = upstream;
    this.prefix = prefix;
    this.grants = grants;
  }

  public static void main(String[] args) throws Exception {
    int port = 0;
    String upstream = null;
    String prefix = "/api/layer/meta";
    Path keys = null;
    for (int i = 0; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--port" -> port = Integer.parseInt(args[i + 1]);
        case "--upstream" -> upstream = args[i + 1];
        case "--prefix" -> prefix = args[i + 1];
        case "--keys" -> keys = Path.of(args[i + 1]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    Map<String, Grant> grants = new HashMap<>();
    for (String line : Files.readAllLines(keys, StandardCharsets.UTF_8)) {
      String[] f = line.trim().split(" ");
      if (f.length == 3) {
        grants.put("Bearer " + f[0], new Grant("Bearer " + f[1], f[2]));
      }
    }
    QueuedThreadPool serverThreads = new QueuedThreadPool(200, 8);
    serverThreads.setName("floor");
    Server server = new Server(serverThreads);
    HttpConfiguration http = new HttpConfiguration();
    http.setSendServerVersion(false);
    ServerConnector connector = new ServerConnector(server, new HttpConnectionFactory(http));
    connector.setHost("127.0.0.1");
    connector.setPort(port);
    server.addConnector(connector);
    QueuedThreadPool clientThreads = new QueuedThreadPool(64, 2);
    clientThreads.setName("floor-upstream");
    HttpClient client = new HttpClient();
    client.setExecutor(clientThreads);
    client.setFollowRedirects(false);
    client.setUserAgentField(null);
    server.addBean(client);
    server.setHandler(new JettyFloor(client, upstream, prefix, Map.copyOf(grants)));
    server.start();
    client.getProtocolHandlers().clear();
    System.out.println("JettyFloor listening on " + connector.getLocalPort());
    server.join();
  }

  @Override
  public boolean handle(Request clientToProxy, Response proxyToClient, Callback callback) {
    String path = clientToProxy.getHttpURI().getPath();
    if (!path.startsWith(prefix + "/")) {
      return error(proxyToClient, callback, 404);
    }
    Grant grant = grants.get(clientToProxy.getHeaders().get(HttpHeader.AUTHORIZATION));
    if (grant == null) {
      return error(proxyToClient, callback, 401);
    }
    String rest = path.substring(prefix.length());
    String[] segments = rest.split("/");
    // "/v13.0/{id}/messages" splits into ["", "v13.0", "{id}", "messages"]
    if (segments.length < 3 || !segments[2].equals(grant.number())) {
      return error(proxyToClient, callback, 403);
    }
    String query = clientToProxy.getHttpURI().getQuery();
    org.eclipse.jetty.client.Request proxyToServer =
        client.newRequest(upstream + rest + (query == null ? "" : "?" + query))
            .method(clientToProxy.getMethod())
            .timeout(30, TimeUnit.SECONDS);
    proxyToServer.headers(h -> {
      for (HttpField f : clientToProxy.getHeaders()) {
        if (!NOT_FORWARDED.contains(f.getLowerCaseName())) {
          h.add(f);
        }
      }
      h.put(HttpHeader.AUTHORIZATION, grant.token());
    });
    long length = clientToProxy.getLength();
    if (length != 0) {
      proxyToServer.body(new org.eclipse.jetty.client.Request.Content() {
        @Override
        public long getLength() {
          return length;
        }

        @Override
        public String getContentType() {
          return clientToProxy.getHeaders().get(HttpHeader.CONTENT_TYPE);
        }

        @Override
        public Content.Chunk read() {
          return clientToProxy.read();
        }

        @Override
        public void demand(Runnable demandCallback) {
          clientToProxy.demand(demandCallback);
        }

        @Override
        public void fail(Throwable failure) {
          clientToProxy.fail(failure);
        }
      });
    }
    proxyToServer.send(new org.eclipse.jetty.client.Response.Listener() {
      @Override
      public void onHeaders(org.eclipse.jetty.client.Response serverToProxy) {
        proxyToClient.setStatus(serverToProxy.getStatus());
        for (HttpField f : serverToProxy.getHeaders()) {
          String name = f.getLowerCaseName();
          if (!NOT_FORWARDED.contains(name) || name.equals("content-length")) {
            proxyToClient.getHeaders().add(f);
          }
        }
      }

      @Override
      public void onContent(org.eclipse.jetty.client.Response serverToProxy, Content.Chunk chunk, Runnable demander) {
        chunk.retain();
        proxyToClient.write(false, chunk.getByteBuffer(), Callback.from(() -> {
          chunk.release();
          demander.run();
        }, failure -> {
          chunk.release();
          serverToProxy.abort(failure);
        }));
      }

      @Override
      public void onComplete(Result result) {
        if (result.isSucceeded()) {
          proxyToClient.write(true, ByteBuffer.allocate(0), callback);
        } else if (!proxyToClient.isCommitted()) {
          error(proxyToClient, callback, 502);
        } else {
          callback.failed(result.getFailure());
        }
      }
    });
    return true;
  }

  private static boolean error(Response response, Callback callback, int status) {
    byte[] body = ("{\"error\":{\"message\":\"floor " + status + "\",\"code\":" + status + "}}").getBytes(StandardCharsets.UTF_8);
    response.setStatus(status);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
    response.write(true, ByteBuffer.wrap(body), callback);
    return true;
  }
}
