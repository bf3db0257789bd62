package dev.metalayer.relay;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Which addresses the relay may deliver to. By default it refuses loopback, private (RFC 1918, ULA),
 * link-local (which holds the cloud metadata address 169.254.169.254), CGNAT (100.64/10), unspecified,
 * multicast, broadcast, documentation and reserved addresses, also when written as IPv4-mapped, NAT64
 * ({@code 64:ff9b::/96}) or 6to4 ({@code 2002::/16}) IPv6 addresses. Of the rest of IPv6 it permits only
 * global unicast ({@code 2000::/3}), and within it not the IETF protocol assignments with Teredo
 * ({@code 2001::/23}), which can hide any IPv4 address, nor documentation: everything outside
 * {@code 2000::/3} (IPv4-compatible and IPv4-translated forms, local-use NAT64 {@code 64:ff9b:1::/48},
 * discard-only {@code 100::/64}, the reserved space) is not routable on the internet. An operator may allow
 * private targets altogether (on-premises Chatwoot) or only some CIDR ranges.
 *
 * <p>The check runs when a subscription is created (on the resolved addresses) and again at connect
 * time in the delivery transports, after DNS resolution, so a name that later resolves elsewhere is
 * still refused. Immutable and thread-safe.
 */
public final class EgressGuard {
  private final boolean allowPrivate;
  private final List<Cidr> allowed;

  private EgressGuard(boolean allowPrivate, List<Cidr> allowed) {
    this.allowPrivate = allowPrivate;
    this.allowed = List.copyOf(allowed);
  }

  /** Public addresses only. The default. */
  public static EgressGuard publicOnly() {
    return new EgressGuard(false, List.of());
  }

  /**
   * @param allowPrivate allow every address (for trials and closed networks)
   * @param allowedCidrs ranges allowed even when not public, e.g. {@code 10.1.2.0/24}
   * @throws IllegalArgumentException for a malformed range
   */
  public static EgressGuard of(boolean allowPrivate, List<String> allowedCidrs) {
    return new EgressGuard(allowPrivate, Cidr.all(allowedCidrs.toArray(String[]::new)));
  }

  /** Whether a delivery may connect to {@code address}. */
  public boolean permits(InetAddress address) {
    return allowPrivate || Cidr.anyContains(allowed, address.getAddress()) || isPublic(address);
  }

  /**
   * Checks a subscription URL: absolute {@code http}/{@code https}, a host, no user info, and (unless
   * private targets are allowed) every address the host resolves to permitted.
   *
   * @return why the URL is refused, in words safe to show the client; empty when it is fine
   */
  public Optional<String> checkUrl(String url) {
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      return Optional.of("url must be an absolute http(s) URL.");
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (!uri.isAbsolute() || !(scheme.equals("http") || scheme.equals("https")) || uri.getHost() == null) {
      return Optional.of("url must be an absolute http(s) URL.");
    }
    if (uri.getRawUserInfo() != null) {
      return Optional.of("url must not contain credentials.");
    }
    if (uri.getRawFragment() != null) {
      return Optional.of("url must not contain a fragment.");
    }
    if (allowPrivate) {
      return Optional.empty();
    }
    InetAddress[] addresses;
    try {
      addresses = InetAddress.getAllByName(hostOf(uri));
    } catch (UnknownHostException e) {
      return Optional.of("url's host does not resolve.");
    }
    for (InetAddress a : addresses) {
      if (!permits(a)) {
        return Optional.of("url resolves to a private, loopback, link-local or reserved address, which is not"
            + " allowed (see LAYER_ALLOW_PRIVATE_TARGETS and LAYER_ALLOWED_TARGET_CIDRS).");
      }
    }
    return Optional.empty();
  }

  /** Resolves {@code host} and keeps only permitted addresses. */
  public List<InetAddress> resolvePermitted(String host) throws UnknownHostException {
    List<InetAddress> out = new ArrayList<>();
    for (InetAddress a : InetAddress.getAllByName(host)) {
      if (permits(a)) {
        out.add(a);
      }
    }
    return out;
  }

  static String hostOf(URI uri) {
    String host = uri.getHost();
    return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
  }

  /** IPv4 ranges that are not routable on the internet, or not meant to be reached from it. */
  private static final List<Cidr> NOT_PUBLIC_V4 = Cidr.all(
      "0.0.0.0/8", // "this" network
      "10.0.0.0/8", // private
      "100.64.0.0/10", // CGNAT (holds 100.100.100.200)
      "127.0.0.0/8", // loopback
      "169.254.0.0/16", // link-local, cloud metadata
      "172.16.0.0/12", // private
      "192.0.0.0/24", // IETF protocol assignments
      "192.0.2.0/24", // documentation
      "192.168.0.0/16", // private
      "198.18.0.0/15", // benchmarking
      "198.51.100.0/24", // documentation
      "203.0.113.0/24", // documentation
      "224.0.0.0/3"); // multicast, reserved, broadcast

