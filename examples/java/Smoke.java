// A Java client of quota-sidecar: the calls an agent makes around one tool call, each checked.
//
// Build with examples/java/build.sh OUT (stubs from `scripts/gen_stubs.sh OUT/gen java`, Debian's
// grpc-java and protobuf-java jars), then:
//
//   QUOTA_SIDECAR_DATA_TOKEN=... OUT/smoke --target 127.0.0.1:50051 --user alice --tool search
//
// It expects the user to have a $10 daily budget with an 80% alert threshold and the tool a
// limit of 1 request per minute, both unused (the quota file of
// tests/integration/test_other_languages.py). It prints one line per step and exits 1 with a
// message at the first line that differs from the expected one.
import dev.quotasidecar.v1.Alert;
import dev.quotasidecar.v1.AlertKind;
import dev.quotasidecar.v1.CheckQuotaRequest;
import dev.quotasidecar.v1.CheckQuotaResponse;
import dev.quotasidecar.v1.GetUsageRequest;
import dev.quotasidecar.v1.GetUsageResponse;
import dev.quotasidecar.v1.LimitKind;
import dev.quotasidecar.v1.LimitStatus;
import dev.quotasidecar.v1.QuotaServiceGrpc;
import dev.quotasidecar.v1.QuotaServiceGrpc.QuotaServiceBlockingStub;
import dev.quotasidecar.v1.RecordUsageRequest;
import dev.quotasidecar.v1.RecordUsageResponse;
import dev.quotasidecar.v1.Scope;
import dev.quotasidecar.v1.StreamAlertsRequest;
import dev.quotasidecar.v1.StreamAlertsResponse;
import dev.quotasidecar.v1.Subject;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

public final class Smoke {
  private static final long DAILY_LIMIT_NANOS = 10_000_000_000L; // $10: more than an int32 holds
  private static final long ESTIMATE_NANOS = 9_000_000_000L;
  private static final long COST_NANOS = 8_500_000_001L; // odd on purpose: any rounding would show

  private static void fail(String message) {
    System.err.println("java smoke client: " + message);
    System.exit(1);
  }

  // Prints a step's line and stops the client when it is not the expected one.
  private static void expect(String got, String want) {
    System.out.println(got);
    if (!got.equals(want)) {
      fail("got \"" + got + "\", want \"" + want + "\"");
    }
  }

  private static String yes(boolean ok) {
    return ok ? "yes" : "no";
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> options = new HashMap<>(Map.of("--target", "127.0.0.1:50051", "--user", "", "--tool", ""));
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (!options.containsKey(args[i])) {
        fail("unknown option " + args[i]);
      }
      options.put(args[i], args[i + 1]);
    }
    String user = options.get("--user");
    String tool = options.get("--tool");
    String token = System.getenv().getOrDefault("QUOTA_SIDECAR_DATA_TOKEN", "");

    ManagedChannel channel = ManagedChannelBuilder.forTarget(options.get("--target")).usePlaintext().build();
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    QuotaServiceBlockingStub stub =
        QuotaServiceGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
    Subject userSubject = Subject.newBuilder().setScope(Scope.SCOPE_USER).setIdentifier(user).build();
    List<Subject> subjects =
        List.of(userSubject, Subject.newBuilder().setScope(Scope.SCOPE_TOOL).setIdentifier(tool).build());

    // 1. A reserving check: the estimate is held against the daily budget.
    CheckQuotaResponse check = call(stub).checkQuota(CheckQuotaRequest.newBuilder()
        .addAllSubjects(subjects).setEstimatedCostNanos(ESTIMATE_NANOS).setToolName(tool).setReserve(true).build());
    LimitStatus daily = check.getLimitsList().stream()
        .filter(limit -> limit.getLimit() == LimitKind.LIMIT_KIND_COST_DAILY).findFirst().orElse(null);
    if (daily == null) {
      fail("CheckQuota returned no daily cost limit: " + check);
    }
    expect(String.format("check allowed=%b reservation=%s limit_amount=%d held=%d remaining=%d", check.getAllowed(),
            yes(!check.getReservationId().isEmpty()), daily.getLimitAmount(), daily.getHeld(), daily.getRemaining()),
        String.format("check allowed=true reservation=yes limit_amount=%d held=%d remaining=%d", DAILY_LIMIT_NANOS,
            ESTIMATE_NANOS, DAILY_LIMIT_NANOS - ESTIMATE_NANOS));

