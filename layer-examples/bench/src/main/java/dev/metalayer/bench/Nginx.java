package dev.metalayer.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * nginx configured to do the proxy's job on the hot path, as an operator would with stock modules:
 * look the {@code ps_…} key up in a {@code map} (401 when unknown), check that the path's Graph object
 * is the key's number (403 otherwise), strip the prefix, put the Meta token in {@code Authorization},
 * and forward over pooled keep-alive connections ({@code proxy_http_version 1.1}, empty
 * {@code Connection}, {@code upstream keepalive}). One worker, no access log.
 *
 * <p>It does less than the layer (no {@code ?access_token=} or form-field keys, no sensitive-node
 * refusals, no media or paging rewriting, no {@code appsecret_proof}); on this route that is the whole
 * job.
 */
final class Nginx {
  private Nginx() {}

  static String config(Path dir, int listenPort, int upstreamPort, String prefix, List<Tenant> tenants, int workers) {
    StringBuilder tokens = new StringBuilder();
    StringBuilder numbers = new StringBuilder();
    for (Tenant t : tenants) {
      tokens.append("    \"Bearer ").append(t.key()).append("\" \"").append(t.metaToken()).append("\";\n");
      numbers.append("    \"Bearer ").append(t.key()).append("\" \"").append(t.phoneNumberId()).append("\";\n");
    }
    String d = dir.toAbsolutePath().toString();
    String quotedPrefix = prefix.replace(".", "\\.");
    return """
        worker_processes %d;
        daemon off;
        pid %s/nginx.pid;
        error_log %s/error.log warn;
        events { worker_connections 4096; }
        http {
          access_log off;
          client_body_temp_path %s/tmp/body;
          proxy_temp_path %s/tmp/proxy;
          fastcgi_temp_path %s/tmp/fastcgi;
          uwsgi_temp_path %s/tmp/uwsgi;
          scgi_temp_path %s/tmp/scgi;
          default_type application/json;
          server_tokens off;
          map_hash_bucket_size 128;
          map $http_authorization $meta_token {
            default "";
        %s  }
          map $http_authorization $key_number {
            default "";
        %s  }
          upstream graph {
            server 127.0.0.1:%d;
            keepalive 64;
          }
          server {
            listen 127.0.0.1:%d backlog=1024;
            location ~ ^%s/+(?:v[0-9]+\\.[0-9]+/)?(?<graph_object>[0-9]+)(?:/|$) {
              if ($meta_token = "") {
                return 401 '{"error":{"message":"Invalid key.","type":"OAuthException","code":190}}';
              }
              if ($key_number != $graph_object) {
                return 403 '{"error":{"message":"Out of scope.","type":"OAuthException","code":200}}';
              }
              rewrite ^%s/+(.*)$ /$1 break;
              proxy_pass http://graph;
              proxy_http_version 1.1;
              proxy_set_header Connection "";
              proxy_set_header Host graph.facebook.com;
              proxy_set_header Authorization "Bearer $meta_token";
            }
            location / {
              return 404 '{"error":{"message":"Unknown path.","code":100}}';
            }
          }
        }
        """
        .formatted(
            workers, d, d, d, d, d, d, d, tokens, numbers, upstreamPort, listenPort, quotedPrefix, quotedPrefix);
  }

  /** Writes the configuration into {@code dir} and starts {@code nginx} in the foreground. */
  static ChildProcess start(Path dir, int listenPort, int upstreamPort, String prefix, List<Tenant> tenants, int workers)
      throws IOException {
    Files.createDirectories(dir.resolve("tmp"));
    Path conf = dir.resolve("nginx.conf");
    Files.writeString(conf, config(dir, listenPort, upstreamPort, prefix, tenants, workers), StandardCharsets.UTF_8);
    String d = dir.toAbsolutePath().toString();
    return ChildProcess.start(
        "nginx",
        List.of("nginx", "-p", d, "-c", conf.toAbsolutePath().toString(), "-e", d + "/error.log"),
        Map.of(),
        dir.resolve("nginx.out"));
  }
}