  /** IPv6 forms that carry an IPv4 address: each is judged by that address. */
  private static final List<EmbeddedV4> EMBEDDED_V4 = List.of(
      // ::ffff:a.b.c.d: given as bytes, for the JDK reads the text ::ffff:0:0 as the IPv4 address 0.0.0.0
      new EmbeddedV4(new Cidr(new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, 0, 0, 0, 0}, 96), 12),
      new EmbeddedV4(Cidr.parse("64:ff9b::/96"), 12), // NAT64
      new EmbeddedV4(Cidr.parse("2002::/16"), 2)); // 6to4

  /**
   * Global unicast: outside it nothing in IPv6 is routable on the internet: ::, ::1, the deprecated
   * IPv4-compatible ::a.b.c.d and IPv4-translated ::ffff:0:a.b.c.d, local-use NAT64 64:ff9b:1::/48 (any IPv4
   * address may hide behind it), discard-only 100::/64 and the rest of the reserved space, unique local
   * fc00::/7 (holds fd00:ec2::254), link-local fe80::/10, site-local fec0::/10 and multicast.
   */
  private static final Cidr GLOBAL_UNICAST_V6 = Cidr.parse("2000::/3");

  /** The parts of global unicast that are not public. */
  private static final List<Cidr> NOT_PUBLIC_V6 = Cidr.all(
      "2001::/23", // IETF protocol assignments (Teredo 2001::/32 hides an IPv4 address)
      "2001:db8::/32", // documentation
      "3fff::/20"); // documentation (RFC 9637)

  /** Where an IPv6 address of {@code range} carries an IPv4 address. */
  private record EmbeddedV4(Cidr range, int at) {}

  /** Whether {@code a} is a globally routable unicast address. */
  static boolean isPublic(InetAddress a) {
    byte[] b = a.getAddress();
    if (a instanceof Inet4Address) {
      return isPublicV4(b);
    }
    if (a instanceof Inet6Address) {
      for (EmbeddedV4 e : EMBEDDED_V4) {
        if (e.range().contains(b)) {
          return isPublicV4(Arrays.copyOfRange(b, e.at(), e.at() + 4));
        }
      }
      return GLOBAL_UNICAST_V6.contains(b) && !Cidr.anyContains(NOT_PUBLIC_V6, b);
    }
    return false;
  }

  private static boolean isPublicV4(byte[] b) {
    return !Cidr.anyContains(NOT_PUBLIC_V4, b);
  }

  /** An address range, IPv4 or IPv6. */
  record Cidr(byte[] network, int bits) {
    private static final Pattern IPV4 = Pattern.compile("(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})");
    private static final Pattern IPV6 = Pattern.compile("[0-9a-fA-F.:]*:[0-9a-fA-F.:]*");
    private static final Pattern BITS = Pattern.compile("\\d{1,3}");

    /**
     * Reads {@code address/bits}, or an address alone (all its bits). Only literal addresses written in
     * full: an IPv4 address as four decimal octets (the JDK would read {@code 10/8} as {@code 0.0.0.10/8},
     * and a name would be looked up in DNS), and no bits set after the prefix ({@code 10.1.2.77/24} is
     * refused with the range it probably means).
     *
     * @throws IllegalArgumentException with a one-line message naming the text, for anything else
     */
    static Cidr parse(String text) {
      String t = text.trim();
      int slash = t.indexOf('/');
      String host = slash < 0 ? t : t.substring(0, slash);
      byte[] address = literal(host).orElseThrow(() -> new IllegalArgumentException("not an IP range: " + text
          + " (write the address in full, e.g. 10.0.0.0/8 or fd12::/16)"));
      int most = address.length * 8;
      String bitsText = slash < 0 ? null : t.substring(slash + 1);
      int bits = bitsText == null ? most : BITS.matcher(bitsText).matches() ? Integer.parseInt(bitsText) : -1;
      if (bits < 0 || bits > most) {
        throw new IllegalArgumentException("not an IP range: " + text + " (the prefix length must be 0 to " + most
            + ")");
      }
      byte[] network = masked(address, bits);
      if (!Arrays.equals(network, address)) {
        throw new IllegalArgumentException("not an IP range: " + text + " (bits are set after the first " + bits
            + "; did you mean " + literalText(network) + "/" + bits + "?)");
      }
      return new Cidr(network, bits);
    }

    /** The bytes of a literal IPv4 or IPv6 address, never looked up in DNS; empty if {@code host} is not one. */
    private static Optional<byte[]> literal(String host) {
      java.util.regex.Matcher v4 = IPV4.matcher(host);
      if (v4.matches()) {
        byte[] address = new byte[4];
        for (int i = 0; i < 4; i++) {
          int octet = Integer.parseInt(v4.group(i + 1));
          if (octet > 255) {
            return Optional.empty();
          }
          address[i] = (byte) octet;
        }
        return Optional.of(address);
      }
      if (!IPV6.matcher(host).matches()) {
        return Optional.empty();
      }
      try {
        // in brackets the JDK reads the text only as an IPv6 literal, and refuses anything else without DNS
        return Optional.of(InetAddress.getByName("[" + host + "]").getAddress());
      } catch (UnknownHostException e) {
        return Optional.empty();
      }
    }

    private static String literalText(byte[] address) {
      try {
        return InetAddress.getByAddress(address).getHostAddress();
      } catch (UnknownHostException e) {
        throw new IllegalStateException(e); // only for a length other than 4 or 16
      }
    }

    /** {@code address} with every bit after the first {@code bits} cleared. */
    private static byte[] masked(byte[] address, int bits) {
      byte[] out = address.clone();
      for (int i = bits; i < out.length * 8; i++) {
        out[i / 8] &= (byte) ~(0x80 >> (i % 8));
      }
      return out;
    }

    /** Ranges written as text, e.g. {@code 10.0.0.0/8}. */
    static List<Cidr> all(String... texts) {
      return Arrays.stream(texts).map(Cidr::parse).toList();
    }

    static boolean anyContains(List<Cidr> ranges, byte[] address) {
      for (Cidr c : ranges) {
        if (c.contains(address)) {
          return true;
        }
      }
      return false;
    }

    /** Whether {@code b} is in the range: of the same family, and equal to {@code network} once masked. */
    boolean contains(byte[] b) {
      return b.length == network.length && Arrays.equals(masked(b, bits), network);
    }
  }
}
