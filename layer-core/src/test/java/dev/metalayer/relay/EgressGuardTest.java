package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

class EgressGuardTest {
  private static InetAddress ip(String literal) throws Exception {
    return InetAddress.getByName(literal);
  }

  @Test
  void nonPublicAddressesAreRefusedByDefault() throws Exception {
    EgressGuard guard = EgressGuard.publicOnly();
    for (String refused : List.of("127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
        "169.254.169.254", "100.64.0.1", "100.100.100.200", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::",
        "fe80::1", "fc00::1", "fd00:ec2::254", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1",
        "64:ff9b::a9fe:a9fe", "2002:7f00:0001::1", "ff02::1", "2001:db8::1",
        "64:ff9b:1::a9fe:a9fe", "64:ff9b:1:ffff::808:808", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:1ff::1", "100::1",
        "101::1", "::ffff:0:a00:1", "::fffe:a00:1", "3fff::1", "3fff:fff:ffff::1", "4000::1", "1fff:ffff::1")) {
      assertThat(guard.permits(ip(refused))).as(refused).isFalse();
    }
    for (String allowed : List.of("8.8.8.8", "157.240.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111",
        "::ffff:8.8.8.8", "64:ff9b::808:808", "2001:200::1", "2a03:2880:f12f:83:face:b00c::25de", "2000::1",
        "3ffe:ffff::1", "3fff:1000::1")) {
      assertThat(guard.permits(ip(allowed))).as(allowed).isTrue();
    }
  }

  @Test
  void operatorsMayAllowRangesOrEverything() throws Exception {
    EgressGuard ranges = EgressGuard.of(false, List.of("10.1.2.0/24", "fd12::/16"));
    assertThat(ranges.permits(ip("10.1.2.77"))).isTrue();
    assertThat(ranges.permits(ip("10.1.3.1"))).isFalse();
    assertThat(ranges.permits(ip("fd12:1::5"))).isTrue();
    assertThat(ranges.permits(ip("127.0.0.1"))).isFalse();
    assertThat(EgressGuard.of(true, List.of()).permits(ip("127.0.0.1"))).isTrue();
    assertThatThrownBy(() -> EgressGuard.of(false, List.of("10.0.0.0/33"))).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> EgressGuard.of(false, List.of("example.com/8"))).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void subscriptionUrlsAreCheckedForShapeAndResolvedAddresses() {
    EgressGuard guard = EgressGuard.publicOnly();
    assertThat(guard.checkUrl("http://127.0.0.1:8080/hook")).isPresent();
    assertThat(guard.checkUrl("http://localhost/hook")).isPresent();
    assertThat(guard.checkUrl("http://[::ffff:10.0.0.1]/hook")).isPresent();
    assertThat(guard.checkUrl("http://169.254.169.254/latest/meta-data")).isPresent();
    assertThat(guard.checkUrl("ftp://8.8.8.8/x")).contains("url must be an absolute http(s) URL.");
    assertThat(guard.checkUrl("/relative")).isPresent();
    assertThat(guard.checkUrl("http://user:pw@8.8.8.8/x")).contains("url must not contain credentials.");
    assertThat(guard.checkUrl("https://8.8.8.8/hook")).isEmpty();
    assertThat(EgressGuard.of(true, List.of()).checkUrl("http://localhost:3000/webhooks/whatsapp/+15550783881")).isEmpty();
  }

