package dev.metalayer.graph;

import dev.metalayer.graph.GraphForwarder.UpstreamFailure;
import dev.metalayer.graph.GraphForwarder.GraphRequest;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * What an adapter does next for one Graph request or media download. Every decision is the core's:
 * {@link GraphExchange#start} and {@link MediaDownload#start} give the first step, and each step says
 * what follows it. An adapter only executes steps, moving bytes: it sends a {@link Send}'s request,
 * hands the answer's status and headers to {@link Send#head} and does what the {@link Head} says, or
 * reports a failure to {@link Send#failed}; it writes a {@link Reply} as it is. A chain of steps always
 * ends in a reply or a streamed answer (redirects are bounded).
 */
public sealed interface GraphStep {

  /** Answer the client with {@code answer} (status, headers, whole body); nothing more goes upstream. */
  record Reply(GraphAnswer answer) implements GraphStep {
    public Reply {
      Objects.requireNonNull(answer, "answer");
    }

    static Reply of(GraphError error) {
      return new Reply(GraphAnswer.of(error));
    }
  }

  /** Which of the adapter's upstream connections a request belongs to. */
  enum Upstream {
    /** Graph itself: short requests with the upstream timeout. */
    GRAPH,
    /**
     * A media host (Meta's CDN): bytes that flow at the client's pace, with the media timeout; an
     * adapter keeps these apart from Graph's connections.
     */
    MEDIA_HOST
  }

  /**
   * Send {@link #request()} upstream once, never following a redirect, within
   * {@link GraphRequest#timeout()}; then act on its answer as {@link #head} says, or report a failure to
   * {@link #failed}. Made by the core only.
   */
  final class Send implements GraphStep {
    private final GraphRequest request;
    private final Upstream upstream;
    private final Optional<Supplier<MultipartParts>> clientBody;
    private final BiFunction<Integer, Map<String, List<String>>, Head> onHead;
    private final Function<UpstreamFailure, GraphAnswer> onFailure;
    private final boolean answerMayBlock;

    Send(
        GraphRequest request,
        Upstream upstream,
        Optional<Supplier<MultipartParts>> clientBody,
        BiFunction<Integer, Map<String, List<String>>, Head> onHead,
        Function<UpstreamFailure, GraphAnswer> onFailure) {
      this(request, upstream, clientBody, onHead, onFailure, false);
    }

    Send(
        GraphRequest request,
        Upstream upstream,
        Optional<Supplier<MultipartParts>> clientBody,
        BiFunction<Integer, Map<String, List<String>>, Head> onHead,
        Function<UpstreamFailure, GraphAnswer> onFailure,
        boolean answerMayBlock) {
      this.answerMayBlock = answerMayBlock;
      this.request = Objects.requireNonNull(request, "request");
      this.upstream = Objects.requireNonNull(upstream, "upstream");
      this.clientBody = Objects.requireNonNull(clientBody, "clientBody");
      this.onHead = Objects.requireNonNull(onHead, "onHead");
      this.onFailure = Objects.requireNonNull(onFailure, "onFailure");
    }

    /**
     * Method, URI, headers (the Meta token already in them, the client's credential gone) and the body
     * to send.
     */
    public GraphRequest request() {
      return request;
    }

    /** Where it goes. */
    public Upstream upstream() {
      return upstream;
    }

    /**
     * Present when the client's own body goes upstream in place of {@link GraphRequest#body()}, as it
     * streams (a multipart upload): a fresh checker of its part names, which the adapter feeds every
     * chunk before sending it on. A refusal must fail the upstream body, so that Graph gets an
     * incomplete request and runs nothing, and becomes the client's answer.
     */
    public Optional<Supplier<MultipartParts>> clientBody() {
      return clientBody;
    }

    /** What to do with an answer of {@code status} and {@code headers} (names in any case), before its body. */
    public Head head(int status, Map<String, List<String>> headers) {
      return onHead.apply(status, headers);
    }

    /**
     * The client's answer when the exchange failed before anything reached the client; when Meta
     * could not be reached, the operator is told once at WARN (rate limited).
     */
    public GraphAnswer failed(UpstreamFailure failure) {
      return onFailure.apply(failure);
    }

    /**
     * Whether what follows the answer may block on the layer's store: {@link Head.Buffer#then} and
     * {@link #failed} of a call action or message the {@link CallGuard} is told of, which writes the
     * call record (a store statement may take up to its timeout). An adapter whose HTTP client calls
     * back on its own I/O or selector threads runs these on a thread that may block (its server's
     * pool, as for {@link CallGuard#before}), so that a slow store never stalls the upstream client;
     * the client's answer still follows the write. A non-JSON answer of such an exchange tells the
     * guard at {@link #head} already (a 502, or a 2xx that streams: neither happens with Meta's calls).
     */
    public boolean answerMayBlock() {
      return answerMayBlock;
    }

    @Override
    public String toString() {
      return "Send[" + request + " to " + upstream + "]";
    }
  }

  /** What the adapter does with an upstream answer, decided at its status and headers. */
  sealed interface Head {

    /**
     * Read the whole body, at most {@code maxBytes} (more: report {@link UpstreamFailure#ANSWER_TOO_LARGE}),
     * send nothing yet, and go on with {@link #then} of the body.
     */
    final class Buffer implements Head {
      private final int maxBytes;
      private final Function<byte[], GraphStep> next;

      Buffer(int maxBytes, Function<byte[], GraphStep> next) {
        this.maxBytes = maxBytes;
        this.next = Objects.requireNonNull(next, "next");
      }

      /** The most body bytes to read. */
      public int maxBytes() {
        return maxBytes;
      }

      /** The step that follows, given the whole body. */
      public GraphStep then(byte[] body) {
        return next.apply(body);
      }
    }

    /**
     * Answer the client with {@code status} and {@code headers} at once, then each chunk of the body
     * as it comes through a fresh {@link #scrubber()} (length-preserving), and its
     * {@link TokenScrubber.Stream#finish()} at the end. {@code length}, when present, is the body's
     * exact length (the adapter may announce it); the answer to a {@code HEAD} has none.
     */
    record Stream(int status, Map<String, List<String>> headers, OptionalLong length, TokenScrubber tokenScrubber)
        implements Head {
      public Stream {
        headers = Map.copyOf(headers);
        Objects.requireNonNull(length, "length");
        Objects.requireNonNull(tokenScrubber, "tokenScrubber");
      }

      /** A fresh scrubber for this answer's body. */
      public TokenScrubber.Stream scrubber() {
        return tokenScrubber.stream();
      }

      /** The whole answer, for an adapter that holds the body whole. */
      public GraphAnswer whole(byte[] body) {
        return new GraphAnswer(status, headers, tokenScrubber.redact(body));
      }
    }

    /** Discard the body (none of it reaches the client) and go on with {@code next}. */
    record Then(GraphStep next) implements Head {
      public Then {
        Objects.requireNonNull(next, "next");
      }
    }
  }

}
