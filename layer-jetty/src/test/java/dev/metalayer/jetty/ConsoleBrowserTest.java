package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.testing.RecordingSubscriber;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.openqa.selenium.By;
import org.openqa.selenium.Cookie;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The console end to end in a real browser: Debian's headless Chromium driven by Selenium, against the
 * real in-process layer and a real subscriber. One browser session, shared by ordered steps, walks what
 * an operator does: sign in, add a number, create a key and read it once, subscribe, send a test event
 * and see it delivered, replay a failed delivery, read the charts, revoke the key and see it refused, sign out and see the
 * old session refused. The steps take screenshots of the main pages into
 * {@code target/console-screenshots} (the pictures of {@code docs/console.md}).
 *
 * <p>Chromium and chromedriver are found at {@code /usr/bin/chromium} and {@code /usr/bin/chromedriver}
 * (or {@code CHROMIUM} and {@code CHROMEDRIVER}); both paths are given to Selenium, so Selenium Manager
 * never downloads anything. Without them the test skips with one line, but under {@code CI=true} it fails.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ConsoleBrowserTest {
  private static final String PNID = "406540352242922";
  private static final String META_TOKEN = "EAAGbrowserAddedMetaToken0123456789abcdefXYZ";
  private static final Path SCREENSHOTS = Path.of("target", "console-screenshots");

  Path dir;
  Layer layer;
  RecordingSubscriber subscriber;
  WebDriver driver;
  WebDriverWait wait;
  String base;
  String key;
  String sessionCookie;

  @BeforeAll
  void start() throws Exception {
    Optional<String> missing = missingBrowser();
    if (missing.isPresent()) {
      if ("true".equals(System.getenv("CI"))) {
        Assertions.fail("CI=true and " + missing.get() + ": install chromium and chromium-driver (.ci/run does)");
      }
      System.err.println("ConsoleBrowserTest skipped: " + missing.get() + " (apt-get install chromium chromium-driver)");
      Assumptions.abort(missing.get());
    }
    dir = Files.createTempDirectory("console-browser");
    subscriber = RecordingSubscriber.start();
    layer = Layer.start(dir, "http://127.0.0.1:9", Map.of(Option.ALLOWED_TARGET_CIDRS, "127.0.0.0/8"));
    base = layer.server.localUri().toString();
    ChromeDriverService service = new ChromeDriverService.Builder()
        .usingDriverExecutable(new File(chromedriver())).usingAnyFreePort().build();
    ChromeOptions options = new ChromeOptions();
    options.setBinary(chromium());
    options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
        "--window-size=1280,1000", "--no-first-run", "--disable-extensions", "--disable-background-networking",
        "--disable-sync", "--metrics-recording-only", "--disable-default-apps", "--no-default-browser-check");
    driver = new ChromeDriver(service, options);
    driver.manage().timeouts().pageLoadTimeout(Duration.ofSeconds(20)).scriptTimeout(Duration.ofSeconds(20));
    wait = new WebDriverWait(driver, Duration.ofSeconds(20), Duration.ofMillis(50));
    wait.ignoring(org.openqa.selenium.StaleElementReferenceException.class);
    Files.createDirectories(SCREENSHOTS);
  }

  @AfterAll
  void stop() throws Exception {
    if (driver != null) {
      driver.quit();
    }
    if (layer != null) {
      layer.close();
    }
    if (subscriber != null) {
      subscriber.close();
    }
  }

  private static String chromium() {
    return Optional.ofNullable(System.getenv("CHROMIUM")).orElse("/usr/bin/chromium");
  }

  private static String chromedriver() {
    return Optional.ofNullable(System.getenv("CHROMEDRIVER")).orElse("/usr/bin/chromedriver");
  }

  private static Optional<String> missingBrowser() {
    for (String path : List.of(chromium(), chromedriver())) {
      if (!Files.isExecutable(Path.of(path))) {
        return Optional.of("no " + path);
      }
    }
    return Optional.empty();
  }

  @Test
  @Order(1)
  void signsInWithTheAdminToken() throws Exception {
    driver.get(base + "/console");
    WebElement token = wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("token")));
    assertThat(token.getAttribute("type")).isEqualTo("password");
    token.sendKeys("not-the-admin-token");
    token.submit();
    wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("sign-in-error"), "Invalid admin token"));
    screenshot("sign-in");
    driver.findElement(By.id("token")).sendKeys(Layer.ADMIN_TOKEN);
    driver.findElement(By.cssSelector("#sign-in-form button[type=submit]")).click();
    wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("nav")));
    wait.until(d -> d.findElements(By.cssSelector("article.number")).size() == 2);
    assertThat(driver.findElement(By.id("token")).getAttribute("value")).isEmpty();
    Cookie cookie = driver.manage().getCookieNamed(ConsoleHandler.COOKIE);
    assertThat(cookie.isHttpOnly()).isTrue();
    assertThat(cookie.getSameSite()).isEqualTo("Strict");
    assertThat(cookie.getPath()).isEqualTo("/console");
    sessionCookie = cookie.getValue();
    // the browser keeps nothing of the token: no storage, no script-visible cookie
    JavascriptExecutor js = (JavascriptExecutor) driver;
    assertThat(js.executeScript("return document.cookie + JSON.stringify(localStorage) + JSON.stringify(sessionStorage)"))
        .isEqualTo("{}{}");
    assertThat(driver.getPageSource()).doesNotContain(Layer.ADMIN_TOKEN);
  }

  @Test
  @Order(2)
  void addsANumber() {
    driver.findElement(By.cssSelector("details.panel > summary")).click();
    type("phone", "+15550783899");
    type("phone_number_id", PNID);
    type("waba_id", "402290129340398");
    type("business_id", "900000000000004");
    type("meta_token", META_TOKEN);
    driver.findElement(By.cssSelector("#add-number button[type=submit]")).click();
    WebElement card = card();
    assertThat(card.getText()).contains("+15550783899").contains(PNID).contains("402290129340398").contains("900000000000004");
    assertThat(layer.server.layer().keys().findNumber(PNID)).isPresent();
    assertThat(driver.getPageSource()).doesNotContain(META_TOKEN);
  }

  @Test
  @Order(3)
  void createsAKeyAndShowsItOnlyOnce() throws Exception {
    WebElement card = card();
    card.findElement(By.cssSelector(".keys details > summary")).click();
    card.findElement(By.cssSelector(".create-key button[type=submit]")).click();
    WebElement shown = wait.until(ExpectedConditions.visibilityOfElementLocated(By.cssSelector(".once .new-key")));
    key = shown.getText().trim();
    assertThat(key).startsWith("ps_").hasSize(46);
    assertThat(driver.findElement(By.cssSelector(".once")).getText()).contains("shown once");
    assertThat(http("GET", "/v1/webhooks", key).statusCode()).as("the key works").isEqualTo(200);
    driver.findElement(By.cssSelector(".once .done")).click();
    wait.until(ExpectedConditions.invisibilityOfElementLocated(By.cssSelector(".once")));
    wait.until(d -> card().findElements(By.cssSelector(".keys tr[data-key]")).size() == 1);
    assertThat(driver.getPageSource()).doesNotContain(key);
    driver.navigate().refresh();
    wait.until(d -> card().findElements(By.cssSelector(".keys tr[data-key]")).size() == 1);
    assertThat(card().getText()).contains(key.substring(0, 8)).doesNotContain(key.substring(8, 20));
    assertThat(driver.getPageSource()).doesNotContain(key);
  }

  @Test
  @Order(4)
  void createsASubscription() {
    WebElement card = card();
    card.findElement(By.cssSelector(".subscriptions details > summary")).click();
    card.findElement(By.id("name-" + PNID)).sendKeys("Chatwoot");
    card.findElement(By.id("url-" + PNID)).sendKeys(subscriber.url("/chatwoot"));
    card.findElement(By.id("events-" + PNID)).sendKeys("messages, calls");
    card.findElement(By.cssSelector(".create-subscription button[type=submit]")).click();
    wait.until(d -> card().findElements(By.cssSelector(".subscription")).size() == 1);
    assertThat(card().findElement(By.cssSelector(".subscription")).getText()).contains("Chatwoot").contains("messages, calls");
    assertThat(layer.server.layer().relay().subscriptions().list(PNID)).hasSize(1);
  }

  @Test
  @Order(5)
  void sendsATestEventAndSeesItDeliveredInTheLog() throws Exception {
    card().findElement(By.cssSelector(".send-test")).click();
    subscriber.await(1, Duration.ofSeconds(20));
    Dimension desktop = driver.manage().window().getSize();
    driver.manage().window().setSize(new Dimension(1280, 1900)); // the whole page, the new card included
    screenshot("numbers");
    driver.manage().window().setSize(desktop);
    phoneScreenshot("numbers-phone");
    card().findElement(By.cssSelector(".delivery-log")).click();
    awaitRows(rows -> rows.stream().anyMatch(r -> r.getText().contains("delivered")));
    WebElement row = driver.findElement(By.cssSelector("tr.delivery"));
    assertThat(row.getText()).contains("test").contains("delivered");
    assertThat(driver.findElement(By.cssSelector("tr.attempts")).getText()).contains("200").contains(" ms").contains("ok");
  }

  @Test
  @Order(6)
  void replaysADeliveryTheSubscriberFailed() throws Exception {
    // the subscriber fails; a test event has one attempt, so only a replay sends it again
    subscriber.answer(r -> new RecordingSubscriber.Answer(503, Map.of(), "down for maintenance"));
    String subscription = layer.server.layer().relay().subscriptions().list(PNID).get(0).id();
    assertThat(http("POST", "/admin/v1/webhooks/" + subscription + "/test", "admin").statusCode()).isEqualTo(202);
    subscriber.await(2, Duration.ofSeconds(20));
    awaitRows(rows -> rows.stream().anyMatch(r -> r.getText().contains("dead")));
    WebElement failed = driver.findElements(By.cssSelector("tr.delivery")).stream()
        .filter(r -> r.getText().contains("dead")).findFirst().orElseThrow();
    String deliveryId = failed.getAttribute("data-delivery");
    assertThat(driver.findElement(By.id("deliveries")).getText()).contains("503").contains("down for maintenance");
    // the filters: state and field
    new org.openqa.selenium.support.ui.Select(driver.findElement(By.id("filter-state"))).selectByValue("dead");
    driver.findElement(By.id("refresh")).click();
    awaitRows(rows -> rows.size() == 1);
    screenshot("deliveries");
    subscriber.answer(r -> RecordingSubscriber.Answer.of(200));
    driver.findElement(By.cssSelector("tr[data-delivery='" + deliveryId + "'] input.pick")).click();
    driver.findElement(By.id("replay-selected")).click();
    subscriber.await(3, Duration.ofSeconds(20));
    new org.openqa.selenium.support.ui.Select(driver.findElement(By.id("filter-state"))).selectByValue("");
    awaitRows(rows -> rows.stream().filter(r -> r.getText().contains("delivered")).count() == 2);
    assertThat(driver.findElement(By.cssSelector("tr[data-delivery='" + deliveryId + "']")).getText())
        .contains("delivered");
  }

  @Test
  @Order(7)
  void drawsTheChartsOfEachLane() throws Exception {
    driver.findElement(By.cssSelector("#nav a[data-page=charts]")).click();
    WebElement lane = wait.until(ExpectedConditions.visibilityOfElementLocated(By.cssSelector(".lane[data-lane=default]")));
    assertThat(lane.getText()).contains("delivered in the hour: 2");
    assertThat(lane.findElements(By.cssSelector("svg.count rect"))).isNotEmpty();
    assertThat(lane.findElements(By.cssSelector("svg.latency rect"))).isNotEmpty();
    screenshot("charts");
  }

  @Test
  @Order(8)
  void revokesTheKeyAndTheLayerRefusesIt() throws Exception {
    driver.findElement(By.cssSelector("#nav a[data-page=calls]")).click();
    new org.openqa.selenium.support.ui.Select(wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("call-number"))))
        .selectByValue(PNID);
    wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("view"), "No call recorded"));
    driver.findElement(By.cssSelector("#nav a[data-page=numbers]")).click();
    card().findElement(By.cssSelector(".revoke")).click();
    wait.until(d -> card().findElement(By.cssSelector(".keys tr[data-key]")).getText().contains("revoked"));
    assertThat(http("GET", "/v1/webhooks", key).statusCode()).isEqualTo(401);
  }

  @Test
  @Order(9)
  void signsOutAndTheOldSessionIsRefused() throws Exception {
    assertThat(console("/console/api/numbers").statusCode()).isEqualTo(200);
    driver.findElement(By.id("sign-out")).click();
    wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("token")));
    assertThat(driver.findElement(By.id("nav")).isDisplayed()).isFalse();
    assertThat(console("/console/api/numbers").statusCode()).isEqualTo(401);
    assertThat(console("/console/session").statusCode()).isEqualTo(401);
    driver.navigate().refresh();
    wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("token")));
    assertThat(driver.findElements(By.cssSelector("article.number"))).isEmpty();
  }

  // ---- helpers

  private WebElement card() {
    return wait.until(ExpectedConditions.visibilityOfElementLocated(By.cssSelector("article[data-number='" + PNID + "']")));
  }

  private void type(String id, String text) {
    WebElement field = driver.findElement(By.id(id));
    field.clear();
    field.sendKeys(text);
  }

  /** Clicks "Show" until the delivery rows satisfy {@code condition} (a delivery's state is written after its attempt). */
  private void awaitRows(Function<List<WebElement>, Boolean> condition) {
    new WebDriverWait(driver, Duration.ofSeconds(20), Duration.ofMillis(100))
        .withMessage(() -> "the deliveries shown at " + driver.getCurrentUrl() + ": " + driver.findElement(By.id("view")).getText()
            + " (" + driver.findElement(By.id("flash")).getText() + ")").until(d -> {
      List<WebElement> rows = d.findElements(By.cssSelector("tr.delivery"));
      try {
        if (condition.apply(rows)) {
          return true;
        }
      } catch (org.openqa.selenium.StaleElementReferenceException e) {
        // the table was redrawn between the find and the read
      }
      d.findElement(By.id("refresh")).click();
      return false;
    });
  }

  private HttpResponse<String> http(String method, String path, String credential) throws Exception {
    String bearer = credential.equals("admin") ? Layer.ADMIN_TOKEN : credential;
    return layer.send(HttpRequest.newBuilder(URI.create(base + path)).header("Authorization", "Bearer " + bearer)
        .method(method, HttpRequest.BodyPublishers.noBody()));
  }

  private HttpResponse<String> console(String path) throws Exception {
    return layer.send(HttpRequest.newBuilder(URI.create(base + path)).header("Cookie", ConsoleHandler.COOKIE + "=" + sessionCookie));
  }

  private void screenshot(String name) throws IOException {
    ((JavascriptExecutor) driver).executeScript("window.scrollTo(0, 0)");
    File shot = ((TakesScreenshot) driver).getScreenshotAs(OutputType.FILE);
    Files.copy(shot.toPath(), SCREENSHOTS.resolve(name + ".png"), StandardCopyOption.REPLACE_EXISTING);
  }

  private void phoneScreenshot(String name) throws IOException {
    Dimension desktop = driver.manage().window().getSize();
    driver.manage().window().setSize(new Dimension(390, 844));
    try {
      screenshot(name);
      Object overflow = ((JavascriptExecutor) driver).executeScript(
          "return document.documentElement.scrollWidth > window.innerWidth");
      assertThat(overflow).as("the page fits a phone's width").isEqualTo(false);
    } finally {
      driver.manage().window().setSize(desktop);
    }
  }
}
