package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
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
        "64:ff9b:1::a9fe:a9fe", "64:ff9b:1:ffff::808:808", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:1ff::1", "100::1")) {
      assertThat(guard.permits(ip(refused))).as(refused).isFalse();
    }
    for (String allowed : List.of("8.8.8.8", "157.240.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111",
        "::ffff:8.8.8.8", "64:ff9b::808:808", "2001:200::1", "2a03:2880:f12f:83:face:b00c::25de", "101::1")) {
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
}
