// A C++ client of quota-sidecar: the calls an agent makes around one tool call, each checked.
//
// Build with examples/cpp/build.sh OUT (stubs from `scripts/gen_stubs.sh OUT/gen cpp`, Debian's
// libgrpc++-dev), then:
//
//   QUOTA_SIDECAR_DATA_TOKEN=... OUT/smoke --target 127.0.0.1:50051 --user alice --tool search
//
// It expects the user to have a $10 daily budget with an 80% alert threshold and the tool a
// limit of 1 request per minute, both unused (the quota file of
// tests/integration/test_other_languages.py). It prints one line per step and exits 1 with a
// message at the first line that differs from the expected one.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "quota_sidecar/v1/quota.grpc.pb.h"

namespace v1 = quota_sidecar::v1;

namespace {

constexpr int64_t kDailyLimitNanos = 10'000'000'000;  // $10: more than an int32 holds
constexpr int64_t kEstimateNanos = 9'000'000'000;
constexpr int64_t kCostNanos = 8'500'000'001;  // odd on purpose: any rounding would show

[[noreturn]] void Fail(const std::string& message) {
  std::cerr << "cpp smoke client: " << message << std::endl;
  std::exit(1);
}

// Prints a step's line and stops the client when it is not the expected one.
void Expect(const std::string& got, const std::string& want) {
  std::cout << got << std::endl;
  if (got != want) Fail("got \"" + got + "\", want \"" + want + "\"");
}

std::string Yes(bool ok) { return ok ? "yes" : "no"; }
std::string Bool(bool value) { return value ? "true" : "false"; }

class Call {
 public:
  // Every call carries the data-plane token and a deadline.
  explicit Call(int seconds = 10) {
    const char* token = std::getenv("QUOTA_SIDECAR_DATA_TOKEN");
    context.AddMetadata("authorization", std::string("Bearer ") + (token ? token : ""));
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  }
  grpc::ClientContext context;
};

void Check(const grpc::Status& status, const std::string& what) {
  if (!status.ok()) Fail(what + ": " + status.error_message());
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> options{{"--target", "127.0.0.1:50051"}, {"--user", ""}, {"--tool", ""}};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!options.count(argv[i])) Fail(std::string("unknown option ") + argv[i]);
    options[argv[i]] = argv[i + 1];
  }
  const std::string user = options["--user"], tool = options["--tool"];
  auto stub = v1::QuotaService::NewStub(
      grpc::CreateChannel(options["--target"], grpc::InsecureChannelCredentials()));

  auto add_subjects = [&](auto* request) {
    auto* u = request->add_subjects();
    u->set_scope(v1::SCOPE_USER);
    u->set_identifier(user);
    auto* t = request->add_subjects();
    t->set_scope(v1::SCOPE_TOOL);
    t->set_identifier(tool);
  };

  // 1. A reserving check: the estimate is held against the daily budget.
  v1::CheckQuotaRequest reserving;
  add_subjects(&reserving);
  reserving.set_estimated_cost_nanos(kEstimateNanos);
  reserving.set_tool_name(tool);
  reserving.set_reserve(true);
  v1::CheckQuotaResponse check;
  {
    Call call;
    Check(stub->CheckQuota(&call.context, reserving, &check), "CheckQuota");
  }
  const v1::LimitStatus* daily = nullptr;
  for (const auto& limit : check.limits()) {
    if (limit.limit() == v1::LIMIT_KIND_COST_DAILY) daily = &limit;
  }
  if (daily == nullptr) Fail("CheckQuota returned no daily cost limit: " + check.DebugString());
  Expect("check allowed=" + Bool(check.allowed()) + " reservation=" + Yes(!check.reservation_id().empty()) +
             " limit_amount=" + std::to_string(daily->limit_amount()) + " held=" +
             std::to_string(daily->held()) + " remaining=" + std::to_string(daily->remaining()),
         "check allowed=true reservation=yes limit_amount=" + std::to_string(kDailyLimitNanos) +
             " held=" + std::to_string(kEstimateNanos) +
             " remaining=" + std::to_string(kDailyLimitNanos - kEstimateNanos));

  // 2. Settle the hold to the actual cost; a retry reuses the idempotency key and counts once.
  v1::RecordUsageRequest record;
  add_subjects(&record);
  record.set_cost_nanos(kCostNanos);
  record.set_tool_name(tool);
  record.set_idempotency_key("settle-" + user);
  record.set_reservation_id(check.reservation_id());
  for (const std::string step : {"record recorded=true duplicate=false hold_settled=true",
                                 "retry recorded=false duplicate=true hold_settled=false"}) {
    v1::RecordUsageResponse recorded;
    Call call;
    Check(stub->RecordUsage(&call.context, record, &recorded), "RecordUsage");
    Expect(step.substr(0, step.find(' ')) + " recorded=" + Bool(recorded.recorded()) +
               " duplicate=" + Bool(recorded.duplicate()) + " hold_settled=" + Bool(recorded.hold_settled()),
           step);
  }

  // 3. The usage holds the exact int64 cost, once, and no hold.
  v1::GetUsageRequest usage_request;
  usage_request.mutable_subject()->set_scope(v1::SCOPE_USER);
  usage_request.mutable_subject()->set_identifier(user);
  v1::GetUsageResponse usage;
  {
    Call call;
    Check(stub->GetUsage(&call.context, usage_request, &usage), "GetUsage");
  }
  Expect("usage cost_today_nanos=" + std::to_string(usage.cost_today_nanos()) +
             " held_nanos=" + std::to_string(usage.held_nanos()) +
             " requests_today=" + std::to_string(usage.requests_today()),
         "usage cost_today_nanos=" + std::to_string(kCostNanos) + " held_nanos=0 requests_today=1");

  // 4. The tool's one request a minute is used: denied, with when to retry.
  v1::CheckQuotaRequest again;
  add_subjects(&again);
  again.set_tool_name(tool);
  v1::CheckQuotaResponse denied;
  {
    Call call;
    Check(stub->CheckQuota(&call.context, again, &denied), "CheckQuota");
  }
  const auto& wait = denied.retry_after();
  const bool waits = (wait.seconds() > 0 || wait.nanos() > 0) && wait.seconds() <= 66;
  Expect("denied allowed=" + Bool(denied.allowed()) + " code=" + v1::DenialCode_Name(denied.code()) +
             " subject=" + denied.denied_subject().identifier() + " retry_after=" + Yes(waits),
         "denied allowed=false code=DENIAL_CODE_RATE_LIMITED subject=" + tool + " retry_after=yes");

  // 5. The 80% alert of the record, replayed from the start of the stream (cursor "0").
  v1::StreamAlertsRequest follow;
  follow.set_cursor("0");
  follow.add_identifiers(user);
  follow.add_kinds(v1::ALERT_KIND_THRESHOLD_WARNING);
  v1::Alert alert;
  {
    Call call(20);
    auto reader = stub->StreamAlerts(&call.context, follow);
    v1::StreamAlertsResponse event;
    bool found = false;
    while (!found && reader->Read(&event)) {
      found = event.has_alert();  // skip heartbeats
    }
    if (!found) Fail("StreamAlerts ended before an alert: " + reader->Finish().error_message());
    alert = event.alert();
    call.context.TryCancel();  // one alert is all this client wants
    reader->Finish();
  }
  Expect("alert kind=" + v1::AlertKind_Name(alert.kind()) + " limit=" + v1::LimitKind_Name(alert.limit()) +
             " percent=" + std::to_string(alert.threshold_percent()) + " used=" + std::to_string(alert.used()) +
             " limit_amount=" + std::to_string(alert.limit_amount()),
         "alert kind=ALERT_KIND_THRESHOLD_WARNING limit=LIMIT_KIND_COST_DAILY percent=80 used=" +
             std::to_string(kCostNanos) + " limit_amount=" + std::to_string(kDailyLimitNanos));

  // 6. A negative estimate is refused, naming the field.
  v1::CheckQuotaRequest negative;
  add_subjects(&negative);
  negative.set_estimated_cost_nanos(-1);
  v1::CheckQuotaResponse unused;
  grpc::Status refusal;
  {
    Call call;
    refusal = stub->CheckQuota(&call.context, negative, &unused);
  }
  const std::string code = refusal.error_code() == grpc::StatusCode::INVALID_ARGUMENT
                               ? "INVALID_ARGUMENT"
                               : "code-" + std::to_string(refusal.error_code());
  Expect("invalid code=" + code +
             " names_field=" + Yes(refusal.error_message().find("estimated_cost_nanos") != std::string::npos),
         "invalid code=INVALID_ARGUMENT names_field=yes");
  std::cout << "ok" << std::endl;
  return 0;
}