    // 2. Settle the hold to the actual cost; a retry reuses the idempotency key and counts once.
    RecordUsageRequest record = RecordUsageRequest.newBuilder().addAllSubjects(subjects).setCostNanos(COST_NANOS)
        .setToolName(tool).setIdempotencyKey("settle-" + user).setReservationId(check.getReservationId()).build();
    for (String step : List.of("record recorded=true duplicate=false hold_settled=true",
        "retry recorded=false duplicate=true hold_settled=false")) {
      RecordUsageResponse recorded = call(stub).recordUsage(record);
      expect(String.format("%s recorded=%b duplicate=%b hold_settled=%b", step.split(" ")[0], recorded.getRecorded(),
          recorded.getDuplicate(), recorded.getHoldSettled()), step);
    }

    // 3. The usage holds the exact int64 cost, once, and no hold.
    GetUsageResponse usage = call(stub).getUsage(GetUsageRequest.newBuilder().setSubject(userSubject).build());
    expect(String.format("usage cost_today_nanos=%d held_nanos=%d requests_today=%d", usage.getCostTodayNanos(),
            usage.getHeldNanos(), usage.getRequestsToday()),
        String.format("usage cost_today_nanos=%d held_nanos=0 requests_today=1", COST_NANOS));

    // 4. The tool's one request a minute is used: denied, with when to retry.
    CheckQuotaResponse denied =
        call(stub).checkQuota(CheckQuotaRequest.newBuilder().addAllSubjects(subjects).setToolName(tool).build());
    com.google.protobuf.Duration wait = denied.getRetryAfter();
    boolean waits = (wait.getSeconds() > 0 || wait.getNanos() > 0) && wait.getSeconds() <= 66;
    expect(String.format("denied allowed=%b code=%s subject=%s retry_after=%s", denied.getAllowed(),
            denied.getCode().name(), denied.getDeniedSubject().getIdentifier(), yes(waits)),
        "denied allowed=false code=DENIAL_CODE_RATE_LIMITED subject=" + tool + " retry_after=yes");

    // 5. The 80% alert of the record, replayed from the start of the stream (cursor "0").
    StreamAlertsRequest follow = StreamAlertsRequest.newBuilder().setCursor("0").addIdentifiers(user)
        .addKinds(AlertKind.ALERT_KIND_THRESHOLD_WARNING).build();
    Context.CancellableContext stream = Context.current().withCancellation();
    Alert alert = stream.call(() -> {
      Iterator<StreamAlertsResponse> events = stub.withDeadlineAfter(20, TimeUnit.SECONDS).streamAlerts(follow);
      while (events.hasNext()) {
        StreamAlertsResponse event = events.next();
        if (event.hasAlert()) { // skip heartbeats
          return event.getAlert();
        }
      }
      return null;
    });
    stream.cancel(null); // one alert is all this client wants
    if (alert == null) {
      fail("StreamAlerts ended before an alert");
    }
    expect(String.format("alert kind=%s limit=%s percent=%d used=%d limit_amount=%d", alert.getKind().name(),
            alert.getLimit().name(), alert.getThresholdPercent(), alert.getUsed(), alert.getLimitAmount()),
        String.format("alert kind=ALERT_KIND_THRESHOLD_WARNING limit=LIMIT_KIND_COST_DAILY percent=80 used=%d"
            + " limit_amount=%d", COST_NANOS, DAILY_LIMIT_NANOS));

    // 6. A negative estimate is refused, naming the field.
    Status refusal = Status.OK;
    try {
      call(stub).checkQuota(CheckQuotaRequest.newBuilder().addAllSubjects(subjects).setEstimatedCostNanos(-1).build());
    } catch (StatusRuntimeException e) {
      refusal = e.getStatus();
    }
    String message = refusal.getDescription() == null ? "" : refusal.getDescription();
    expect(String.format("invalid code=%s names_field=%s", refusal.getCode().name(),
            yes(message.contains("estimated_cost_nanos"))),
        "invalid code=INVALID_ARGUMENT names_field=yes");
    System.out.println("ok");
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  // Every unary call gets its own deadline.
  private static QuotaServiceBlockingStub call(QuotaServiceBlockingStub stub) {
    return stub.withDeadlineAfter(10, TimeUnit.SECONDS);
  }
}
