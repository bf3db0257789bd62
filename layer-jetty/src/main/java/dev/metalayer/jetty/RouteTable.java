package dev.metalayer.jetty;

import dev.metalayer.graph.GraphError;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The routes of one API (method and path template, as {@code docs/openapi.json} writes them), which its
 * handler admits a request through before it does the work: a path of no route is the router's 404
 * {@code Unknown path.}, a path of a route with another method is 405 naming the methods it takes. So a
 * route the handler serves is in its table (else it is unreachable), and {@code OpenApiTest} holds the
 * tables and the document equal.
 *
 * <p>A template's {@code {name}} matches one non-empty segment; {@code {name...}} (last only) matches
 * one or more (a call's {@code wacid} may hold a {@code /}); the document writes it {@code {name}}.
 */
final class RouteTable {
  /** One route: a method and a template under the table's prefix (e.g. {@code /numbers/{phone_number_id}}). */
  record Route(String method, String template) {
    /** The template with its prefix as the API document writes it ({@code {wacid...}} as {@code {wacid}}). */
    String documented(String prefix) {
      return (prefix + template).replace("...}", "}").replaceAll("/$", "");
    }
  }

  private final String prefix;
  private final List<Route> routes = new ArrayList<>();
  private final Map<String, String> refusals = new LinkedHashMap<>();

  RouteTable(String prefix) {
    this.prefix = prefix;
  }

  /** Adds {@code template} for each of {@code methods}. */
  RouteTable on(String template, String... methods) {
    for (String method : methods) {
      routes.add(new Route(method, template));
    }
    return this;
  }

  /** The 405 message of {@code template} for a method it does not take (else "Use GET or POST."). */
  RouteTable refusing(String template, String message) {
    refusals.put(template, message);
    return this;
  }

  String prefix() {
    return prefix;
  }

  List<Route> routes() {
    return List.copyOf(routes);
  }

  /**
   * Whether {@code method} on {@code path} (the whole request path) is a route of the table: empty when
   * it is, else the error to answer (404 for a path of no route, 405 for another method).
   */
  Optional<GraphError> refusal(String method, String path) {
    if (!path.startsWith(prefix)) {
      return Optional.of(GraphError.notFound("Unknown path."));
    }
    List<String> segments = HttpIo.segments(path.substring(prefix.length()));
    Set<String> methods = new LinkedHashSet<>();
    String template = null;
    for (Route route : routes) {
      if (matches(route.template(), segments)) {
        if (route.method().equals(method)) {
          return Optional.empty();
        }
        methods.add(route.method());
        template = route.template();
      }
    }
    if (template == null) {
      return Optional.of(GraphError.notFound("Unknown path."));
    }
    String message = refusals.get(template);
    return Optional.of(GraphError.methodNotAllowed(message != null ? message : "Use " + either(List.copyOf(methods)) + "."));
  }

  private static String either(List<String> methods) {
    if (methods.size() == 1) {
      return methods.get(0);
    }
    return String.join(", ", methods.subList(0, methods.size() - 1)) + " or " + methods.get(methods.size() - 1);
  }

  private static boolean matches(String template, List<String> segments) {
    List<String> parts = HttpIo.segments(template);
    for (int i = 0; i < parts.size(); i++) {
      String part = parts.get(i);
      if (part.startsWith("{") && part.endsWith("...}")) {
        return i == parts.size() - 1 && segments.size() > i;
      }
      if (i >= segments.size() || !part.startsWith("{") && !part.equals(segments.get(i))) {
        return false;
      }
    }
    return parts.size() == segments.size();
  }
}