  @Test
  void theSpecialPurposeIpv4RangesAreRefusedAndTheirNeighboursAllowed() throws Exception {
    EgressGuard guard = EgressGuard.publicOnly();
    // RFC 6890: protocol assignments, documentation (TEST-NET-1/2/3), benchmarking; each range at its edges
    for (String refused : List.of("192.0.0.1", "192.0.0.255", "192.0.2.1", "192.0.2.255", "198.18.0.1",
        "198.19.255.255", "198.51.100.7", "203.0.113.9", "169.254.0.1", "172.16.0.0", "192.168.0.1", "100.127.255.255",
        "0.1.2.3", "10.255.255.255", "127.255.255.254", "240.0.0.1")) {
      assertThat(guard.permits(ip(refused))).as(refused).isFalse();
    }
    // one octet off any special range is an ordinary public address
    for (String allowed : List.of("192.0.1.1", "192.0.3.1", "192.1.0.1", "192.1.2.1", "193.0.0.1", "193.0.2.1",
        "198.17.255.255", "198.20.0.1", "199.18.0.1", "198.51.101.1", "198.52.100.1", "199.51.100.1", "203.0.114.1",
        "203.1.113.1", "204.0.113.1", "169.253.0.1", "169.255.0.1", "170.254.0.1", "171.16.0.1", "172.15.255.255",
        "192.167.0.1", "192.169.0.1", "193.168.0.1", "100.63.255.255", "101.64.0.1", "11.0.0.1", "126.255.255.255",
        "128.0.0.1", "1.0.0.1", "223.255.255.255")) {
      assertThat(guard.permits(ip(allowed))).as(allowed).isTrue();
    }
  }

  @Test
  void ipv6RangesAreRefusedAtTheirEdgesAndTheirNeighboursAllowed() throws Exception {
    EgressGuard guard = EgressGuard.publicOnly();
    for (String refused : List.of("fec0::1", "feff:ffff::1", "febf::1", "100::ffff:ffff:ffff:ffff", "100:0:0:1::1", "2002:a00:1::1",
        "2002:c0a8:101::1", "64:ff9b::c0a8:101")) {
      assertThat(guard.permits(ip(refused))).as(refused).isFalse();
    }
    // global unicast (2000::/3) next to the special ranges: other second bytes, other documentation prefixes,
    // 6to4 of a public address, a NAT64-like prefix that is not 64:ff9b::/96
    for (String allowed : List.of("2a80::1", "2ac0::1", "3001:db8::1", "2003:db8::1", "2001:cb8::1", "2001:db9::1",
        "2002:808:808::1", "2064:ff9b::a00:1", "2000:64:ff9b::a00:1")) {
      assertThat(guard.permits(ip(allowed))).as(allowed).isTrue();
    }
  }

