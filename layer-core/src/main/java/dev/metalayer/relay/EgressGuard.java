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
    List<Cidr> cidrs = new ArrayList<>();
    for (String c : allowedCidrs) {
      cidrs.add(Cidr.parse(c));
    }
    return new EgressGuard(allowPrivate, cidrs);
  }

  /** Whether a delivery may connect to {@code address}. */
  public boolean permits(InetAddress address) {
    if (allowPrivate) {
      return true;
    }
    for (Cidr c : allowed) {
      if (c.contains(address)) {
        return true;
      }
    }
    return isPublic(address);
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

  /** Whether {@code a} is a globally routable unicast address. */
  static boolean isPublic(InetAddress a) {
    if (a instanceof Inet4Address) {
      return isPublicV4(a.getAddress());
    }
    byte[] b = a.getAddress();
    if (a instanceof Inet6Address) {
      if (isZero(b, 0, 10) && b[10] == (byte) 0xff && b[11] == (byte) 0xff) {
        return isPublicV4(Arrays.copyOfRange(b, 12, 16)); // IPv4-mapped ::ffff:a.b.c.d
      }
      if ((b[0] & 0xff) == 0x00 && (b[1] & 0xff) == 0x64 && (b[2] & 0xff) == 0xff && (b[3] & 0xff) == 0x9b
          && isZero(b, 4, 12)) {
        return isPublicV4(Arrays.copyOfRange(b, 12, 16)); // NAT64 64:ff9b::/96
      }
      if ((b[0] & 0xe0) != 0x20) {
        // outside global unicast 2000::/3 nothing is routable on the internet: ::, ::1, the deprecated
        // IPv4-compatible ::a.b.c.d and IPv4-translated ::ffff:0:a.b.c.d, local-use NAT64 64:ff9b:1::/48 (any
        // IPv4 address may hide behind it), discard-only 100::/64 and the rest of the reserved space, unique
        // local fc00::/7 (holds fd00:ec2::254), link-local fe80::/10, site-local fec0::/10 and multicast
        return false;
      }
      if ((b[0] & 0xff) == 0x20 && (b[1] & 0xff) == 0x02) {
        return isPublicV4(Arrays.copyOfRange(b, 2, 6)); // 6to4 2002::/16
      }
      if ((b[0] & 0xff) == 0x20 && (b[1] & 0xff) == 0x01 && (b[2] & 0xfe) == 0x00) {
        return false; // IETF protocol assignments 2001::/23 (Teredo 2001::/32 hides an IPv4 address)
      }
      if ((b[0] & 0xff) == 0x20 && (b[1] & 0xff) == 0x01 && (b[2] & 0xff) == 0x0d && (b[3] & 0xff) == 0xb8) {
        return false; // documentation 2001:db8::/32
      }
      if ((b[0] & 0xff) == 0x3f && (b[1] & 0xff) == 0xff && (b[2] & 0xf0) == 0x00) {
        return false; // documentation 3fff::/20 (RFC 9637)
      }
      return true;
    }
    return false;
  }

  private static boolean isPublicV4(byte[] b) {
    int a0 = b[0] & 0xff;
    int a1 = b[1] & 0xff;
    int a2 = b[2] & 0xff;
    return !(a0 == 0 // "this" network
        || a0 == 10 // private
        || a0 == 127 // loopback
        || (a0 == 100 && (a1 & 0xc0) == 64) // CGNAT 100.64/10 (holds 100.100.100.200)
        || (a0 == 169 && a1 == 254) // link-local, cloud metadata
        || (a0 == 172 && (a1 & 0xf0) == 16) // private
        || (a0 == 192 && a1 == 0 && a2 == 0) // IETF protocol assignments
        || (a0 == 192 && a1 == 0 && a2 == 2) // documentation
        || (a0 == 192 && a1 == 168) // private
        || (a0 == 198 && (a1 & 0xfe) == 18) // benchmarking
        || (a0 == 198 && a1 == 51 && a2 == 100) // documentation
        || (a0 == 203 && a1 == 0 && a2 == 113) // documentation
        || a0 >= 224); // multicast, reserved, broadcast
  }

  private static boolean isZero(byte[] b, int from, int to) {
    for (int i = from; i < to; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return true;
  }

  /** An address range, IPv4 or IPv6. */
  record Cidr(byte[] network, int bits) {
    static Cidr parse(String text) {
      String t = text.trim();
      int slash = t.indexOf('/');
      String host = slash < 0 ? t : t.substring(0, slash);
      if (!host.matches("[0-9a-fA-F:.]+")) {
        throw new IllegalArgumentException("not an IP range: " + text);
      }
      byte[] address;
      try {
        address = InetAddress.getByName(host).getAddress();
      } catch (UnknownHostException e) {
        throw new IllegalArgumentException("not an IP range: " + text, e);
      }
      int bits;
      try {
        bits = slash < 0 ? address.length * 8 : Integer.parseInt(t.substring(slash + 1));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("not an IP range: " + text, e);
      }
      if (bits < 0 || bits > address.length * 8) {
        throw new IllegalArgumentException("not an IP range: " + text);
      }
      return new Cidr(address, bits);
    }

    boolean contains(InetAddress a) {
      byte[] b = a.getAddress();
      if (b.length != network.length) {
        return false;
      }
      for (int i = 0; i < bits; i++) {
        int mask = 0x80 >> (i % 8);
        if ((b[i / 8] & mask) != (network[i / 8] & mask)) {
          return false;
        }
      }
      return true;
    }
  }
}