  /**
   * The guard's ranges are tables of text, which mutation testing does not change: so each range is
   * checked here at its first and last address and at the addresses just outside it (a range written one
   * bit too wide or too narrow fails). The IPv6 forms that carry an IPv4 address carry 200.1.1.1 (public,
   * first bit 1) inside the range, and 8.8.8.8 one bit outside it.
   */
  @Test
  void everyRangeOfTheTablesEndsExactlyAtItsEdges() throws Exception {
    EgressGuard guard = EgressGuard.publicOnly();
    List<String> refused = List.of("0.0.0.0", "0.255.255.255", "10.0.0.0", "10.255.255.255", "100.64.0.0",
        "100.127.255.255", "127.0.0.0", "127.255.255.255", "169.254.0.0", "169.254.255.255", "172.16.0.0",
        "172.31.255.255", "192.0.0.0", "192.0.0.255", "192.0.2.0", "192.0.2.255", "192.168.0.0", "192.168.255.255",
        "198.18.0.0", "198.19.255.255", "198.51.100.0", "198.51.100.255", "203.0.113.0", "203.0.113.255",
        "224.0.0.0", "255.255.255.255",
        "1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "4000::", "2001::", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
        "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "3fff::", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff",
        "::fffe:808:808", "64:ff9b::1:808:808", "64:ff9b::a00:0");
    List<String> allowed = List.of("1.0.0.0", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0",
        "126.255.255.255", "128.0.0.0", "169.253.255.255", "169.255.0.0", "172.15.255.255", "172.32.0.0",
        "191.255.255.255", "192.0.1.0", "192.0.1.255", "192.0.3.0", "192.167.255.255", "192.169.0.0",
        "198.17.255.255", "198.20.0.0", "198.51.99.255", "198.51.101.0", "203.0.112.255", "203.0.114.0",
        "223.255.255.255",
        "2000::", "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:200::",
        "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::", "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "3fff:1000::", "64:ff9b::c801:101", "2002:c801:101::", "2003:a00:1::");
    for (String a : refused) {
      assertThat(guard.permits(ip(a))).as(a).isFalse();
    }
    for (String a : allowed) {
      assertThat(guard.permits(ip(a))).as(a).isTrue();
    }
    assertThat(guard.permits(mapped("c8010101"))).as("::ffff:200.1.1.1").isTrue();
  }

  @Test
  void anOperatorsRangeIsALiteralNetworkAddressWrittenInFull() {
    for (String ok : List.of("255.255.255.255/32", "0.0.0.0/0", "::/0", "fd12::/16", "10.0.0.0/8", "192.168.7.7")) {
      assertThat(EgressGuard.of(false, List.of(ok)).permits(ip6OrIp4(ok))).as(ok).isTrue();
    }
    // the JDK reads 10/8 as 0.0.0.10/8 and 192.168/16 as 192.0.0.168/16; a name would be looked up in DNS
    for (String shorthand : List.of("10/8", "192.168/16", "10.1.2/24", "cafe.be/8", "256.0.0.0/8", "1.2.3.256/32",
        "fe80::1%eth0/64", "1:2:3/64", "[fd12::]/16", "10.0.0.0.0/8", "")) {
      assertThatThrownBy(() -> EgressGuard.of(false, List.of(shorthand))).as(shorthand)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("not an IP range: " + shorthand + " (write the address in full, e.g. 10.0.0.0/8 or fd12::/16)");
    }
    assertThatThrownBy(() -> EgressGuard.of(false, List.of("10.0.0.0/+8"))).hasMessage(
        "not an IP range: 10.0.0.0/+8 (the prefix length must be 0 to 32)");
    assertThatThrownBy(() -> EgressGuard.of(false, List.of("::/129"))).hasMessage(
        "not an IP range: ::/129 (the prefix length must be 0 to 128)");
    assertThatThrownBy(() -> EgressGuard.of(false, List.of("10.1.2.77/24"))).hasMessage(
        "not an IP range: 10.1.2.77/24 (bits are set after the first 24; did you mean 10.1.2.0/24?)");
    assertThatThrownBy(() -> EgressGuard.of(false, List.of("10.1.2.129/25"))).hasMessage(
        "not an IP range: 10.1.2.129/25 (bits are set after the first 25; did you mean 10.1.2.128/25?)");
    assertThatThrownBy(() -> EgressGuard.of(false, List.of("fd12::1/16"))).hasMessage(
        "not an IP range: fd12::1/16 (bits are set after the first 16; did you mean fd12:0:0:0:0:0:0:0/16?)");
  }

  private static InetAddress ip6OrIp4(String range) {
    try {
      return ip(range.contains("/") ? range.substring(0, range.indexOf('/')) : range);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  /** Java turns a resolved {@code ::ffff:a.b.c.d} into an Inet4Address; an Inet6Address holding one is judged alike. */
  @Test
  void anIpv4MappedAddressKeptAsIpv6IsJudgedByItsIpv4Address() throws Exception {
    EgressGuard guard = EgressGuard.publicOnly();
    assertThat(guard.permits(mapped("0a000001"))).as("::ffff:10.0.0.1").isFalse();
    assertThat(guard.permits(mapped("a9fea9fe"))).as("::ffff:169.254.169.254").isFalse();
    assertThat(guard.permits(mapped("08080808"))).as("::ffff:8.8.8.8").isTrue();
  }

  private static InetAddress mapped(String v4hex) throws Exception {
    return v6("00000000000000000000ffff" + v4hex);
  }

  private static InetAddress v6(String hex) throws Exception {
    InetAddress a = Inet6Address.getByAddress(null, HexFormat.of().parseHex(hex), -1);
    assertThat(a).isInstanceOf(Inet6Address.class);
    return a;
  }

  @Test
  void allowedRangesMatchExactlyTheirPrefix() throws Exception {
    EgressGuard ranges = EgressGuard.of(false, List.of("10.1.2.128/25", "192.168.7.7", "fd12::/16"));
    assertThat(ranges.permits(ip("10.1.2.200"))).isTrue();
    assertThat(ranges.permits(ip("10.1.2.128"))).isTrue();
    assertThat(ranges.permits(ip("10.1.2.127"))).isFalse();
    assertThat(ranges.permits(ip("10.1.2.0"))).isFalse();
    // a single address, with or without /32
    assertThat(ranges.permits(ip("192.168.7.7"))).isTrue();
    assertThat(ranges.permits(ip("192.168.7.6"))).isFalse();
    assertThat(ranges.permits(ip("192.168.7.8"))).isFalse();
    assertThat(EgressGuard.of(false, List.of("192.168.7.7/32")).permits(ip("192.168.7.7"))).isTrue();
    assertThat(EgressGuard.of(false, List.of("192.168.7.7/32")).permits(ip("192.168.7.15"))).isFalse();
    assertThat(EgressGuard.of(false, List.of("fd12::1/128")).permits(ip("fd12::1"))).isTrue();
    // an IPv4 range never holds an IPv6 address, nor the reverse
    assertThat(EgressGuard.of(false, List.of("0.0.0.0/0")).permits(ip("fd00::1"))).isFalse();
    assertThat(EgressGuard.of(false, List.of("0.0.0.0/0")).permits(ip("10.0.0.1"))).isTrue();
    assertThat(EgressGuard.of(false, List.of("::/0")).permits(ip("10.0.0.1"))).isFalse();
    assertThat(EgressGuard.of(false, List.of(" 10.9.0.0/16 ")).permits(ip("10.9.255.1"))).isTrue();
    for (String bad : List.of("10.0.0.0/-1", "10.0.0.0/x", "10.0.0.0/", "/8", "::/129", ":::/8", "10.0.0.0/8/8")) {
      assertThatThrownBy(() -> EgressGuard.of(false, List.of(bad))).as(bad).isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void subscriptionUrlsWithAFragmentABadSyntaxOrAnUnknownHostAreRefused() {
    EgressGuard guard = EgressGuard.publicOnly();
    assertThat(guard.checkUrl("https://8.8.8.8/hook#part")).contains("url must not contain a fragment.");
    assertThat(guard.checkUrl("http://exa mple.com/hook")).contains("url must be an absolute http(s) URL.");
    assertThat(guard.checkUrl("http:///hook")).contains("url must be an absolute http(s) URL.");
    assertThat(guard.checkUrl("HTTPS://8.8.8.8/hook")).isEmpty();
    assertThat(guard.checkUrl("https://no-such-host.invalid/hook")).contains("url's host does not resolve.");
    assertThat(guard.checkUrl("http://[2606:4700::1111]/hook")).isEmpty();
    assertThat(guard.checkUrl("http://[fd00:ec2::254]/hook")).isPresent();
    // allowing private targets skips resolution, not the shape
    assertThat(EgressGuard.of(true, List.of()).checkUrl("http://127.0.0.1/hook#x")).contains("url must not contain a fragment.");
  }

  @Test
  void theHostOfAUrlIsWithoutTheBracketsOfAnIpv6Literal() {
    assertThat(EgressGuard.hostOf(URI.create("http://[::1]:8080/hook"))).isEqualTo("::1");
    assertThat(EgressGuard.hostOf(URI.create("http://[2606:4700::1111]/hook"))).isEqualTo("2606:4700::1111");
    assertThat(EgressGuard.hostOf(URI.create("http://example.com:8080/hook"))).isEqualTo("example.com");
    assertThat(EgressGuard.hostOf(URI.create("http://8.8.8.8/hook"))).isEqualTo("8.8.8.8");
  }

  @Test
  void resolvingKeepsOnlyPermittedAddresses() throws Exception {
    assertThat(EgressGuard.publicOnly().resolvePermitted("8.8.8.8")).containsExactly(ip("8.8.8.8"));
    assertThat(EgressGuard.publicOnly().resolvePermitted("127.0.0.1")).isEmpty();
    assertThat(EgressGuard.publicOnly().resolvePermitted("169.254.169.254")).isEmpty();
    assertThat(EgressGuard.of(false, List.of("127.0.0.0/8")).resolvePermitted("127.0.0.1")).containsExactly(ip("127.0.0.1"));
  }
}
